#pragma once
// Network -> circuit (DESIGN.md §5). Node voltages are V = v_unit_V * u, so the
// ideal circuit (no mismatch) has exactly the trainer's equilibrium:
//   per node a capacitor c_node_F and a leak G*g_unit to ground;
//   per directed coupling W_ij a transconductor (B-source) into i,
//     I = W_ij g_unit v_unit tanh(V_j / v_unit) (I = W_ij g_unit V_j for identity units);
//   per bias a current source b_i g_unit v_unit;
//   spring: a resistor lambda*G*g_unit to a source at x_t v_unit;
//   nudge: a G element (any sign) of nudge_g*g_unit to a source at the target;
//   bilinear U V^T: 2r linear projection nodes (U^T a_p, V^T a_q) and transconductors back;
//   supply: a source VDD from which every transconductor draws its bias current.
#include <Eigen/Core>
#include <optional>
#include <string>
#include <vector>

#include "circuit/circuit.hpp"
#include "circuit/device_model.hpp"
#include "model/network.hpp"

namespace eqsim::circuit {

struct NetlistOptions {
  std::optional<unsigned long long> mismatch_seed;  // none: the ideal circuit
  Eigen::VectorXd spring_target;   // x_t in model units (n_visible); empty: zeros
  double nudge_g = 0;              // nudge conductance in model units, as model::Clamp::nudge_g (may be negative); 0: none
  Eigen::VectorXd nudge_target;    // model units (n_visible), needed when nudge_g != 0
  Eigen::VectorXd initial_u;       // every unit, modules in order (model units); empty: x at x_t, hidden at 0
  std::string model_name = "in-memory network";
  double t_stop_s = 0;             // .tran stop time; 0: 200 node time constants (coupled modes are slower)
  int condition_level = -1;        // column of the bias tables added to the bias currents (needed iff the net has tables)
};

// What was drawn for every device of a network's circuit, by model index. Factors
// multiply the ideal values; offsets are in model units (V / v_unit_V). One function
// draws them (draw_factors) and the netlister builds from them, so the chip model
// (circuit/equivalent.hpp) and the netlist of a seed are the same chip.
struct DeviceFactors {
  struct Module {
    Eigen::VectorXd cap, leak;  // capacitor, leak conductance
  };
  struct Coupling {
    // Dense: into p from q (n_p x n_q) and into q from p (n_q x n_p). Intra-module
    // (p == q): into_p only, one device per ordered pair i != j (diagonal unused).
    Eigen::MatrixXd gain_into_p, offset_into_p, gain_into_q, offset_into_q;
    // Bilinear U V^T of rank r: projection nodes pu_k (holding U^T a_p) and pv_k (V^T a_q),
    // their capacitor and leak; transconductors into pu_k from p_i (n_p x r), from pu_k
    // into q_j (n_q x r), into pv_k from q_j (n_q x r), from pv_k into p_i (n_p x r).
    Eigen::VectorXd cap_pu, leak_pu, cap_pv, leak_pv;
    Eigen::MatrixXd gain_to_pu, offset_to_pu, gain_pu_to_q, offset_pu_to_q;
    Eigen::MatrixXd gain_to_pv, offset_to_pv, gain_pv_to_p, offset_pv_to_p;
  };
  std::vector<Module> modules;
  std::vector<Coupling> couplings;
  Eigen::VectorXd spring, nudge;  // per visible unit: spring conductance, nudge transconductance
};

// All ones, zero offsets: the ideal circuit.
DeviceFactors ideal_factors(const model::Network& net);

// Every device's draw for mismatch seed `seed` under dm (MismatchSampler), in the
// netlister's device order: unit nodes module by module, then couplings in order
// (bilinear: projection nodes, then their transconductors; dense: per (i, j) both
// directions), then per visible unit its spring and nudge. Every device is drawn
// whatever the weights, so a seed is one chip.
DeviceFactors draw_factors(const model::Network& net, const DeviceModel& dm, unsigned long long seed);

// What each element of a netlisted circuit is for (indices into Circuit::elements),
// so that no caller finds elements by their names.
struct CircuitMap {
  std::vector<std::vector<std::string>> unit_nodes;  // per module, per unit
  // Per bilinear coupling in order, two groups: its projection nodes pu_k (holding U^T a_p),
  // then pv_k (V^T a_q): the order of EquivalentCircuit::with_projections.
  std::vector<std::vector<std::string>> projection_nodes;
  std::vector<size_t> spring_sources, spring_resistors;  // per visible unit (empty without a spring)
  std::vector<size_t> nudge_sources, nudge_elements;     // per visible unit (empty without a nudge)
  size_t supply = 0;                                     // the VDD source
};

// What a generated circuit was built from (Circuit::origin): enough to relax it at
// model level (circuit/equivalent.hpp) and to map the result back onto its nodes.
struct CircuitOrigin {
  model::Network net;        // a copy: the parameters as netlisted
  DeviceFactors factors;     // the draws the circuit was built from
  CircuitMap map;
  DeviceModel device_model;  // scales (v_unit_V, tau_s), noise gamma
  double nudge_g = 0;        // NetlistOptions::nudge_g (model units)
  int condition_level = -1;  // bias-table column the bias sources carry (-1: none)
  size_t element_count = 0;  // elements as netlisted
};

struct Netlist {
  Circuit circuit;
  CircuitMap map;
  DeviceFactors factors;  // the draws the circuit was built from
};

// The circuit of net under dm with its element map and device draws. Throws
// InputError for options of the wrong size.
Netlist netlist_network(const model::Network& net, const DeviceModel& dm, const NetlistOptions& opt);

// netlist_network(...).circuit.
Circuit build_circuit(const model::Network& net, const DeviceModel& dm, const NetlistOptions& opt);

// Node name of unit i of module m: "<module>_<i>" (lower-case).
std::string unit_node(const model::Network& net, int m, int i);

}  // namespace eqsim::circuit
