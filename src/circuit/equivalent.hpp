#pragma once
// A mismatched circuit as a model-level system (DESIGN.md §5, §6): the node equations
// of the netlister's circuit in model units u = V / v_unit_V, time in tau_s,
//   c_i du_i/dt = -G l_i u_i + sum_j W_ij g_ij rho(u_j - o_ij) + b_i [+ spring, nudge],
// with the factors drawn for every device (DeviceFactors: capacitor c, leak l, gain g,
// input offset o, spring s, nudge n). For tanh inputs rho(u - o) is expanded to second
// order in the offset, tanh(u - o) = a - o(1 - a^2) - o^2 a(1 - a^2) + O(o^3), so a
// sweep is three GEMMs per coupling direction instead of one tanh per device; identity
// inputs are exact. Checked against the ode backend on the same netlist (tests).
//
// Without mismatch W_ij g_ij = W_ji g_ji and the system is the energy network; with it
// the couplings are no longer symmetric and there is no energy: block relaxation is
// then Gauss-Seidel on the node equations (each module solved given the others).
//
// Thermal noise (RelaxOptions::temperature > 0, in model units, circuit::model_temperature):
// the relaxed state is read as an instantaneous sample-and-hold would, each node with
// independent Gaussian noise of variance T g_noise,i / (c_i g_restore,i): the kT/C of
// the node's own restoring conductance (leak, spring), raised by the noise of the
// transconductors driving it (PSD 4kT gamma gm, as the ode backend injects it). This
// ignores the feedback through the couplings: against the ode backend's measured node
// variances it is within a factor of 3 (test_circuit: worst node 2.7x), an order of
// magnitude, not a noise analysis.
//
// Dense inter-module couplings only (FlowEqProp); other couplings throw InputError.
#include <Eigen/Core>
#include <vector>

#include "circuit/netlister.hpp"
#include "model/network.hpp"
#include "model/relax.hpp"

namespace eqsim::circuit {

// How the chip reads a relaxed state (the readout the energy ledger pays for): each of
// `repeats` readings of a node carries its own thermal noise (at the relaxation's
// temperature) and is quantised by an ADC of adc_bits over [-full_scale_model,
// full_scale_model] (model units; codes clipped at the ends); the mean of the readings
// is returned. adc_bits 0: no quantisation. The mean of `repeats` noisy readings has
// 1/repeats of one reading's noise variance (test_circuit).
struct ChipReadout {
  int repeats = 1;
  int adc_bits = 0;
  double full_scale_model = 2.0;
};

class EquivalentCircuit {
 public:
  // net must outlive *this; its parameters may change between calls (in-situ training).
  EquivalentCircuit(const model::Network& net, DeviceFactors factors, double noise_gamma, ChipReadout readout = {});

  // As model::relax, on the mismatched circuit; the relaxed state is then read as
  // ChipReadout says (noise from stream opt.noise_seed when temperature > 0).
  model::RelaxSummary relax(const model::Clamp& clamp, model::State& s, const model::RelaxOptions& opt) const;

  // Per sample: the time (in tau_s) the node dynamics take from `start` until every
  // node stays within tol of the end state, integrated by Euler steps of dt for at
  // most max_time; samples not settled by then get +inf.
  Eigen::RowVectorXd settle_time_tau(const model::Clamp& clamp, const model::State& start, double tol, double dt,
                                     double max_time) const;

  // Per module, per node: the reading-noise variance (model units^2) at temperature T.
  std::vector<Eigen::VectorXd> reading_variance(const model::Clamp& clamp, double temperature) const;

 private:
  const model::Network& net_;
  DeviceFactors f_;
  double noise_gamma_;
  ChipReadout readout_;
};

}  // namespace eqsim::circuit
