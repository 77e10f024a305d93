#pragma once
// The chip backend (DESIGN.md §6): a circuit eqsim generated from a model
// (Circuit::origin) relaxed at model level by circuit::EquivalentCircuit, Gauss-Seidel
// block sweeps on the mismatched node equations (explicit Euler steps of the node
// dynamics when a module couples to itself), instead of integrating the netlist.
// A batch request (spring/nudge source voltages per column, start voltages per unit
// node) becomes the model's clamp and start state; final_V covers every node of
// circuit::node_names(c): unit nodes from the relaxed state, a bilinear coupling's
// projection nodes at their steady values given the units (their start voltages are not
// used: they follow the units), source nodes (spring, nudge, supply) at their sources.
//
// Against the ode backend on the same generated netlist (test_chip_backend: a dense
// 6-7-5 chain, 5 columns, free and nudged; ode at settle_tol 1e-7 V, rel_tol 1e-10):
// every node within 6e-9 v_unit on the ideal circuit, 1.5e-6 at a relative mismatch of
// 0.02 and 4.2e-4 at 0.1 (the remainder of EquivalentCircuit's expansion in the input
// offsets); settle times within 1.3 %; the sampler's circuit in the loop gives the same
// samples within 3e-8 model units.
//
// Settling: status settled when the sweeps converged (max |du| < 1e-3 settle_tol) and
// the node dynamics, integrated by explicit Euler steps of half the fastest node's time
// constant (EquivalentCircuit::settle_time_tau), stay within settle_tol_V of the end
// before the window (t_stop_s, else the netlist's .tran stop) ends; settle_time_s from
// those dynamics. Thermal noise (temperature_K > 0): column j read by a chip model of
// its own (EquivalentCircuit's readout: the linearised circuit's fluctuation, stream
// sub_seed(seed, j)), so a column's reading does not depend on its batch; mean_V is the
// noiseless state, var_V2 column 0's exact linear-noise variance per node (Lyapunov;
// 4000 readings within 3.8 % of it, test_chip_backend).
//
// No trajectory. Source currents are those of the relaxed state; their means and
// energies take that state over the whole window (exact for the supply, whose draws
// are constant current sources; the springs' and nudges' transients are left out).
//
// Limits: a circuit read from a file or changed after it was generated is an InputError.
#include "backend/backend.hpp"

namespace eqsim::backend::chip {

class ChipBackend : public Backend {
 public:
  std::string name() const override;
  std::string version() const override;
  bool batched() const override { return true; }
  bool takes_netlist_files() const override { return false; }
  // One column of batch_relaxer(c).
  RelaxSummary relax(const circuit::Circuit& c, const RelaxOptions& opt) override;
  // All columns in one EquivalentCircuit relaxation.
  std::unique_ptr<BatchRelaxer> batch_relaxer(const circuit::Circuit& c) override;
  // The chip's node equations relaxed directly (circuit::EquivalentCircuit, no netlist),
  // with the sweep budget asked; settle times by Euler steps of the node dynamics
  // (half the fastest node's time constant, at most 0.1 tau). Any network the netlister
  // takes (bilinear, intra-module couplings: those with RelaxMethod::euler).
  std::unique_ptr<ChipRelaxer> chip_relaxer(const ChipSpec& spec) override;
};

}  // namespace eqsim::backend::chip
