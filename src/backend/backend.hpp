#pragma once
// The common backend interface (DESIGN.md §6), Ceres style: an options struct
// in, a summary with a status out, a small factory by name. Simulation
// outcomes are statuses; exceptions are for bad input only (InputError).
#include <Eigen/Core>
#include <memory>
#include <string>
#include <vector>

#include "circuit/circuit.hpp"

namespace eqsim::backend {

enum class Status { settled, not_settled, numerical_failure, backend_error };
std::string to_string(Status s);

struct RelaxOptions {
  double t_stop_s = 0;            // 0: the netlist's .tran stop time, else 50 slowest RC time constants
  bool stop_when_settled = true;  // deterministic runs may stop early once settled (ode backend)
  double settle_tol_V = 1e-4;     // settled: every node within this of its final value
  double temperature_K = 0;       // > 0: thermal noise on (4kTG, 4kT gamma gm)
  unsigned long long seed = 1;    // noise stream (mismatch has its own, in the netlist)
  double rel_tol = 1e-8;          // integrator relative tolerance
  double abs_tol_V = 1e-10;       // integrator absolute tolerance
  double sample_dt_s = 0;         // output grid / spice max step; 0: fastest RC time constant / 20
  double noise_dt_s = 0;          // Euler-Maruyama step and noise interval (spice trrandom); 0: fastest RC / 50
  double steady_start_s = -1;     // noisy runs: statistics over t >= this; < 0: half the run
  int max_trajectory_points = 500;  // decimation of the returned trajectory
};

// One voltage source of the circuit over a run. The current is the one leaving
// its + terminal into the circuit (minus ngspice's branch current), so the
// energy it delivered is value_V times its integral: positive when it drives the
// circuit, negative when the circuit drives it.
struct SourceSummary {
  std::string name;     // as written in the netlist
  double value_V = 0;   // V(+) - V(-)
  bool supply = false;  // the circuit's supply (every transconductor's bias)
  double current_final_A = 0, current_mean_A = 0, energy_J = 0;
};

struct RelaxSummary {
  Status status = Status::backend_error;
  std::string message;
  std::string backend;                     // name and version
  bool noisy = false;
  double t_end_s = 0;
  double settle_time_s = 0;                // first time after which every node stays within tol of final
  std::vector<std::string> nodes;          // every non-ground node (order is the backend's)
  Eigen::VectorXd final_V;                 // per node
  Eigen::VectorXd mean_V, var_V2;          // noisy runs: over the steady-state part (else empty)
  std::vector<double> t_s;                 // decimated trajectory
  Eigen::MatrixXd trajectory_V;            // t_s.size() x nodes.size()
  std::vector<double> supply_current_A;    // at t_s (current delivered by the supply)
  double supply_V = 0;
  double supply_current_final_A = 0, supply_current_mean_A = 0, supply_energy_J = 0;
  std::vector<SourceSummary> sources;      // every voltage source, in netlist order
};

class Backend {
 public:
  virtual ~Backend() = default;
  // "ode" or "spice".
  virtual std::string name() const = 0;
  // The engine and its version, e.g. "Boost.Odeint 1.83", "ngspice-39".
  virtual std::string version() const = 0;
  // Relaxes c from its initial conditions. Throws InputError for a circuit the
  // backend cannot take (naming file and line); everything else is a status.
  virtual RelaxSummary relax(const circuit::Circuit& c, const RelaxOptions& opt) = 0;
};

// "ode" or "spice"; throws InputError for another name.
std::unique_ptr<Backend> make_backend(const std::string& name);

}  // namespace eqsim::backend
