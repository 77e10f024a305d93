// The chip model's thermal noise on a trained network (default: FlowEqProp of the
// default config) at sigma 3 %, 300 K: for a few inputs of a batch, the readout's
// sampler (readings drawn by the linearised node dynamics) against the exact Lyapunov
// covariance of the same chip and state (worst per-node variance ratio, worst
// covariance error over sqrt(var_i var_j)); and the time of one Lyapunov solve, of one
// noisy reading and of one relaxation of a batch of 256. Per sampler step (0.1, 0.5,
// 1, 2 tau): the first call's readings (a new process) and the next call's (carried on),
// each against Lyapunov, and the correlation of a node's readings in the two calls.
// Usage: bench_chip_noise MODEL_DIR [inputs=3] [readings=4000]
#include <Eigen/Core>
#include <algorithm>
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

// The readings' deviations from their mean over the batch (one row per node, P's order).
Eigen::MatrixXd deviations(const model::State& r) {
  Eigen::MatrixXd x(r.u[0].rows() + r.u[1].rows() + r.u[2].rows(), r.batch());
  x << r.u[0], r.u[1], r.u[2];
  return x.colwise() - x.rowwise().mean();
}

struct Fit {
  double worst_ratio = 1, mean_ratio = 0, worst_cov = 0;
};

// The readings' covariance against P: per-node variance ratio (worst either way, mean),
// worst covariance error over sqrt(var_i var_j).
Fit against(const Eigen::MatrixXd& d, const Eigen::MatrixXd& P) {
  const Eigen::MatrixXd C = d * d.transpose() / double(d.cols() - 1);
  const Eigen::VectorXd sd = P.diagonal().cwiseSqrt();
  Fit f;
  for (Eigen::Index i = 0; i < P.rows(); ++i) {
    f.worst_ratio = std::max({f.worst_ratio, C(i, i) / P(i, i), P(i, i) / C(i, i)});
    f.mean_ratio += C(i, i) / P(i, i) / static_cast<double>(P.rows());
    for (Eigen::Index j = 0; j < i; ++j) f.worst_cov = std::max(f.worst_cov, std::abs(C(i, j) - P(i, j)) / (sd(i) * sd(j)));
  }
  return f;
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
  const circuit::EquivalentCircuit chip(net, circuit::draw_factors(net, dm, 1000), dm.noise_gamma, circuit::ChipReadout{});
  model::State read = s;
  t0 = Clock::now();
  chip.relax(learn::free_clamp(net, batch.x_t), read, {model::RelaxMethod::block, 1, 0.1, 0, T, 3});
  const double read_s = seconds_since(t0);
  t0 = Clock::now();
  chip.relax(learn::free_clamp(net, batch.x_t), read, {model::RelaxMethod::block, 1, 0.1, 0, T, 3});
  const double carried_s = seconds_since(t0);
  std::printf("chip model thermal noise, FlowEqProp (%d nodes), sigma 3 %%, 300 K, chip 1000:\n", 320);
  for (int k = 0; k < inputs; ++k) {
    const Eigen::Index b = 37 * k;
    t0 = Clock::now();
    const Eigen::MatrixXd P = exact.noise_covariance(learn::free_clamp(net, batch.x_t.col(b)), columns(s, b, 1), T, 0);
    const double lyap_s = seconds_since(t0);
    const Eigen::VectorXd sd = P.diagonal().cwiseSqrt();
    const Eigen::MatrixXd corr = sd.cwiseInverse().asDiagonal() * P * sd.cwiseInverse().asDiagonal();
    std::printf("  input %ld: Lyapunov solve %.3f s, largest |correlation| between nodes %.3f; the sampler's readings "
                "(%ld, sampling error ~%.3f on a variance) against it:\n",
                static_cast<long>(b), lyap_s, (corr - Eigen::MatrixXd::Identity(P.rows(), P.rows())).cwiseAbs().maxCoeff(),
                static_cast<long>(readings), std::sqrt(2.0 / readings));
    const model::Clamp clamp = learn::free_clamp(net, batch.x_t.col(b).replicate(1, readings));
    for (const double step : {0.1, 0.5, 1.0, 2.0}) {
      circuit::ChipReadout r;
      r.noise_step_tau = step;
      const circuit::EquivalentCircuit chip(net, circuit::draw_factors(net, dm, 1000), dm.noise_gamma, r);
      // A new process (settled noise_settle_tau), then the same process carried on to a second call.
      model::State first = columns(s, b, readings), second = first;
      const model::RelaxOptions read{model::RelaxMethod::block, 1, 0.1, 0, T, 11 + static_cast<unsigned long long>(k)};
      t0 = Clock::now();
      chip.relax(clamp, first, read);
      const double first_s = seconds_since(t0);
      t0 = Clock::now();
      chip.relax(clamp, second, read);
      const double second_s = seconds_since(t0);
      const Eigen::MatrixXd d1 = deviations(first), d2 = deviations(second);
      for (const auto& [label, d] : {std::pair{"first call", &d1}, std::pair{"carried on", &d2}}) {
        const Fit fit = against(*d, P);
        std::printf("    step %.2f tau, %s: variance ratio worst %.4f, mean %.4f; worst covariance error %.4f\n", step, label,
                    fit.worst_ratio, fit.mean_ratio, fit.worst_cov);
      }
      const Eigen::ArrayXd lag = ((d1.array() * d2.array()).rowwise().sum() /
                                  (d1.rowwise().norm().array() * d2.rowwise().norm().array()));
      std::vector<double> l(lag.data(), lag.data() + lag.size());
      std::sort(l.begin(), l.end());
      std::printf("    step %.2f tau: correlation of a node's readings in successive calls (%.1f tau apart) median %.3f, "
                  "largest %.3f; time per call %.3f s (new process) / %.3f s (carried)\n",
                  step, r.call_interval_tau, l[l.size() / 2], l.back(), first_s, second_s);
    }
  }
  std::printf("  batch of 256 (default readout): relaxation (20 block sweeps) %.3f s, a noisy reading %.3f s (new process) / "
              "%.3f s (carried on)\n", relax_s, read_s, carried_s);
  return 0;
}
