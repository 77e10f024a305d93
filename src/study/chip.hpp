#pragma once
// One Monte-Carlo chip of a design point (DESIGN.md §11), of a flow or a diffusion
// model (the batches, gradient and samples of its task), relaxed by a backend
// (Backend::chip_relaxer; by default the chip backend's circuit-equivalent model,
// circuit/equivalent.hpp) under the point's device model: its devices drawn from the
// chip's mismatch seed (circuit::draw_factors: the netlist of that seed is the same
// chip), its weights programmed as codes of weight_bits, every reading carrying thermal
// noise, the ADC's quantisation and the average of `repeats` readings. With the analog
// products readout (ctx.products) the EP gradient is read through the chip's own
// multipliers and accumulators instead (circuit/products.hpp: their mismatch from the
// chip's seed, their noise, one ADC conversion per parameter), the nodes unquantised;
// its samples are still read through the ADC.
//   deploy:  the ideal-trained weights programmed as they are;
//   in situ: the chip then trains itself by EP (every phase relaxed and read on the
//            chip; weight updates through a shadow copy or by stochastic rounding).
// Per strategy: the sample quality's rise against the ideal network (Frechet distance
// at the same N and sampling seed), coverage and confidence; the EP gradient read on
// the chip against the ideal network's exact gradient (cosine); the equilibrium error
// and the settling time; weight-code writes per step (in situ).
#include <string>
#include <vector>

#include "circuit/device_model.hpp"
#include "circuit/equivalent.hpp"
#include "config/run_config.hpp"
#include "data/digits.hpp"
#include "learn/programmed.hpp"
#include "learn/record.hpp"
#include "learn/sampler.hpp"
#include "learn/trainer.hpp"
#include "metrics/quality.hpp"

namespace eqsim::study {

struct ChipContext {
  const config::RunConfig* cfg = nullptr;  // batches and sampling (its train section: the model's record)
  const learn::TrainingRecord* record = nullptr;
  const data::Digits* digits = nullptr;
  const metrics::DigitClassifier* clf = nullptr;
  const model::Network* ideal = nullptr;
  learn::AnnealedLangevinOptions schedule;  // a diffusion model's noise schedule (annealed Langevin); no sigmas: a flow model
  learn::BatchSource insitu_batches;  // the in-situ training's batches (shared_batches of the record's stream); empty: drawn per chip
  std::string backend = "chip";     // relaxes the chip (backend::make_backend; Backend::chip_relaxer)
  circuit::DeviceModel dm;          // with the point's relative mismatch
  double temperature = 0;           // model units (circuit::model_temperature); 0: noiseless readings
  circuit::ChipReadout readout;
  bool products = false;            // the EP gradient through analog multipliers (see top)
  learn::WeightProgramming weights;
  int samples = 300, insitu_steps = 100, gradient_batch = 64;
  double settle_tol = 1e-3;         // model units
  double ideal_frechet = 0;         // the ideal network's samples at the same N and seed
  const std::string* samples_path_deploy = nullptr;  // where to keep this chip's samples (may be null)
  const std::string* samples_path_insitu = nullptr;
};

struct ChipMetrics {
  double frechet = 0, frechet_rise = 0, gradient_cosine = 0, equilibrium_rms_model = 0, settle_time_s = 0;
  double coverage = 0, confidence = 0, writes_per_step = 0;
  double settle_time_max_s = 0;  // settle_time_s is the median over the sampled inputs
  metrics::Quality quality;      // of the chip's samples
  // By name (config::chip_metrics()).
  double get(const std::string& metric) const;
};

// Wall time of a chip evaluation's stages (a benchmark's breakdown; never in results).
struct ChipSeconds {
  double training = 0;   // in-situ EP steps on the chip
  double gradient = 0;   // the chip's EP gradient and the ideal network's exact one
  double settle = 0;     // equilibrium error and settling time
  double sampling = 0;   // the chip's samples and their quality
  double total() const { return training + gradient + settle + sampling; }
};

struct ChipResult {
  unsigned long long mismatch_seed = 0;
  bool has_deploy = false, has_insitu = false;
  ChipMetrics deploy, insitu;
  ChipSeconds seconds_deploy, seconds_insitu;
};

// The mismatch seed of chip k: `eqsim netlist --mismatch-seed S --relative-mismatch SIGMA`
// rebuilds that chip (the same at every point: common random numbers).
unsigned long long chip_mismatch_seed(int chip);

// Evaluates chip `chip` under ctx for the strategies asked.
ChipResult evaluate_chip(const ChipContext& ctx, int chip, bool deploy, bool insitu);

// Frechet distance of n samples of the ideal network (no circuit, no noise) at the
// config's sampling seed, by the flow or, for a diffusion model, annealed Langevin over
// its schedule: the reference of frechet_rise.
double ideal_frechet(const config::RunConfig& cfg, const model::Network& net, const data::Digits& digits,
                     const metrics::DigitClassifier& clf, int n, const learn::AnnealedLangevinOptions& schedule = {});

}  // namespace eqsim::study
