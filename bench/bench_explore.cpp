// Chip evaluations per minute (the exploration's unit of work: deploy + in situ on one
// chip), the chips run as a task batch on the default executor (as many at once as
// OMP_NUM_THREADS), with the time of each stage per chip, at one of two settings:
//   mismatch: `eqsim run`'s mismatch stage on the default config (its sigmas, noise off
//             and on at its temperature, analog weights and readings, its samples,
//             in-situ steps and gradient batch): chip k is the stage's chip
//             (noise k % 2, sigma k / 2 over the sigmas), so 8 chips cover its grid once;
//   explore:  sigma 3 %, 300 K, the ADC's and the weights' bits of the device model.
// Usage: bench_explore MODEL_DIR [chips=8] [settings=mismatch] [samples] [insitu_steps] [KEY=VALUE ...]
// (MODEL_DIR: `eqsim train` of the default config, e.g. DIR/ep/model of `eqsim run`;
// KEY=VALUE: run-config overrides, as eqsim's --set, e.g. sample.relax.tol=1e-5).
#include <Eigen/Core>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "config/device_model_yaml.hpp"
#include "config/energy_yaml.hpp"
#include "config/model_dir.hpp"
#include "study/chip.hpp"
#include "study/jobs.hpp"
#include "study/tasks.hpp"

using namespace eqsim;

namespace {

struct Totals {
  int chips = 0;
  double wall_s = 0;
  study::ChipSeconds deploy, insitu;
  double cosine_deploy = 0, cosine_insitu = 0, rise_deploy = 0, rise_insitu = 0;

  void add(const study::ChipResult& r, double wall) {
    ++chips, wall_s += wall;
    for (auto [to, from] : {std::pair{&deploy, &r.seconds_deploy}, std::pair{&insitu, &r.seconds_insitu}}) {
      to->training += from->training, to->gradient += from->gradient;
      to->settle += from->settle, to->sampling += from->sampling;
    }
    cosine_deploy += r.deploy.gradient_cosine, cosine_insitu += r.insitu.gradient_cosine;
    rise_deploy += r.deploy.frechet_rise, rise_insitu += r.insitu.frechet_rise;
  }

  void print(const char* what) const {
    if (chips == 0) return;
    const double n = chips;
    std::printf("  %s (%d chips): %.2f s per chip (its own wall time); EP-gradient cosine deploy %.3f, in situ %.3f; "
                "Frechet rise deploy %.3f, in situ %.3f\n",
                what, chips, wall_s / n, cosine_deploy / n, cosine_insitu / n, rise_deploy / n, rise_insitu / n);
    std::printf("    per chip, s: deploy  gradient %.2f  settle %.2f  sampling %.2f\n", deploy.gradient / n,
                deploy.settle / n, deploy.sampling / n);
    std::printf("                 in situ training %.2f  gradient %.2f  settle %.2f  sampling %.2f\n", insitu.training / n,
                insitu.gradient / n, insitu.settle / n, insitu.sampling / n);
  }
};

}  // namespace

