#include "study/mismatch.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "circuit/equivalent.hpp"
#include "circuit/netlister.hpp"
#include "study/chip.hpp"
#include "study/jobs.hpp"
#include "study/progress.hpp"
#include "config/device_model_yaml.hpp"
#include "config/model_dir.hpp"
#include "data/digits.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"
#include "learn/trainer.hpp"

namespace eqsim::study {

namespace {


model::Relaxer relaxer_of(const circuit::EquivalentCircuit& eq) {
  return [&eq](const model::Clamp& c, model::State& s, const model::RelaxOptions& o) { return eq.relax(c, s, o); };
}

// Relaxation options of every phase with thermal noise at temperature (model units) or none.
model::RelaxOptions with_noise(model::RelaxOptions o, double temperature) {
  o.temperature = temperature;
  return o;
}

struct Chip {
  const config::RunConfig& cfg;  // its train section replaced by the model's training record
  const learn::TrainingRecord& record;
  const data::Digits& digits;
  const metrics::DigitClassifier& clf;
  const model::Network& ideal;
  double temperature;  // model units; 0: noiseless

  learn::GradientOptions gradient_options(const model::Relaxer& r) const {
    auto g = record.gradient;
    g.relaxer = r;
    g.free_relax = with_noise(g.free_relax, temperature);
    g.nudged_relax = with_noise(g.nudged_relax, temperature);
    return g;
  }

  // Quality of n samples generated on the chip; writes them (N x 64) to save_path unless empty.
  metrics::Quality sample_quality(const model::Network& net, const model::Relaxer& r, int n,
                                  const std::string& save_path) const {
    learn::SampleOptions so = cfg.sample;
    so.n = n;
    so.readout = learn::Readout::spring;
    so.relaxer = r;
    so.relax = with_noise(so.relax, temperature);
    const Eigen::MatrixXd x = learn::generate(learn::energy_velocity(net, so), net.size(net.spec().visible), so);
    if (!save_path.empty()) data::write_npy(save_path, x.transpose());
    return metrics::evaluate_samples(x, clf, digits);
  }

