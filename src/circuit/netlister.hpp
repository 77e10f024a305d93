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

// What the netlister drew for every device of a dense inter-module network, by model
// index, so that a model-level relaxation can reproduce the mismatched circuit
// (circuit/equivalent.hpp). Factors multiply the ideal values; offsets are in model
// units (V / v_unit_V). Bilinear and intra-module couplings keep the ideal entries.
struct DeviceFactors {
  struct Module {
    Eigen::VectorXd cap, leak;  // capacitor, leak conductance
  };
  struct Coupling {  // into p from q (n_p x n_q) and into q from p (n_q x n_p)
    Eigen::MatrixXd gain_into_p, offset_into_p, gain_into_q, offset_into_q;
  };
  std::vector<Module> modules;
  std::vector<Coupling> couplings;
  Eigen::VectorXd spring, nudge;  // per visible unit: spring conductance, nudge transconductance
};

// All ones, zero offsets: the ideal circuit.
DeviceFactors ideal_factors(const model::Network& net);

// The circuit of net under dm; fills *factors when given. Throws InputError for
// options of the wrong size.
Circuit build_circuit(const model::Network& net, const DeviceModel& dm, const NetlistOptions& opt,
                      DeviceFactors* factors = nullptr);

// Node name of unit i of module m: "<module>_<i>" (lower-case).
std::string unit_node(const model::Network& net, int m, int i);

}  // namespace eqsim::circuit
