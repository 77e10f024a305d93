#include "study/chip.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "backend/registry.hpp"
#include "circuit/netlister.hpp"
#include "circuit/products.hpp"
#include "data/npy.hpp"
#include "learn/sampler.hpp"
#include "learn/trainer.hpp"
#include "study/jobs.hpp"

namespace eqsim::study {

unsigned long long chip_mismatch_seed(int chip) { return 1000 + static_cast<unsigned long long>(chip); }

double ChipMetrics::get(const std::string& m) const {
  if (m == "frechet_rise") return frechet_rise;
  if (m == "gradient_cosine") return gradient_cosine;
  if (m == "equilibrium_rms_model") return equilibrium_rms_model;
  if (m == "settle_time_s") return settle_time_s;
  if (m == "coverage") return coverage;
  if (m == "confidence") return confidence;
  if (m == "writes_per_step") return writes_per_step;
  throw std::logic_error("unknown chip metric " + m);
}

namespace {

constexpr double settle_window_tau = 2000;  // the settle-time measurement's window

// A chip's relaxer with thermal noise of its own: every call's noise seed combined with
// the chip's mismatch seed, so that no two chips share a noise realisation (the chips are
// the statistics' independent units: with shared streams, the in-situ chips of the
// exploration demo moved together, their mean Frechet rise by 0.06 against an interval
// of +-0.015, when the stream changed). Chip k still has the same streams at every point.
class OwnNoise : public backend::ChipRelaxer {
 public:
  OwnNoise(std::unique_ptr<backend::ChipRelaxer> chip, unsigned long long mismatch_seed)
      : chip_(std::move(chip)), mismatch_seed_(mismatch_seed) {}
  model::RelaxSummary relax(const model::Clamp& clamp, model::State& s, const model::RelaxOptions& opt) override {
    model::RelaxOptions o = opt;
    o.noise_seed = backend::sub_seed(opt.noise_seed, mismatch_seed_);
    return chip_->relax(clamp, s, o);
  }
  Eigen::RowVectorXd settle_time_s(const model::Clamp& clamp, const model::State& start, double tol,
                                   double max_time_s) override {
    return chip_->settle_time_s(clamp, start, tol, max_time_s);
  }

