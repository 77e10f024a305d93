#pragma once
// What the studies return, as plain structs the report formats (report/ depends on
// these types, the studies on report/ to write their sections).
#include <string>
#include <vector>

#include "metrics/quality.hpp"

namespace eqsim::study {

// One chip of the fidelity-vs-mismatch study (study/mismatch.hpp).
struct MismatchRow {
  double sigma = 0;
  int seed = 0;                        // chip index
  unsigned long long mismatch_seed = 0;  // the seed its devices were drawn from (eqsim netlist --mismatch-seed)
  bool noise = false;
  metrics::Quality deploy, insitu;  // ideal-trained weights deployed; then trained in situ on the chip
  double gradient_cosine = 0;       // EP on the chip vs the ideal network's exact gradient
  double equilibrium_rms = 0;       // free equilibrium, chip vs ideal, model units
  double settle_time_median_s = 0, settle_time_max_s = 0;
};

// One device model's energy ledger, as the run's report quotes it.
struct EnergyBrief {
  std::string device_model, ledger_path;
  long batch = 0;  // samples per training step booked (the training record's)
  double analog_J = 0, gpu_backprop_J = 0, gpu_ep_sim_J = 0;  // the GPU's FLOP-count flavour
  // The GPU flavour that binds (the larger of FLOP count and graph-captured launches) and its price.
  std::string backprop_binding, ep_sim_binding;
  double gpu_backprop_binding_J = 0, gpu_ep_sim_binding_J = 0;
  double analog_time_s = 0, gpu_backprop_time_s = 0;  // per step
};

// One backend's relaxations of the trained model's own circuit (study/circuit_check.hpp).
struct CircuitCheckRow {
  std::string backend;          // registry name
  std::string engine;           // engine and version
  int points = 0;
  long not_settled = 0;
  double equilibrium_rms_vs_ideal = 0, equilibrium_max_vs_ideal = 0;  // model units
  double equilibrium_max_vs_first = 0;                                // against the first backend
  double settle_time_max_s = 0;
  double wall_s_per_relaxation = 0;
};

struct CircuitCheckSummary {
  int level = -1;                     // bias-table column (diffusion), -1 for flow models
  double window_tau = 0;              // relaxation window, node time constants
  std::vector<CircuitCheckRow> rows;  // per backend, in the options' order
};

}  // namespace eqsim::study
