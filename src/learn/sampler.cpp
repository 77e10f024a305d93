#include "learn/sampler.hpp"

#include <cmath>
#include <memory>
#include <random>
#include <stdexcept>

namespace eqsim::learn {

Readout readout_from_string(const std::string& s) {
  if (s == "spring") return Readout::spring;
  if (s == "energy_gradient") return Readout::energy_gradient;
  throw std::invalid_argument("unknown readout '" + s + "' (spring, energy_gradient)");
}

std::string to_string(Readout r) { return r == Readout::spring ? "spring" : "energy_gradient"; }

Eigen::MatrixXd generate(const VelocityField& v, int dim, const SampleOptions& opt, const Progress& progress) {
  std::mt19937_64 rng(opt.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Eigen::MatrixXd x(dim, opt.n);
  for (Eigen::Index k = 0; k < x.size(); ++k) x.data()[k] = normal(rng);
  const int steps = static_cast<int>(std::lround(opt.t_end / opt.dt));
  for (int k = 0; k < steps; ++k) {
    x += opt.dt * v(x, k * opt.dt);
    if (progress) progress(k + 1, steps);
  }
  return x.cwiseMax(-1.0).cwiseMin(1.0);
}

VelocityField energy_velocity(const model::Network& net, const SampleOptions& opt) {
  auto state = std::make_shared<model::State>();
  return [&net, opt, state](const Eigen::MatrixXd& x, double) -> Eigen::MatrixXd {
    if (state->batch() != x.cols()) *state = model::initial_state(net, x);
    model::Clamp clamp = free_clamp(net, x);
    const int vis = net.spec().visible;
    if (opt.readout == Readout::spring) {
      model::relax_with(opt.relaxer, net, clamp, *state, opt.relax);
      return spring_velocity(net, *state, x);
    }
    clamp.hold_visible = true;
    model::relax_with(opt.relaxer, net, clamp, *state, opt.relax);
    // -alpha dE/dx with the spring excluded: alpha * (net current into x from the network).
    const Eigen::MatrixXd f = model::module_input(net, clamp, *state, vis) - net.spec().leak * x;
    return net.spec().alpha * f;
  };
}

ScoreField spring_score(LevelVelocity v, std::vector<double> sigmas) {
  return [v = std::move(v), sigmas = std::move(sigmas)](const Eigen::MatrixXd& x, int level) -> Eigen::MatrixXd {
    return v(x, level) / sigmas.at(static_cast<size_t>(level));
  };
}

ScoreField energy_score(const model::Network& net, const AnnealedLangevinOptions& schedule, const model::Relaxer& relaxer) {
  auto state = std::make_shared<model::State>();
  return spring_score(
      [&net, relax = schedule.relax, relaxer, state](const Eigen::MatrixXd& x, int level) -> Eigen::MatrixXd {
        if (state->batch() != x.cols()) *state = model::initial_state(net, x);
        const model::Clamp clamp = free_clamp(net, x, std::vector<int>(x.cols(), level));
        model::relax_with(relaxer, net, clamp, *state, relax);
        return spring_velocity(net, *state, x);
      },
      schedule.sigmas);
}

Eigen::MatrixXd generate_annealed(const ScoreField& score, int dim, const SampleOptions& opt,
                                  const AnnealedLangevinOptions& schedule, const Progress& progress) {
  std::mt19937_64 rng(opt.seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  const auto& sig = schedule.sigmas;
  Eigen::MatrixXd x(dim, opt.n), z(dim, opt.n);
  for (Eigen::Index k = 0; k < x.size(); ++k) x.data()[k] = sig.front() * normal(rng);
  const int levels = static_cast<int>(sig.size()), total = levels * schedule.steps_per_level + 1;
  int done = 0;
  for (int k = 0; k < levels; ++k) {
    const double eta = schedule.step_scale * sig[k] * sig[k] / (sig.back() * sig.back());
    for (int s = 0; s < schedule.steps_per_level; ++s) {
      for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = normal(rng);
      x += eta * score(x, k) + std::sqrt(2 * eta) * z;
      if (progress) progress(++done, total);
    }
  }
  x += sig.back() * sig.back() * score(x, levels - 1);
  if (progress) progress(total, total);
  return x.cwiseMax(-1.0).cwiseMin(1.0);
}

VelocityField mlp_velocity(const Mlp& mlp) {
  return [&mlp](const Eigen::MatrixXd& x, double t) { return mlp.velocity(x, t); };
}

}  // namespace eqsim::learn
