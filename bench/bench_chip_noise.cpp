// The chip model's thermal noise on a trained network (default: FlowEqProp of the
// default config) at sigma 3 %, 300 K: for a few inputs of a batch, the readout's
// sampler (readings drawn by the linearised node dynamics) against the exact Lyapunov
// covariance of the same chip and state (worst per-node variance ratio, worst
// covariance error over sqrt(var_i var_j)); and the time of one Lyapunov solve, of one
// noisy reading and of one relaxation of a batch of 256.
// Usage: bench_chip_noise MODEL_DIR [inputs=3] [readings=4000]
#include <Eigen/Core>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "circuit/equivalent.hpp"
#include "config/device_model_yaml.hpp"
#include "config/model_dir.hpp"
#include "config/run_config.hpp"
#include "data/digits.hpp"
#include "learn/flow.hpp"
#include "study/jobs.hpp"

using namespace eqsim;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

model::State columns(const model::State& s, Eigen::Index b, Eigen::Index n) {
  model::State out = s;
  for (auto* v : {&out.u, &out.a})
    for (auto& m : *v) m = m.col(b).replicate(1, n).eval();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Eigen::setNbThreads(1);
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_chip_noise MODEL_DIR [inputs=3] [readings=4000]\n");
    return 2;
  }
  const int inputs = argc > 2 ? std::atoi(argv[2]) : 3;
  const Eigen::Index readings = argc > 3 ? std::atol(argv[3]) : 4000;
  auto cfg = config::load_run_config("");
  const auto net = config::load_model_dir(argv[1]);
  const auto digits = data::load_digits("");
  cfg.train.batch_size = 256;
  const learn::FlowBatch batch = study::batch_source(cfg, digits.images)(1);
  const auto dm = circuit::with_relative_mismatch(
      config::load_device_model(std::string(EQSIM_SOURCE_DIR) + "/device_models/generic-65nm.yaml"), 0.03);
  const double T = circuit::model_temperature(dm, 300);
  const circuit::EquivalentCircuit exact(net, circuit::draw_factors(net, dm, 1000), dm.noise_gamma);
  const model::RelaxOptions relaxed{model::RelaxMethod::block, 2000, 0.1, 1e-12};
  model::State s = model::initial_state(net, batch.x_t);
  auto t0 = Clock::now();
  exact.relax(learn::free_clamp(net, batch.x_t), s, {model::RelaxMethod::block, 20, 0.1, 0});
  const double relax_s = seconds_since(t0);
  exact.relax(learn::free_clamp(net, batch.x_t), s, relaxed);
  t0 = Clock::now();
  model::State read = s;
  exact.relax(learn::free_clamp(net, batch.x_t), read, {model::RelaxMethod::block, 1, 0.1, 0, T, 3});
  const double read_s = seconds_since(t0);
  std::printf("chip model thermal noise, FlowEqProp (%d nodes), sigma 3 %%, 300 K, chip 1000:\n", 320);
  for (int k = 0; k < inputs; ++k) {
    const Eigen::Index b = 37 * k;
    t0 = Clock::now();
    const Eigen::MatrixXd P = exact.noise_covariance(learn::free_clamp(net, batch.x_t.col(b)), columns(s, b, 1), T, 0);
    const double lyap_s = seconds_since(t0);
    model::State r = columns(s, b, readings);
    exact.relax(learn::free_clamp(net, batch.x_t.col(b).replicate(1, readings)), r,
                {model::RelaxMethod::block, 1, 0.1, 0, T, 11 + static_cast<unsigned long long>(k)});
    Eigen::MatrixXd x(P.rows(), readings);
    x << r.u[0], r.u[1], r.u[2];
    const Eigen::MatrixXd d = x.colwise() - x.rowwise().mean();
    const Eigen::MatrixXd C = d * d.transpose() / double(readings - 1);
    double worst_ratio = 1, worst_cov = 0;
    const Eigen::VectorXd sd = P.diagonal().cwiseSqrt();
    for (Eigen::Index i = 0; i < P.rows(); ++i) {
      worst_ratio = std::max({worst_ratio, C(i, i) / P(i, i), P(i, i) / C(i, i)});
      for (Eigen::Index j = 0; j < i; ++j) worst_cov = std::max(worst_cov, std::abs(C(i, j) - P(i, j)) / (sd(i) * sd(j)));
    }
    std::printf("  input %ld: sampler (%ld readings, sampling error ~%.3f) vs Lyapunov: worst variance ratio %.4f, worst "
                "covariance error %.4f; Lyapunov solve %.3f s; largest |correlation| %.3f\n",
                static_cast<long>(b), static_cast<long>(readings), std::sqrt(2.0 / readings), worst_ratio, worst_cov, lyap_s,
                [&] {
                  const Eigen::MatrixXd corr = sd.cwiseInverse().asDiagonal() * P * sd.cwiseInverse().asDiagonal();
                  return (corr - Eigen::MatrixXd::Identity(P.rows(), P.rows())).cwiseAbs().maxCoeff();
                }());
  }
  std::printf("  batch of 256: relaxation (20 block sweeps) %.3f s, one noisy reading %.3f s\n", relax_s, read_s);
  return 0;
}
