#pragma once
// Generation (DESIGN.md §3): Euler steps x <- x + dt*v(x, t) from x0 ~ N(0, I),
// for round(t_end/dt) steps (past t = 1 is "extended generation"), clamped to
// [-1, 1] at the end.
#include <Eigen/Core>
#include <functional>
#include <string>
#include <vector>

#include "learn/flow.hpp"
#include "learn/mlp.hpp"

namespace eqsim::learn {

enum class Readout { spring, energy_gradient };
Readout readout_from_string(const std::string& s);  // throws std::invalid_argument
std::string to_string(Readout r);

struct SampleOptions {
  int n = 1000;
  double t_end = 1.0;
  double dt = 0.01;
  unsigned long long seed = 1;
  Readout readout = Readout::spring;
  model::RelaxOptions relax;  // per velocity evaluation, warm-started from the previous one
  model::Relaxer relaxer;     // empty: the ideal network (model::relax)
};

// A velocity field: v at points x (dim x n), time t.
using VelocityField = std::function<Eigen::MatrixXd(const Eigen::MatrixXd& x, double t)>;

// Progress callback: (steps done, total steps).
using Progress = std::function<void(int, int)>;

Eigen::MatrixXd generate(const VelocityField& v, int dim, const SampleOptions& opt, const Progress& progress = {});

// The energy network's velocity: spring readout alpha*lambda*(x* - x), or energy-gradient
// readout -alpha*dE/dx with x held and only the hidden units relaxed. Keeps a warm state.
VelocityField energy_velocity(const model::Network& net, const SampleOptions& opt);

VelocityField mlp_velocity(const Mlp& mlp);

// Annealed Langevin sampling of a denoising-score model (DESIGN.md §4): the score at
// noise level k is s = alpha*lambda*(x* - x)/sigma_k, with the bias tables at column k;
// steps_per_level steps x += eta_k s + sqrt(2 eta_k) z with eta_k = step_scale *
// sigma_k^2/sigma_min^2 per level from sigma_max down, then one denoising step
// x += sigma_min^2 s. Starts from N(0, sigma_max^2 I); clamps to [-1, 1] at the end.
struct AnnealedLangevinOptions {
  std::vector<double> sigmas;  // decreasing
  int steps_per_level = 20;
  double step_scale = 2e-5;
  model::RelaxOptions relax{model::RelaxMethod::euler, 100, 0.1, 0};  // per score evaluation, warm-started
};

// A score field at points x (dim x n), noise level k (index into the schedule's sigmas).
using ScoreField = std::function<Eigen::MatrixXd(const Eigen::MatrixXd& x, int level)>;

// A spring velocity alpha*lambda*(x* - x) with x* relaxed under the bias tables at
// column `level`: the ideal relaxation or a circuit's (cli::CircuitVelocity).
using LevelVelocity = std::function<Eigen::MatrixXd(const Eigen::MatrixXd& x, int level)>;

// The denoising score read from the spring: s = v(x, k) / sigma_k.
ScoreField spring_score(LevelVelocity v, std::vector<double> sigmas);

// The score field of an energy network (the ideal relaxation, or relaxer's if set;
// warm-started state).
ScoreField energy_score(const model::Network& net, const AnnealedLangevinOptions& schedule,
                        const model::Relaxer& relaxer = {});

Eigen::MatrixXd generate_annealed(const ScoreField& score, int dim, const SampleOptions& opt,
                                  const AnnealedLangevinOptions& schedule, const Progress& progress = {});

}  // namespace eqsim::learn
