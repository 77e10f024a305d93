// Chip evaluations per minute (the exploration's unit of work), deploy and in situ, at
// the default mismatch-study settings (300 samples, 100 in-situ steps, gradient batch
// 64, sigma 3 %, 300 K) unless given, with the time of each strategy.
// Usage: bench_explore MODEL_DIR [chips=4] [samples=300] [insitu_steps=100]
// (MODEL_DIR: `eqsim train` of the default config, e.g. DIR/ep/model of `eqsim run`).
#include <Eigen/Core>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "config/device_model_yaml.hpp"
#include "config/energy_yaml.hpp"
#include "config/model_dir.hpp"
#include "study/chip.hpp"

using namespace eqsim;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  Eigen::setNbThreads(1);
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_explore MODEL_DIR [chips=4] [samples=300] [insitu_steps=100]\n");
    return 2;
  }
  const std::string model_dir = argv[1];
  const int chips = argc > 2 ? std::atoi(argv[2]) : 4;
  auto cfg = config::load_run_config("");
  const auto record = *config::load_training_record(model_dir);
  cfg.train = record.train;
  const auto net = config::load_model_dir(model_dir);
  const auto digits = data::load_digits("");
  const metrics::DigitClassifier clf(digits);
  const std::string dm_path = std::string(EQSIM_SOURCE_DIR) + "/device_models/generic-65nm.yaml";
  const auto ep = config::load_energy_params(dm_path);
  study::ChipContext c;
  c.cfg = &cfg;
  c.record = &record;
  c.digits = &digits;
  c.clf = &clf;
  c.ideal = &net;
  c.dm = circuit::with_relative_mismatch(config::load_device_model(dm_path), 0.03);
  c.temperature = circuit::model_temperature(c.dm, 300);
  c.readout = {1, static_cast<int>(ep.adc_bits), 2.0};
  c.weights = {static_cast<int>(ep.weight_bits), learn::WeightUpdate::shadow, 1.25, 0};
  c.samples = argc > 3 ? std::atoi(argv[3]) : 300;
  c.insitu_steps = argc > 4 ? std::atoi(argv[4]) : 100;
  c.ideal_frechet = study::ideal_frechet(cfg, net, digits, clf, c.samples);
  double deploy_s = 0, both_s = 0, cosine_deploy = 0, cosine_insitu = 0;
  for (int k = 0; k < chips; ++k) {
    auto t0 = Clock::now();
    study::evaluate_chip(c, k, true, false);
    deploy_s += std::chrono::duration<double>(Clock::now() - t0).count();
    t0 = Clock::now();
    const auto res = study::evaluate_chip(c, k, true, true);
    both_s += std::chrono::duration<double>(Clock::now() - t0).count();
    cosine_deploy += res.deploy.gradient_cosine / chips;
    cosine_insitu += res.insitu.gradient_cosine / chips;
  }
  std::printf("chip evaluations (%d chips, %d samples, %d in-situ steps, %s threads):\n", chips, c.samples, c.insitu_steps,
              std::getenv("OMP_NUM_THREADS") ? std::getenv("OMP_NUM_THREADS") : "default");
  std::printf("  deploy only:        %.2f s per chip, %.1f chips per minute\n", deploy_s / chips, 60 * chips / deploy_s);
  std::printf("  in situ (alone):    %.2f s per chip\n", (both_s - deploy_s) / chips);
  std::printf("  deploy + in situ:   %.2f s per chip, %.1f chips per minute\n", both_s / chips, 60 * chips / both_s);
  std::printf("  EP-gradient cosine with the exact gradient (mean over the chips): deploy %.3f, in situ %.3f\n", cosine_deploy,
              cosine_insitu);
  std::printf("  reference: eqsim run's mismatch stage before this benchmark existed: 8.4 s per chip (7.1 chips/min)\n");
  return 0;
}
