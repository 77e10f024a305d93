#pragma once
// The trained model's own circuit on every circuit backend (DESIGN.md §6, the run's
// cross-check): the ideal circuit netlisted from a model folder relaxes at `points`
// sampler inputs on each backend, through the same circuit-in-the-loop velocity the
// sampler reads (study/circuit_velocity.hpp), and each backend's velocity is compared
// with the ideal network's at its converged equilibrium and with the first backend's.
// The inputs are what the sampler meets half way: flow models x_t = (x0 + x1)/2 with
// x0 ~ N(0, I) and x1 a digit; diffusion models a digit plus noise at the middle level.
// Differences are stated as the visible units' equilibrium, x* = x + v/(alpha lambda),
// in model units (1 model unit = v_unit_V).
//
// Every backend relaxes for the same window from the same start (x, hidden nodes at 0),
// so the backends' difference is the engines' alone, while the difference from the
// ideal network also holds what the window leaves unsettled (not_settled says so).
// Cost, measured on the default run's 64-128-128 circuit (24,600 transconductors): a
// 40 tau window takes ngspice 44 s and the ode backend 0.15 s per input, and the two agree
// to 1e-6 model units; the run's default is one input, 40 tau.
#include <string>
#include <vector>

#include "study/results.hpp"

namespace eqsim::study {

struct CircuitCheckOptions {
  std::string model_dir;                            // energy-network folder
  std::string data_path;                            // digits ("" : the cache)
  std::string device_model;                         // device-model YAML of the circuit
  std::vector<std::string> backends{"ode", "spice"};  // registry names; the first is the reference
  int points = 1;                                   // sampler inputs relaxed on each backend
  double window_tau = 40;                           // relaxation window, node time constants (same on every backend)
  unsigned long long seed = 0;                      // the inputs' draw
  // InputError (naming the option) for an unknown backend, no backend, points < 1 or a
  // window that is not positive.
  void validate() const;
};

// Runs the check; progress on stderr. A relaxation that fails throws SimulationOutcome.
CircuitCheckSummary circuit_check(const CircuitCheckOptions& opt);

// The table as CSV and back (the run's circuit_check.csv; read_circuit_check_csv throws
// InputError naming the file for anything else).
std::string circuit_check_csv(const CircuitCheckSummary& s);
CircuitCheckSummary read_circuit_check_csv(const std::string& path);

}  // namespace eqsim::study
