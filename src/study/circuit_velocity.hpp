#pragma once
// Circuit in the loop (DESIGN.md §3, §5, §6): the sampler's velocity read from a
// relaxation of the generated circuit instead of the ideal model::relax. For
// every Euler step the spring sources xt_i of each sample (each column of x)
// are set to v_unit_V * x, the circuit relaxes warm-started from the previous
// step's node voltages (mismatch is baked into the circuit from its seed;
// optional thermal noise), and the velocity is
//   v = alpha * lambda * (V(x_i) / v_unit_V - x).
// V(x_i) is the node voltage at the end of the relaxation window (with noise: an
// instantaneous reading, as a sample-and-hold would take it). Every relaxation
// goes through the backend's batch relaxer (backend::BatchRelaxer): ode relaxes
// all samples as one batch, spice runs ngspice once per sample, the samples in
// parallel on its workers (a relaxation a worker failed runs again once).
//
// A diffusion model (bias tables, DESIGN.md §4) is conditioned on the noise level:
// the circuit's bias sources carry the table column of the level (NetlistOptions::
// condition_level), so the circuit is rebuilt whenever the level changes, keeping
// the node voltages (as re-setting the bias DACs between two relaxations would).
#include <Eigen/Core>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "circuit/device_model.hpp"
#include "learn/sampler.hpp"
#include "model/network.hpp"

namespace eqsim::study {

// Relaxation window per velocity when none is given, in node time constants
// tau_s = c_node_F / g_unit_siemens. Deterministic ode runs stop as soon as
// every sample has settled; spice and noisy runs always use the full window.
inline constexpr double default_relax_tau = 400;

// A noiseless relaxation that reached its final voltages only in the last 10 % of
// the window counts as not settled: the backend's drift test looks one node time
// constant ahead, and slower coupled modes cut off by the window pass it (measured
// on a FlowEqProp model: settle times up to 300 tau, and a 200 tau window left
// 1.2e-4 model units of error while every relaxation reported settled).
inline constexpr double late_settle_fraction = 0.9;

// Settling record of a run: every relaxation (one per sample per velocity) and, per
// velocity evaluation (Euler step), how many did not settle and the slowest settle time.
struct SettleStats {
  long relaxations = 0;
  long settled = 0;
  long not_settled = 0;           // including the late ones
  long settled_late = 0;          // settled after late_settle_fraction of the window
  double settle_time_sum_s = 0;  // over settled relaxations
  double settle_time_max_s = 0;
  long backend_errors = 0;        // relaxations lost to a failed spice worker, each run again on a fresh one
  std::string first_backend_error;
  std::vector<long> not_settled_per_step;
  std::vector<double> settle_time_max_per_step_s;
};

struct CircuitVelocityOptions {
  std::string backend = "ode";                      // a name from backend::backend_names()
  circuit::DeviceModel device_model;                // validated by build_circuit
  std::optional<unsigned long long> mismatch_seed;  // none: the ideal circuit
  double temperature_K = 0;                         // > 0: thermal noise (4kTG, 4kT gamma gm)
  unsigned long long noise_seed = 1;                // each relaxation draws its own stream from it
  double relax_time_s = 0;                          // window per velocity; 0: default_relax_tau * tau_s
  double settle_tol_V = 0;                          // 0: 1e-4 model units (1e-4 * v_unit_V)
  // Progress: called after each batch of relaxations with the number relaxed so far and
  // the statistics of the completed velocity evaluations.
  std::function<void(long, const SettleStats&)> on_relaxed;
};

class CircuitVelocity {
 public:
  // Builds the circuit of net (spring readout; dense and bilinear couplings) under
  // opt; net must outlive *this. Throws InputError naming --backend for an unknown
  // backend (the registry's) and the device model's file for a bad device model.
  CircuitVelocity(const model::Network& net, CircuitVelocityOptions opt);
  ~CircuitVelocity();
  CircuitVelocity(const CircuitVelocity&) = delete;
  CircuitVelocity& operator=(const CircuitVelocity&) = delete;

  // v at points x (n_visible x B) with the bias tables at column `level` (-1 for a
  // net without tables; in [0, levels) for one with them, else InputError). Warm-started
  // from the last call when B is unchanged, else from x with every hidden node at 0. A
  // relaxation that does not settle is counted and its final voltages are used; a
  // numerical failure or a backend error throws SimulationOutcome (there is no
  // velocity to read).
  Eigen::MatrixXd operator()(const Eigen::MatrixXd& x, int level = -1);

  // A VelocityField (flow models) or LevelVelocity (diffusion models: wrap it in
  // learn::spring_score) calling *this, which must outlive it.
  learn::VelocityField field();
  learn::LevelVelocity level_field();

  const SettleStats& stats() const { return stats_; }
  // Backend name and engine version ("" before the first relaxation).
  const std::string& backend_version() const { return backend_version_; }
  double relax_time_s() const { return relax_time_s_; }
  // Whether the backend relaxes a batch as one (else one run per sample).
  bool batched() const { return backend_->batched(); }
  double settle_tol_V() const { return settle_tol_V_; }
  // Elements of the circuit (for cost warnings).
  long element_count() const { return element_count_; }


 private:
  // Netlists the circuit with the bias tables at column level (-1: none) and prepares it on the backend.
  void set_circuit(int level);
  // Adds one velocity evaluation's relaxations to stats_; throws SimulationOutcome on a failed one.
  void record(const std::vector<backend::RelaxSummary>& out);

  const model::Network& net_;
  CircuitVelocityOptions opt_;
  double relax_time_s_ = 0, settle_tol_V_ = 0;
  std::unique_ptr<backend::Backend> backend_;
  std::unique_ptr<backend::BatchRelaxer> relaxer_;
  std::vector<std::string> nodes_;         // circuit::node_names order of warm_V_
  std::vector<size_t> spring_sources_;     // per visible unit: its spring source element
  std::vector<Eigen::Index> visible_rows_; // per visible unit: its node's row in nodes_
  Eigen::MatrixXd warm_V_;                 // every node per sample: the next relaxation's start
  int level_ = -1;     // bias-table column the prepared circuit carries
  long element_count_ = 0;
  long calls_ = 0;     // velocity evaluations so far
  long relaxed_ = 0;   // relaxations so far
  SettleStats stats_;
  std::string backend_version_;
};

}  // namespace eqsim::study
