#pragma once
// A run configuration (configs/*.yaml): the network, training, relaxation,
// sampling and evaluation settings. Any key can be overridden with --set.
// Checklist for adding an option: add the field below with its default, read it
// in run_config.cpp (the reader then knows the key), check its range in its struct's
// validate(file) (InputError naming the file and the key; called once, where the
// config is read, so no stage checks again), document it in README.md.
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "learn/programmed.hpp"
#include "learn/record.hpp"
#include "learn/sampler.hpp"
#include "learn/trainer.hpp"

namespace eqsim::config {

struct GradcheckOptions {
  int batch_size = 64;
  int repeats = 3;
  std::vector<double> betas{1e-4, 1e-3, 1e-2, 1e-1};
  std::vector<int> relax_steps{5, 10, 20, 50};
  std::vector<std::string> estimators{"symmetric", "one_sided"};
  std::vector<double> temperatures{0.0};  // Langevin temperatures, model energy units
  std::string device_model = "device_models/generic-65nm.yaml";  // scales for temperature_K
  void validate(const std::string& file) const;
};

enum class Task { flow, diffusion };

// Denoising score matching on a geometric noise schedule, sampled by annealed Langevin.
struct DiffusionOptions {
  double sigma_max = 1.0, sigma_min = 0.05;
  int levels = 10;
  int steps_per_level = 20;  // annealed Langevin steps per noise level
  double step_scale = 2.5e-4;  // eta_k = step_scale * sigma_k^2 / sigma_min^2 (Song & Ermon 2019)
  void validate(const std::string& file) const;
};

// The fidelity-vs-mismatch study of `eqsim run` (DESIGN.md §6): the trained EP model
// on circuits of the device model with every device's relative mismatch at each sigma
// (circuit::with_relative_mismatch), several chips (mismatch seeds) each, thermal noise
// off and on, relaxed by `backend` (by default the chip backend's circuit-equivalent model,
// circuit/equivalent.hpp).
struct MismatchStudyOptions {
  bool enabled = true;
  std::vector<double> sigmas{0.0, 0.02, 0.05, 0.1};
  int seeds = 2;                // chips per sigma
  std::vector<int> noise{0, 1};  // 0: noiseless, 1: thermal noise at temperature_K
  double temperature_K = 300;
  int samples = 300;            // per chip, for sample quality
  int insitu_steps = 100;       // in-situ EP steps on each chip, from the ideal-trained weights
  int gradient_batch = 64;      // EP gradient cosine and equilibrium error
  double settle_tol = 1e-3;     // model units (0.1 mV at v_unit 0.1 V)
  std::string device_model = "device_models/generic-65nm.yaml";
  std::string backend = "chip";  // relaxes every chip (a registry name; ode/spice netlist each chip: a slow cross-check)
  void validate(const std::string& file) const;
};

// The run's cross-check of the trained model's own circuit on the circuit backends
// (study/circuit_check.hpp).
struct CircuitCheckStageOptions {
  bool enabled = true;
  std::vector<std::string> backends{"ode", "spice"};
  int points = 1;          // sampler inputs relaxed per backend
  double window_tau = 40;  // relaxation window in node time constants (ngspice: ~1.1 s per tau on the default model)
  std::string device_model = "device_models/generic-65nm.yaml";
  void validate(const std::string& file) const;
};

// The energy stage of `eqsim run`: `eqsim energy` on the EP model per device model.
struct EnergyStageOptions {
  bool enabled = true;
  std::vector<std::string> device_models{"device_models/generic-65nm.yaml", "device_models/generic-28nm.yaml"};
  std::string baseline = "device_models/gpu-h100.yaml";
  bool sensitivity = true;  // the first device model's sensitivity table and tornado figure (a ledger per parameter move)
};

// How the chip reads its nodes (the ADC resolution is the device model's energy.adc_bits).
struct ReadoutOptions {
  int repeats = 1;                // readings averaged per node and phase (each booked by the ledger)
  double full_scale_model = 2.0;  // ADC range [-full_scale, full_scale], model units
  // The EP gradient's readout: 0, an ADC per node and digital products; 1, an analog
  // multiplier per parameter and one ADC conversion of its accumulator per step
  // (circuit/products.hpp, the ledger's `products` readout).
  int products = 0;
  void validate(const std::string& file) const;
};

// How the chip holds its weights (codes of the device model's energy.weight_bits).
struct WeightOptions {
  learn::WeightUpdate update = learn::WeightUpdate::shadow;  // shadow copy or stochastic rounding
  double headroom = 1.25;  // full scale = headroom * largest |value| of each array as deployed
  void validate(const std::string& file) const;
};

// A threshold a chip must meet on one metric (explore.spec).
struct Threshold {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
};

// One axis of the design space: a run-config key (train.beta, readout.repeats, ...) or,
// prefixed `device.`, a key of the device model (device.c_node_F, device.energy.adc_bits).
struct ExploreAxis {
  std::string key;
  std::string scale = "list";  // list, lin or log
  std::vector<double> values;  // list; lin/log: the grid's n values between lo and hi
  double lo = 0, hi = 0;       // lin/log bounds (Latin hypercube samples within them)
  bool device = false;
};

// Bounds that keep a typo (n: 1e9) an input error instead of gigabytes of design points.
// Every point costs chips x seconds, so an axis of more than 1000 values is a typo too
// (and the run-config fuzzer spent its time generating axes of 9000 values).
inline constexpr int kMaxAxisValues = 1000;
inline constexpr int kMaxDesignPoints = 1000000;

// The design-space exploration (DESIGN.md §11): points (full grid or seeded Latin
// hypercube) x chips (common random numbers: chip k has the same mismatch seed at every
// point) x strategies, a spec per chip, a yield target and the Pareto metric.
struct ExploreOptions {
  std::string design = "grid";  // grid | lhs
  int points = 8;               // lhs: number of points
  unsigned long long seed = 0;  // Latin hypercube and bootstrap streams
  int chips = 16;
  std::vector<std::string> strategies{"deploy", "insitu"};
  std::vector<ExploreAxis> axes;
  std::vector<std::pair<std::string, Threshold>> spec;  // metric -> threshold, in the file's order
  double yield_target = 0.9;
  std::string pareto_metric = "frechet_rise";
  double sigma = 0.03;          // every device's relative mismatch (circuit::with_relative_mismatch)
  double temperature_K = 300;   // thermal noise of every reading (0: none)
  int samples = 300;            // per chip, for sample quality
  int insitu_steps = 100;
  int gradient_batch = 64;
  double settle_tol = 1e-3;     // model units
  std::string device_model = "device_models/generic-65nm.yaml";
  std::string baseline = "device_models/gpu-h100.yaml";
  std::string backend = "chip";  // relaxes every chip (a registry name; ode/spice netlist each chip: a slow cross-check)
  void validate(const std::string& file) const;
};

// The metrics a chip is measured on, each with the direction that is better.
struct ChipMetric {
  const char* name;
  bool higher_is_better;
};
const std::vector<ChipMetric>& chip_metrics();

struct BaselineOptions {
  bool exact = true;  // the same energy model trained with the exact gradient
  bool mlp = true;    // a backprop MLP velocity field of the same size
  int mlp_hidden = 105;
};

struct RunConfig {
  std::string source;  // file name (or "<embedded default>")
  std::string name = "run";
  Task task = Task::flow;
  DiffusionOptions diffusion;
  model::NetworkSpec network;
  double init_gain = 0.5;
  std::string data_path;  // empty: the cache (scripts/fetch-digits.sh)
  learn::TrainOptions train;
  // train.seeds as given (its first replaces train.seed); read through training_seeds().
  std::vector<unsigned long long> train_seeds;
  learn::Estimator estimator = learn::Estimator::symmetric;
  double beta = 1.25e-3;
  model::RelaxOptions relax;         // free phase
  model::RelaxOptions nudged_relax;  // nudged phases
  long checkpoint_every = 100;
  double adjoint_tol = 1e-6;  // exact estimator: relative residual of the adjoint solve H lambda = dL/da
  learn::SampleOptions sample;
  int sample_sets = 3;  // independent sample sets per model (sampling seeds sample.seed + k), for intervals
  GradcheckOptions gradcheck;
  BaselineOptions baselines;
  MismatchStudyOptions mismatch;
  EnergyStageOptions energy;
  CircuitCheckStageOptions circuit_check;
  ReadoutOptions readout;
  WeightOptions weights;
  ExploreOptions explore;

  learn::GradientOptions gradient_options() const;
  // The seeds `eqsim run` trains EP and each baseline at (train.seeds, else train.seed), so
  // that the sample-quality table's intervals span training runs as well as sample sets;
  // the first seed's models feed every later stage.
  std::vector<unsigned long long> training_seeds() const;
  // What a model trained under this config records (steps_done 0).
  learn::TrainingRecord training_record() const;
};

// Loads CONFIG (a path, or "" for the embedded default) and applies --set overrides.
// Throws InputError naming the file and key on malformed YAML, unknown keys,
// wrong types, non-finite or out-of-range values (including an unstable beta).
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});
RunConfig parse_run_config(const std::string& yaml_text, const std::string& source,
                           const std::vector<std::string>& overrides = {});

// The embedded default config's text (configs/default.yaml, compiled in).
const std::string& embedded_default_config();

// The YAML text of a run config as loaded (after overrides), for reports.
std::string dump_run_config(const std::string& path, const std::vector<std::string>& overrides);

}  // namespace eqsim::config