  // In-situ EP from the ideal weights on the chip; returns the trained copy.
  model::Network train_in_situ(const circuit::DeviceFactors& f, const circuit::DeviceModel& dm, int steps) const {
    model::Network net = ideal;
    const circuit::EquivalentCircuit eq(net, f, dm.noise_gamma);
    learn::EnergyLearner learner(net, gradient_options(relaxer_of(eq)), record.train.adam);
    learn::TrainOptions topt = record.train;
    topt.steps = steps;  // the config's batch stream from its first step: the data the chip would see again
    learn::train(learner, batch_source(cfg, digits.images), topt, 0, {});
    return net;
  }
};

double rms(const model::State& a, const model::State& b) {
  double sq = 0;
  long n = 0;
  for (size_t m = 0; m < a.u.size(); ++m) sq += (a.u[m] - b.u[m]).squaredNorm(), n += a.u[m].size();
  return std::sqrt(sq / static_cast<double>(n));
}

double median(Eigen::RowVectorXd v) {
  std::sort(v.data(), v.data() + v.size());
  return v(v.size() / 2);
}

MismatchRow measure_chip(const Chip& c, const circuit::DeviceModel& dm, double sigma, int seed,
                         const std::string& samples_dir) {
  const auto& ms = c.cfg.mismatch;
  MismatchRow row;
  row.sigma = sigma, row.seed = seed, row.noise = c.temperature > 0;
  row.mismatch_seed = chip_mismatch_seed(seed);
  const circuit::DeviceFactors f = circuit::draw_factors(c.ideal, circuit::with_relative_mismatch(dm, sigma), row.mismatch_seed);
  const circuit::EquivalentCircuit eq(c.ideal, f, dm.noise_gamma);
  const model::Relaxer r = relaxer_of(eq);

  config::RunConfig bcfg = c.cfg;  // a gradient batch of its own per chip
  bcfg.train.batch_size = ms.gradient_batch;
  bcfg.train.seed = c.cfg.train.seed + 104729 + seed;
  const learn::FlowBatch batch = batch_source(bcfg, c.digits.images)(1);
  auto exact_opt = c.record.gradient;
  exact_opt.estimator = learn::Estimator::exact;
  exact_opt.free_relax.max_steps = std::max(exact_opt.free_relax.max_steps, 200);
  const auto exact = learn::flow_gradient(c.ideal, batch, exact_opt);
  auto ep_opt = c.gradient_options(r);
  const auto ep = learn::flow_gradient(c.ideal, batch, ep_opt);
  row.gradient_cosine = model::cosine(ep.grad, exact.grad);
  model::State chip_state = model::initial_state(c.ideal, batch.x_t);  // noiseless, as converged as the ideal one
  eq.relax(learn::free_clamp(c.ideal, batch.x_t), chip_state, exact_opt.free_relax);
  row.equilibrium_rms = rms(chip_state, exact.free_state);

  // Node dynamics by Euler steps of 0.05 tau (stable for every node: the fastest, the
  // visible ones on their springs, have time constants near tau / 16) on a few samples.
  const Eigen::MatrixXd x_settle = batch.x_t.leftCols(std::min<Eigen::Index>(8, batch.x_t.cols()));
  const Eigen::RowVectorXd settle = eq.settle_time_tau(learn::free_clamp(c.ideal, x_settle),
                                                       model::initial_state(c.ideal, x_settle), ms.settle_tol, 0.05, 2000);
  row.settle_time_median_s = median(settle) * circuit::tau_s(dm);
  row.settle_time_max_s = settle.maxCoeff() * circuit::tau_s(dm);

  // The first noiseless chip of each sigma keeps its samples (the report's grids).
  const bool keep = seed == 0 && c.temperature == 0;
  row.deploy = c.sample_quality(c.ideal, r, ms.samples, keep ? mismatch_samples_path(samples_dir, sigma, false) : "");
  if (ms.insitu_steps == 0) {
    row.insitu = row.deploy;
    return row;
  }
  const model::Network trained = c.train_in_situ(f, dm, ms.insitu_steps);
  const circuit::EquivalentCircuit eq_trained(trained, f, dm.noise_gamma);
  row.insitu = c.sample_quality(trained, relaxer_of(eq_trained), ms.samples,
                                keep ? mismatch_samples_path(samples_dir, sigma, true) : "");
  return row;
}

}  // namespace

std::string mismatch_samples_path(const std::string& samples_dir, double sigma, bool insitu) {
  return fmt::format("{}/mismatch_sigma{:.3f}_{}.npy", samples_dir, sigma, insitu ? "insitu" : "deploy");
}

std::vector<MismatchRow> mismatch_study(const config::RunConfig& cfg, const std::string& model_dir,
                                        const std::string& samples_dir) {
  const auto& ms = cfg.mismatch;
  const auto dm = config::load_device_model(resolve_project_path(ms.device_model));
  const model::Network ideal = config::load_model_dir(model_dir);
  const auto record = config::load_training_record(model_dir);
  if (!record)
    throw InputError(model_dir + "/model.yaml", "training", "the model folder does not record how it was trained (retrain it)");
  config::RunConfig rcfg = cfg;  // the batches of the training the model records
  rcfg.train = record->train;
  const auto digits = data::load_digits(cfg.data_path);
  const metrics::DigitClassifier clf(digits);
  std::vector<MismatchRow> rows;
  ProgressLine progress("mismatch study", static_cast<long>(ms.sigmas.size() * ms.seeds * ms.noise.size()));
  for (int noise : ms.noise)
    for (double sigma : ms.sigmas)
      for (int seed = 0; seed < ms.seeds; ++seed) {
        const Chip c{rcfg, *record, digits, clf, ideal, noise ? circuit::model_temperature(dm, ms.temperature_K) : 0.0};
        rows.push_back(measure_chip(c, dm, sigma, seed, samples_dir));
        const auto& r = rows.back();
        progress.update(static_cast<long>(rows.size()),
                        fmt::format("sigma {:.3f} seed {} noise {}: Frechet deploy {:.3f} in situ {:.3f}, cosine {:.3f}",
                                    sigma, seed, noise, r.deploy.frechet_distance, r.insitu.frechet_distance,
                                    r.gradient_cosine));
      }
  progress.finish();
  return rows;
}

namespace {

constexpr const char* kHeader =
    "sigma,seed,mismatch_seed,noise,deploy_classes,deploy_min_class_fraction,deploy_confidence,deploy_frechet,"
    "insitu_classes,insitu_min_class_fraction,insitu_confidence,insitu_frechet,gradient_cosine,equilibrium_rms,"
    "settle_time_median_s,settle_time_max_s";

std::string quality_fields(const metrics::Quality& q) {
  return fmt::format("{},{:.6g},{:.6g},{:.6g}", q.classes_covered, q.min_class_fraction, q.mean_confidence,
                     q.frechet_distance);
}

}  // namespace

std::string mismatch_csv(const std::vector<MismatchRow>& rows) {
  std::string out = std::string(kHeader) + "\n";
  for (const auto& r : rows)
    out += fmt::format("{},{},{},{},{},{},{:.6g},{:.6g},{:.6g},{:.6g}\n", r.sigma, r.seed, r.mismatch_seed, r.noise ? 1 : 0,
                       quality_fields(r.deploy), quality_fields(r.insitu), r.gradient_cosine, r.equilibrium_rms,
                       r.settle_time_median_s, r.settle_time_max_s);
  return out;
}

std::vector<MismatchRow> read_mismatch_csv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line) || line != kHeader) throw InputError(path, "", "not a mismatch study table (header differs)");
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

}  // namespace eqsim::study