int main(int argc, char** argv) {
  Eigen::setNbThreads(1);
  std::vector<std::string> positional, overrides;
  for (int i = 1; i < argc; ++i) (std::string(argv[i]).find('=') != std::string::npos ? overrides : positional).push_back(argv[i]);
  auto arg = [&](size_t k) { return k < positional.size() ? positional[k].c_str() : nullptr; };
  if (positional.empty()) {
    std::fprintf(stderr, "usage: bench_explore MODEL_DIR [chips=8] [settings=mismatch|explore] [samples] [insitu_steps] [KEY=VALUE ...]\n");
    return 2;
  }
  const std::string model_dir = positional.at(0);
  const int chips = arg(1) ? std::atoi(arg(1)) : 8;
  const std::string settings = arg(2) ? arg(2) : "mismatch";
  if (settings != "mismatch" && settings != "explore") {
    std::fprintf(stderr, "settings: mismatch or explore\n");
    return 2;
  }
  auto cfg = config::load_run_config("", overrides);
  const auto& ms = cfg.mismatch;
  const auto record = *config::load_training_record(model_dir);
  cfg.train = record.train;
  const auto net = config::load_model_dir(model_dir);
  const auto digits = data::load_digits("");
  const metrics::DigitClassifier clf(digits);
  const std::string dm_path = std::string(EQSIM_SOURCE_DIR) + "/" + ms.device_model;
  const auto dm = config::load_device_model(dm_path);
  const auto ep = config::load_energy_params(dm_path);
  study::ChipContext c;
  c.cfg = &cfg;
  c.record = &record;
  c.digits = &digits;
  c.clf = &clf;
  c.ideal = &net;
  c.samples = arg(3) ? std::atoi(arg(3)) : ms.samples;
  c.insitu_steps = arg(4) ? std::atoi(arg(4)) : ms.insitu_steps;
  c.gradient_batch = ms.gradient_batch;
  c.settle_tol = ms.settle_tol;
  if (settings == "explore") {
    c.readout = {1, static_cast<int>(ep.adc_bits), cfg.readout.full_scale_model};
    c.weights = {static_cast<int>(ep.weight_bits), cfg.weights.update, cfg.weights.headroom, 0};
  }
  c.ideal_frechet = study::ideal_frechet(cfg, net, digits, clf, c.samples);
  c.insitu_batches = study::shared_batches(study::batch_source(cfg, digits.images));
  // The chips as a task batch on the default executor, as explore and the mismatch study
  // run them: as many at once as there are OpenMP threads.
  std::vector<study::ChipResult> results(static_cast<size_t>(chips));
  std::vector<double> wall(static_cast<size_t>(chips));
  study::TaskBatch batch;
  for (int k = 0; k < chips; ++k) batch.tasks.push_back(std::to_string(k));
  auto noisy_chip = [&](int k) { return settings == "explore" || k % 2 == 1; };
  batch.compute = [&](const std::string& task) {
    const int k = std::stoi(task);
    study::ChipContext ck = c;
    const double sigma = settings == "explore" ? 0.03 : ms.sigmas[static_cast<size_t>(k / 2) % ms.sigmas.size()];
    ck.dm = circuit::with_relative_mismatch(dm, sigma);
    ck.temperature = noisy_chip(k) ? circuit::model_temperature(dm, ms.temperature_K) : 0.0;
    const auto t0 = std::chrono::steady_clock::now();
    results[static_cast<size_t>(k)] = study::evaluate_chip(ck, k, true, ck.insitu_steps > 0);
    wall[static_cast<size_t>(k)] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return std::string();
  };
  batch.store = [](size_t, const std::string&) {};
  const auto t0 = std::chrono::steady_clock::now();
  study::run_tasks(batch);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Totals noiseless, noisy;
  for (int k = 0; k < chips; ++k) (noisy_chip(k) ? noisy : noiseless).add(results[static_cast<size_t>(k)], wall[static_cast<size_t>(k)]);
  std::printf("chip evaluations, deploy + in situ, %s settings (%d samples, %d in-situ steps, gradient batch %d, "
              "OMP_NUM_THREADS=%s):\n",
              settings.c_str(), c.samples, c.insitu_steps, c.gradient_batch,
              std::getenv("OMP_NUM_THREADS") ? std::getenv("OMP_NUM_THREADS") : "unset");
  for (const auto& o : overrides) std::printf("  override %s\n", o.c_str());
  noiseless.print("noise off");
  noisy.print(settings == "explore" ? "noise at 300 K, ADC and weight codes" : "noise on");
  std::printf("  all, chips at once on the threads: %.1f s for %d chips, %.2f s per chip, %.1f chips per minute\n", elapsed,
              chips, elapsed / chips, 60 * chips / elapsed);
  std::printf("  reference: eqsim run's mismatch stage before the exploration existed: 8.4 s per chip (7.1 chips/min)\n");
  return 0;
}
