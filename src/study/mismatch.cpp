#include "study/mismatch.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

#include "backend/registry.hpp"
#include "circuit/netlister.hpp"
#include "study/chip.hpp"
#include "study/jobs.hpp"
#include "study/progress.hpp"
#include "study/tasks.hpp"
#include "config/device_model_yaml.hpp"
#include "config/model_dir.hpp"
#include "data/digits.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"
#include "learn/trainer.hpp"

namespace eqsim::study {
namespace fs = std::filesystem;

namespace {

// One chip at sigma through the exploration's chip evaluation (study/chip.hpp), with
// analog weights and readings (no ADC, one reading): the first noiseless chip of each
// sigma keeps its samples (the report's grids).
MismatchRow measure_chip(ChipContext c, const circuit::DeviceModel& dm, double sigma, int seed, const std::string& samples_dir) {
  c.dm = circuit::with_relative_mismatch(dm, sigma);
  const bool keep = seed == 0 && c.temperature == 0;
  const std::string deploy_path = mismatch_samples_path(samples_dir, sigma, false);
  const std::string insitu_path = mismatch_samples_path(samples_dir, sigma, true);
  c.samples_path_deploy = keep ? &deploy_path : nullptr;
  c.samples_path_insitu = keep ? &insitu_path : nullptr;
  const bool insitu = c.insitu_steps > 0;
  const ChipResult r = evaluate_chip(c, seed, true, insitu);
  MismatchRow row;
  row.sigma = sigma, row.seed = seed, row.noise = c.temperature > 0, row.mismatch_seed = r.mismatch_seed;
  row.deploy = r.deploy.quality;
  row.insitu = insitu ? r.insitu.quality : r.deploy.quality;
  row.gradient_cosine = r.deploy.gradient_cosine;
  row.equilibrium_rms = r.deploy.equilibrium_rms_model;
  row.settle_time_median_s = r.deploy.settle_time_s;
  row.settle_time_max_s = r.deploy.settle_time_max_s;
  return row;
}

}  // namespace

std::string mismatch_samples_path(const std::string& samples_dir, double sigma, bool insitu) {
  return fmt::format("{}/mismatch_sigma{:.3f}_{}.npy", samples_dir, sigma, insitu ? "insitu" : "deploy");
}

namespace {

nlohmann::json quality_json(const metrics::Quality& q) {
  return {{"n", q.n}, {"class_fraction", q.class_fraction}, {"classes_covered", q.classes_covered},
          {"min_class_fraction", q.min_class_fraction}, {"mean_confidence", q.mean_confidence},
          {"frechet_distance", q.frechet_distance}};
}

metrics::Quality quality_from(const nlohmann::json& j) {
  metrics::Quality q;
  q.n = j["n"], q.class_fraction = j["class_fraction"], q.classes_covered = j["classes_covered"];
  q.min_class_fraction = j["min_class_fraction"], q.mean_confidence = j["mean_confidence"];
  q.frechet_distance = j["frechet_distance"];
  return q;
}

std::string row_json(const MismatchRow& r) {
  return nlohmann::json{{"sigma", r.sigma}, {"seed", r.seed}, {"mismatch_seed", r.mismatch_seed}, {"noise", r.noise},
                        {"deploy", quality_json(r.deploy)}, {"insitu", quality_json(r.insitu)},
                        {"gradient_cosine", r.gradient_cosine}, {"equilibrium_rms", r.equilibrium_rms},
                        {"settle_time_median_s", r.settle_time_median_s}, {"settle_time_max_s", r.settle_time_max_s}}
      .dump();
}

MismatchRow row_from_json(const std::string& text) {
  const auto j = nlohmann::json::parse(text);
  MismatchRow r;
  r.sigma = j["sigma"], r.seed = j["seed"], r.mismatch_seed = j["mismatch_seed"], r.noise = j["noise"];
  r.deploy = quality_from(j["deploy"]), r.insitu = quality_from(j["insitu"]);
  r.gradient_cosine = j["gradient_cosine"], r.equilibrium_rms = j["equilibrium_rms"];
  r.settle_time_median_s = j["settle_time_median_s"], r.settle_time_max_s = j["settle_time_max_s"];
  return r;
}

// Everything the study's chips share, loaded once: here, or on a worker from the batch's
// shared state (the config as run and the model folder; the inputs it names are read
// where they are).
class MismatchChips {
 public:
  MismatchChips(const config::RunConfig& cfg, const std::string& model_dir, const std::string& samples_dir)
      : ms_(cfg.mismatch),
        dm_(config::load_device_model(resolve_project_path(ms_.device_model))),
        ideal_(config::load_model_dir(model_dir)),
        samples_dir_(samples_dir),
        digits_(data::load_digits(cfg.data_path)),
        clf_(digits_),
        schedule_(config::load_diffusion_schedule(model_dir)) {
    const auto record = config::load_training_record(model_dir);
    if (!record)
      throw InputError(model_dir + "/model.yaml", "training", "the model folder does not record how it was trained (retrain it)");
    record_ = *record;
    rcfg_ = cfg;  // the batches of the training the model records
    rcfg_.train = record_.train;
    insitu_batches_ = shared_batches(batch_source(rcfg_, digits_.images));
    backend::make_backend(ms_.backend, "mismatch.backend", cfg.source);  // InputError for an unknown name
    for (int noise : ms_.noise)
      for (double sigma : ms_.sigmas)
        for (int seed = 0; seed < ms_.seeds; ++seed) chips_.push_back({sigma, seed, noise});
  }