 private:
  std::unique_ptr<backend::ChipRelaxer> chip_;
  unsigned long long mismatch_seed_;
};

// Chip `chip` of net (its parameters as they are at each call) on the context's backend,
// read through `readout`, with its own noise streams.
std::unique_ptr<backend::ChipRelaxer> chip_of(const ChipContext& c, backend::Backend& b, const model::Network& net,
                                              unsigned long long seed, const circuit::ChipReadout& readout) {
  return std::make_unique<OwnNoise>(b.chip_relaxer({&net, c.dm, seed, readout}), seed);
}

// How the nodes are read for the EP gradient: through the ADC, or with the products
// readout straight into the multipliers (no per-node conversion).
circuit::ChipReadout gradient_readout(const ChipContext& c) {
  circuit::ChipReadout r = c.readout;
  if (c.products) r.adc_bits = 0;
  return r;
}

// The chip's analog products readout (null without one); `stream` seeds its noise.
std::unique_ptr<circuit::AnalogProducts> products_of(const ChipContext& c, const model::Network& net,
                                                     unsigned long long seed, unsigned long long stream) {
  if (!c.products) return nullptr;
  circuit::ProductReadoutOptions o;
  o.adc_bits = c.readout.adc_bits;
  o.repeats = c.readout.repeats;
  o.temperature = c.temperature;
  o.beta = c.record->gradient.beta;
  o.symmetric = c.record->gradient.estimator == learn::Estimator::symmetric;
  o.noise_seed = stream;
  return std::make_unique<circuit::AnalogProducts>(net, c.dm, seed, o);
}

model::RelaxOptions with_noise(model::RelaxOptions o, double temperature) {
  o.temperature = temperature;
  return o;
}

double rms(const model::State& a, const model::State& b) {
  double sq = 0;
  long n = 0;
  for (size_t m = 0; m < a.u.size(); ++m) sq += (a.u[m] - b.u[m]).squaredNorm(), n += a.u[m].size();
  return std::sqrt(sq / static_cast<double>(n));
}

// Seconds since the last lap (or construction).
class Lap {
 public:
  double next() {
    const auto now = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return s;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

double median(Eigen::RowVectorXd v) {
  std::sort(v.data(), v.data() + v.size());
  return v(v.size() / 2);
}

// n samples of net read through r (empty: the ideal network) at the temperature: Euler
// steps of the flow, or annealed Langevin over a diffusion model's schedule.
Eigen::MatrixXd draw_samples(const config::RunConfig& cfg, const learn::AnnealedLangevinOptions& schedule,
                             const model::Network& net, const model::Relaxer& r, double temperature, int n) {
  learn::SampleOptions so = cfg.sample;
  so.n = n;
  so.readout = learn::Readout::spring;
  so.relaxer = r;
  so.relax = with_noise(so.relax, temperature);
  const int dim = net.size(net.spec().visible);
  if (schedule.sigmas.empty()) return learn::generate(learn::energy_velocity(net, so), dim, so);
  learn::AnnealedLangevinOptions langevin = schedule;
  langevin.relax = with_noise(langevin.relax, temperature);
  return learn::generate_annealed(learn::energy_score(net, langevin, r), dim, so, langevin);
}

metrics::Quality sample_quality(const ChipContext& c, const model::Network& net, const model::Relaxer& r,
                                double temperature, const std::string* save_path) {
  const Eigen::MatrixXd x = draw_samples(*c.cfg, c.schedule, net, r, temperature, c.samples);
  if (save_path) data::write_npy(*save_path, x.transpose());
  return metrics::evaluate_samples(x, *c.clf, *c.digits);
}

// The record's EP gradient on the chip: every phase relaxed on it and read through `read`
// (thermal noise at the context's temperature, the ADC, repeats), except the free phase of
// the symmetric estimator, which EP does not read (the ledger books the two nudged phases
// only): it relaxes on the same chip unread, and the nudged phases start from its state.
learn::GradientOptions chip_gradient(const ChipContext& c, backend::ChipRelaxer& read, backend::ChipRelaxer& unread) {
  auto g = c.record->gradient;
  const bool free_unread = g.estimator == learn::Estimator::symmetric;
  g.relaxer = [&read, &unread, free_unread](const model::Clamp& clamp, model::State& s, const model::RelaxOptions& o) {
    if (!free_unread || clamp.nudge_g != 0) return read.relax(clamp, s, o);
    model::RelaxOptions quiet = o;
    quiet.temperature = 0;
    return unread.relax(clamp, s, quiet);
  };
  g.free_relax = with_noise(g.free_relax, c.temperature);
  g.nudged_relax = with_noise(g.nudged_relax, c.temperature);
  return g;
}

// The chip's gradient, equilibrium and settling at weights `net` (programmed) against the
// ideal network of the same weights.
void measure_fidelity(const ChipContext& c, backend::Backend& b, const model::Network& net, unsigned long long seed,
                      int chip, ChipMetrics& out, ChipSeconds& seconds) {
  Lap lap;
  const auto read = chip_of(c, b, net, seed, gradient_readout(c));
  const auto exact_chip = chip_of(c, b, net, seed, {});  // noiseless, unquantised: the circuit's own state
  const auto products = products_of(c, net, seed, 1);
  config::RunConfig bcfg = *c.cfg;  // a gradient batch of its own per chip, the same at every point
  bcfg.train.batch_size = c.gradient_batch;
  bcfg.train.seed = c.cfg->train.seed + 104729 + static_cast<unsigned long long>(chip);
  const learn::FlowBatch batch = batch_source(bcfg, c.digits->images)(1);
  auto exact_opt = c.record->gradient;
  exact_opt.estimator = learn::Estimator::exact;
  exact_opt.free_relax.max_steps = std::max(exact_opt.free_relax.max_steps, 200);
  const auto exact = learn::flow_gradient(net, batch, exact_opt);
  auto ep = learn::flow_gradient(net, batch, chip_gradient(c, *read, *exact_chip));
  if (products) products->read(ep.grad, ep.free_state, batch.levels);
  out.gradient_cosine = model::cosine(ep.grad, exact.grad);
  seconds.gradient += lap.next();
  model::State chip_state = model::initial_state(net, batch.x_t);
  exact_chip->relax(learn::free_clamp(net, batch.x_t, batch.levels), chip_state, exact_opt.free_relax);
  out.equilibrium_rms_model = rms(chip_state, exact.free_state);
  // The node dynamics on a few samples.
  const Eigen::Index n_settle = std::min<Eigen::Index>(8, batch.x_t.cols());
  const Eigen::MatrixXd x_settle = batch.x_t.leftCols(n_settle);
  const std::vector<int> levels_settle(batch.levels.begin(), batch.levels.begin() + (batch.levels.empty() ? 0 : n_settle));
  const Eigen::RowVectorXd settle = exact_chip->settle_time_s(learn::free_clamp(net, x_settle, levels_settle),
                                                               model::initial_state(net, x_settle), c.settle_tol,
                                                               settle_window_tau * circuit::tau_s(c.dm));
  out.settle_time_s = median(settle);
  out.settle_time_max_s = settle.maxCoeff();
  seconds.settle += lap.next();
}

void quality_metrics(const ChipContext& c, const metrics::Quality& q, ChipMetrics& out) {
  out.quality = q;
  out.frechet = q.frechet_distance;
  out.frechet_rise = q.frechet_distance / c.ideal_frechet - 1;
  out.coverage = q.classes_covered;
  out.confidence = q.mean_confidence;
}

}  // namespace

double ideal_frechet(const config::RunConfig& cfg, const model::Network& net, const data::Digits& digits,
                     const metrics::DigitClassifier& clf, int n, const learn::AnnealedLangevinOptions& schedule) {
  const Eigen::MatrixXd x = draw_samples(cfg, schedule, net, {}, cfg.sample.relax.temperature, n);
  return metrics::evaluate_samples(x, clf, digits).frechet_distance;
}

ChipResult evaluate_chip(const ChipContext& c, int chip, bool deploy, bool insitu) {
  ChipResult res;
  res.mismatch_seed = chip_mismatch_seed(chip);
  const auto b = backend::make_backend(c.backend, "backend");
  model::Network programmed = *c.ideal;
  learn::program_weights(programmed.params(), c.weights);
  if (deploy) {
    res.has_deploy = true;
    measure_fidelity(c, *b, programmed, res.mismatch_seed, chip, res.deploy, res.seconds_deploy);
    Lap lap;
    const auto read = chip_of(c, *b, programmed, res.mismatch_seed, c.readout);
    quality_metrics(c, sample_quality(c, programmed, backend::as_relaxer(*read), c.temperature, c.samples_path_deploy),
                    res.deploy);
    res.seconds_deploy.sampling = lap.next();
  }
  if (!insitu) return res;
  res.has_insitu = true;
  model::Network trained = *c.ideal;
  const auto read = chip_of(c, *b, trained, res.mismatch_seed, c.readout);
  const auto unread = chip_of(c, *b, trained, res.mismatch_seed, {});
  const auto product_read = c.products ? chip_of(c, *b, trained, res.mismatch_seed, gradient_readout(c)) : nullptr;
  learn::WeightProgramming wp = c.weights;
  wp.seed = wp.seed ^ res.mismatch_seed;
  learn::ProgrammedLearner learner(trained, chip_gradient(c, product_read ? *product_read : *read, *unread),
                                   c.record->train.adam, wp);
  const auto products = products_of(c, trained, res.mismatch_seed, 2);
  if (products)
    learner.set_gradient_readout([&products](learn::GradientResult& r, const learn::FlowBatch& batch) {
      products->read(r.grad, r.free_state, batch.levels);
    });
  learn::TrainOptions topt = c.record->train;
  topt.steps = c.insitu_steps;  // the config's batch stream from its first step: the data the chip would see again
  Lap lap;
  if (c.insitu_steps > 0)
    learn::train(learner, c.insitu_batches ? c.insitu_batches : batch_source(*c.cfg, c.digits->images), topt, 0, {});
  res.seconds_insitu.training = lap.next();
  measure_fidelity(c, *b, trained, res.mismatch_seed, chip, res.insitu, res.seconds_insitu);
  lap.next();
  quality_metrics(c, sample_quality(c, trained, backend::as_relaxer(*read), c.temperature, c.samples_path_insitu),
                  res.insitu);
  res.seconds_insitu.sampling = lap.next();
  res.insitu.writes_per_step = c.insitu_steps > 0 ? static_cast<double>(learner.writes()) / c.insitu_steps : 0;
  return res;
}

}  // namespace eqsim::study
