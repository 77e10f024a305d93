#pragma once
// The common backend interface (DESIGN.md §6), Ceres style: an options struct
// in, a summary with a status out, a small factory by name. Simulation
// outcomes are statuses; exceptions are for bad input only (InputError).
#include <Eigen/Core>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "circuit/circuit.hpp"
#include "circuit/device_model.hpp"
#include "circuit/equivalent.hpp"
#include "model/network.hpp"
#include "model/relax.hpp"

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
  // A batch relaxer that runs a relaxation again after its engine failed (spice:
  // a worker that crashed or hung) keeps the lost attempt's message here.
  std::string lost_attempt;
};

// A batch of relaxations of one circuit: column j holds the listed voltage sources
// at source_V.col(j) and starts every node from start_V.col(j).
struct BatchRequest {
  std::vector<size_t> sources;  // indices into Circuit::elements of voltage sources to ground
  Eigen::MatrixXd source_V;     // sources.size() x B
  Eigen::MatrixXd start_V;      // circuit::node_names(c).size() x B; empty: the circuit's initial conditions
};

struct BatchSummary {
  std::vector<std::string> nodes;  // circuit::node_names(c): the row order of final_V and start_V
  Eigen::MatrixXd final_V;         // nodes x B; warm-start the next batch from it
  std::vector<RelaxSummary> runs;  // per column: status, settle time, supply (final_V in the backend's order)
};

// Relaxes batches of one prepared circuit (made by Backend::batch_relaxer).
class BatchRelaxer {
 public:
  virtual ~BatchRelaxer() = default;
  // on_relaxed(n) after every n relaxations done. Throws InputError for a request
  // of the wrong shape or a source that is not a grounded voltage source.
  virtual BatchSummary relax(const BatchRequest& req, const RelaxOptions& opt,
                             const std::function<void(long)>& on_relaxed = {}) = 0;
};

// A Monte-Carlo chip of a network (DESIGN.md §6, §11): the network's circuit under a
// device model with the draws of one mismatch seed (circuit::draw_factors, as
// `eqsim netlist --mismatch-seed` builds it), read as `readout` says. What the studies
// relax: sampling, the EP gradient and in-situ training on the chip.
struct ChipSpec {
  const model::Network* net = nullptr;  // must outlive the relaxer; in-situ training rewrites its parameters between calls
  circuit::DeviceModel device_model;
  std::optional<unsigned long long> mismatch_seed;  // none: the ideal circuit
  circuit::ChipReadout readout;
};

// A chip relaxed at model level: states and clamps in model units, as model::relax.
class ChipRelaxer {
 public:
  virtual ~ChipRelaxer() = default;
  // As model::relax on the chip; the relaxed state is then read as ChipSpec::readout
  // says, with thermal noise at opt.temperature (model units, circuit::model_temperature).
  virtual model::RelaxSummary relax(const model::Clamp& clamp, model::State& s, const model::RelaxOptions& opt) = 0;
  // Per column: the time (s) the chip's node dynamics take from `start` until every unit
  // node stays within tol (model units) of its end state; +inf if not within max_time_s.
  virtual Eigen::RowVectorXd settle_time_s(const model::Clamp& clamp, const model::State& start, double tol,
                                           double max_time_s) = 0;
};

// A model::Relaxer calling r, which must outlive it.
model::Relaxer as_relaxer(ChipRelaxer& r);

class Backend {
 public:
  virtual ~Backend() = default;
  // The registry's name (backend/registry.hpp).
  virtual std::string name() const = 0;
  // The engine and its version, e.g. "Boost.Odeint 1.83", "ngspice-39",
  // "eqsim chip model (model level, Gauss-Seidel)".
  virtual std::string version() const = 0;
  // True when a batch relaxes as one (cheap per relaxation); false when each
  // relaxation is a run of its own.
  virtual bool batched() const = 0;
  // False for a backend that relaxes only circuits eqsim generated from a model
  // (Circuit::origin set), not netlists read from a file.
  virtual bool takes_netlist_files() const { return true; }
  // Relaxes c from its initial conditions. Throws InputError for a circuit the
  // backend cannot take (naming file and line; the chip backend takes only circuits
  // eqsim generated, those with a Circuit::origin); everything else is a status.
  virtual RelaxSummary relax(const circuit::Circuit& c, const RelaxOptions& opt) = 0;
  // Prepares c for batches of relaxations (sources and start voltages per column).
  // The default relaxes column after column through relax(), each column's noise
  // stream drawn from opt.seed and the column index; *this must outlive the result.
  virtual std::unique_ptr<BatchRelaxer> batch_relaxer(const circuit::Circuit& c);
  // The chip `spec` describes, relaxed by this backend. The default netlists the network
  // (again whenever its parameters, the nudge or the bias-table level change) and
  // relaxes the netlist through batch_relaxer until it settles, whatever the sweep budget
  // of the model-level options; readings as ChipSpec::readout says (repeats are further
  // windows of repeat_interval_tau, each quantised). Visible units cannot be held
  // (Clamp::hold_visible: InputError). The chip backend relaxes the node equations
  // directly, with the budget asked: the studies' fast path.
  virtual std::unique_ptr<ChipRelaxer> chip_relaxer(const ChipSpec& spec);
};

// InputError unless req fits c (nodes: circuit::node_names(c)).
void check_batch_request(const circuit::Circuit& c, const std::vector<std::string>& nodes, const BatchRequest& req);

// A well-mixed stream number for (seed, index) (splitmix64 finaliser): per-column
// noise streams of a batch.
unsigned long long sub_seed(unsigned long long seed, unsigned long long index);

}  // namespace eqsim::backend