  std::vector<std::string> task_names() const {
    std::vector<std::string> names;
    for (const auto& c : chips_) names.push_back(fmt::format("sigma {} seed {} noise {}", c.sigma, c.seed, c.noise));
    return names;
  }

  // The chip's row (JSON, exact doubles) and the samples it keeps, by file name.
  std::string compute(const std::string& task) const {
    const auto names = task_names();
    const auto it = std::find(names.begin(), names.end(), task);
    if (it == names.end()) throw std::runtime_error("not a mismatch study chip: " + task);
    const Chip& chip = chips_[static_cast<size_t>(it - names.begin())];
    ChipContext c;
    c.cfg = &rcfg_;
    c.record = &record_;
    c.digits = &digits_;
    c.clf = &clf_;
    c.ideal = &ideal_;
    c.schedule = schedule_;
    c.insitu_batches = insitu_batches_;
    c.samples = ms_.samples;
    c.insitu_steps = ms_.insitu_steps;
    c.gradient_batch = ms_.gradient_batch;
    c.settle_tol = ms_.settle_tol;
    c.backend = ms_.backend;
    c.ideal_frechet = 1;  // frechet_rise is not reported here
    c.temperature = chip.noise ? circuit::model_temperature(dm_, ms_.temperature_K) : 0.0;
    Bundle result{{"row", row_json(measure_chip(c, dm_, chip.sigma, chip.seed, samples_dir_))}};
    for (bool insitu : {false, true}) {
      const std::string path = mismatch_samples_path(samples_dir_, chip.sigma, insitu);
      if (chip.seed == 0 && c.temperature == 0 && fs::exists(path))  // the chips measure_chip keeps
        result[fs::path(path).filename().string()] = read_bytes(path);
    }
    return pack(result);
  }

