#pragma once
// The energy ledger of one training step (DESIGN.md §7) as a study: relaxes the
// step's phases as netlists on a backend for a few real inputs, books every line
// with its formula and source, compares with a GPU baseline, and writes L.json,
// L.csv (line items and totals), L_sensitivity.csv and two figures beside it.
//
// The step booked is the one the model was trained with: batch size, estimator,
// beta, pairing and relaxation budgets come from the model folder's training
// record unless given here. L.json records both (`*_given`, `*_used`).
#include <optional>
#include <string>

#include "energy/ledger.hpp"
#include "energy/measure.hpp"
#include "learn/flow.hpp"
#include "learn/trainer.hpp"

namespace eqsim::study {

struct EnergyOptions {
  std::string model_dir, device_model, baseline, out;
  std::string backend = "ode";
  std::string readout = "units";  // units (ADC per node) or products (analog per-parameter accumulators)
  std::string data_path;          // empty: the digits cache
  // Empty: the training record's.
  std::optional<long> batch;
  std::optional<double> beta;
  std::optional<std::string> estimator;  // symmetric or one_sided
  std::optional<int> ep_sim_free_steps, ep_sim_nudged_steps;  // GPU EP simulation: steps per phase
  int samples = 4;                 // inputs relaxed to measure each phase
  long step = 1;                   // training step whose batch is drawn
  unsigned long long seed = 0;     // seed of that batch
  // Trained models have coupled modes settling in hundreds of tau (deterministic ode runs stop once settled).
  double t_stop_tau = 1000;
  std::optional<unsigned long long> mismatch_seed;
  bool sensitivity = true;
  int readout_repeats = 1;        // ADC readings averaged per node and phase
  double writes_per_step = -1;    // measured weight-code changes per step; < 0: every device rewritten

  // InputError naming the flag for a value out of range.
  void validate() const;
};

// The training step as booked: each value given, or taken from the training record.
struct EnergyStep {
  long batch = 0;
  double beta = 0;
  learn::Estimator estimator = learn::Estimator::symmetric;
  learn::Pairing pairing = learn::Pairing::ot;
  int ep_sim_free_steps = 0, ep_sim_nudged_steps = 0;
  bool diffusion = false;
};

struct EnergySummary {
  EnergyStep step;
  energy::Measurement measurement;
  energy::Ledger ledger;
  std::string json_path;
};

// Runs the ledger and writes its files. InputError for bad options or a model folder
// that records no training when a step value is not given; SimulationOutcome when a
// relaxation fails or the ideal circuit does not realise the network.
EnergySummary energy_study(const EnergyOptions& opt);

}  // namespace eqsim::study