 private:
  struct Chip {
    double sigma;
    int seed, noise;
  };
  config::MismatchStudyOptions ms_;
  circuit::DeviceModel dm_;
  model::Network ideal_;
  std::string samples_dir_;
  data::Digits digits_;
  metrics::DigitClassifier clf_;
  learn::AnnealedLangevinOptions schedule_;  // a diffusion model's; no sigmas for a flow model
  learn::TrainingRecord record_;
  config::RunConfig rcfg_;
  learn::BatchSource insitu_batches_;  // every chip's in-situ batches, drawn once
  std::vector<Chip> chips_;
};

}  // namespace

std::vector<MismatchRow> mismatch_study(const config::RunConfig& cfg, const std::string& config_as_run,
                                        const std::string& model_dir, const std::string& samples_dir) {
  const MismatchChips chips(cfg, model_dir, samples_dir);
  TaskBatch batch;
  batch.kind = "mismatch";
  batch.tasks = chips.task_names();
  batch.shared = [&] {
    Bundle files = read_tree(model_dir);
    files["run_config.yaml"] = read_bytes(config_as_run);
    return pack(files);
  };
  batch.compute = [&](const std::string& task) { return chips.compute(task); };
  std::vector<MismatchRow> rows(batch.tasks.size());
  ProgressLine progress("mismatch study", static_cast<long>(rows.size()));
  long done = 0;
  batch.store = [&](size_t i, const std::string& result) {
    Bundle files = unpack(result);
    const MismatchRow r = row_from_json(files.at("row"));
    files.erase("row");
    write_tree(samples_dir, files);  // the samples the chip kept (the same bytes when it ran here)
    rows[i] = r;
    progress.update(++done, fmt::format("sigma {:.3f} seed {} noise {}: Frechet deploy {:.3f} in situ {:.3f}, cosine {:.3f}",
                                        r.sigma, r.seed, r.noise, r.deploy.frechet_distance, r.insitu.frechet_distance,
                                        r.gradient_cosine));
  };
  run_tasks(batch);
  progress.finish();
  return rows;
}

TaskFunction mismatch_worker(const std::string& shared) {
  auto scratch = std::make_shared<ScratchDir>();
  Bundle files = unpack(shared);
  const auto cfg = config::parse_run_config(files.at("run_config.yaml"), "run_config.yaml");
  files.erase("run_config.yaml");
  write_tree(scratch->path() + "/model", files);
  fs::create_directories(scratch->path() + "/samples");
  auto chips = std::make_shared<MismatchChips>(cfg, scratch->path() + "/model", scratch->path() + "/samples");
  return [scratch, chips](const std::string& task) { return chips->compute(task); };
}

namespace {

constexpr const char* kMismatchHeader =
    "sigma,seed,mismatch_seed,noise,deploy_classes,deploy_min_class_fraction,deploy_confidence,deploy_frechet,"
    "insitu_classes,insitu_min_class_fraction,insitu_confidence,insitu_frechet,gradient_cosine,equilibrium_rms,"
    "settle_time_median_s,settle_time_max_s";

std::string quality_fields(const metrics::Quality& q) {
  return fmt::format("{},{:.6g},{:.6g},{:.6g}", q.classes_covered, q.min_class_fraction, q.mean_confidence,
                     q.frechet_distance);
}

}  // namespace

std::string mismatch_csv(const std::vector<MismatchRow>& rows) {
  std::string out = std::string(kMismatchHeader) + "\n";
  for (const auto& r : rows)
    out += fmt::format("{},{},{},{},{},{},{:.6g},{:.6g},{:.6g},{:.6g}\n", r.sigma, r.seed, r.mismatch_seed, r.noise ? 1 : 0,
                       quality_fields(r.deploy), quality_fields(r.insitu), r.gradient_cosine, r.equilibrium_rms,
                       r.settle_time_median_s, r.settle_time_max_s);
  return out;
}

std::vector<MismatchRow> read_mismatch_csv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line) || line != kMismatchHeader) throw InputError(path, "", "not a mismatch study table (header differs)");
  std::vector<MismatchRow> rows;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<double> v;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) v.push_back(std::stod(cell));
    if (v.size() != 16) throw InputError(path, "", "a row needs 16 fields: " + line);
    MismatchRow r;
    r.sigma = v[0], r.seed = static_cast<int>(v[1]), r.mismatch_seed = static_cast<unsigned long long>(v[2]);
    r.noise = v[3] != 0;
    r.deploy.classes_covered = static_cast<int>(v[4]), r.deploy.min_class_fraction = v[5];
    r.deploy.mean_confidence = v[6], r.deploy.frechet_distance = v[7];
    r.insitu.classes_covered = static_cast<int>(v[8]), r.insitu.min_class_fraction = v[9];
    r.insitu.mean_confidence = v[10], r.insitu.frechet_distance = v[11];
    r.gradient_cosine = v[12], r.equilibrium_rms = v[13], r.settle_time_median_s = v[14], r.settle_time_max_s = v[15];
    rows.push_back(r);
  }
  return rows;
}

double quality_drop_sigma(const std::vector<MismatchRow>& rows, bool insitu, double rise) {
  std::map<double, std::pair<double, int>> mean;  // sigma -> (sum, count), noiseless rows
  for (const auto& r : rows)
    if (!r.noise) {
      auto& m = mean[r.sigma];
      m.first += (insitu ? r.insitu : r.deploy).frechet_distance;
      ++m.second;
    }
  if (mean.empty() || mean.begin()->first != 0) return std::numeric_limits<double>::quiet_NaN();
  const double limit = (1 + rise) * mean.begin()->second.first / mean.begin()->second.second;
  double prev_sigma = 0, prev = limit / (1 + rise);
  for (const auto& [sigma, sc] : mean) {
    const double f = sc.first / sc.second;
    if (f > limit) return prev_sigma + (sigma - prev_sigma) * (limit - prev) / (f - prev);
    prev_sigma = sigma, prev = f;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

metrics::Interval quality_drop_sigma_interval(const std::vector<MismatchRow>& rows, bool insitu, unsigned long long seed,
                                              double rise) {
  std::map<int, std::vector<const MismatchRow*>> by_chip;
  for (const auto& r : rows) by_chip[r.seed].push_back(&r);
  std::vector<int> chips;
  for (const auto& [chip, rs] : by_chip) chips.push_back(chip);
  metrics::Interval iv;
  iv.n = static_cast<long>(chips.size());
  iv.mean = iv.lo = iv.hi = quality_drop_sigma(rows, insitu, rise);
  if (chips.size() < 2) return iv;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, chips.size() - 1);
  constexpr int kResamples = 2000;
  std::vector<double> drops;
  for (int b = 0; b < kResamples; ++b) {
    std::vector<MismatchRow> resample;
    for (size_t k = 0; k < chips.size(); ++k)
      for (const auto* r : by_chip[chips[pick(rng)]]) resample.push_back(*r);
    const double d = quality_drop_sigma(resample, insitu, rise);
    drops.push_back(std::isnan(d) ? std::numeric_limits<double>::infinity() : d);
  }
  std::sort(drops.begin(), drops.end());
  iv.lo = drops[static_cast<size_t>(0.025 * (kResamples - 1))];
  iv.hi = drops[static_cast<size_t>(0.975 * (kResamples - 1))];
  return iv;
}

}  // namespace eqsim::study
