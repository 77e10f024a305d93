#pragma once
// FlowEqProp (DESIGN.md §3): conditional flow matching on an energy network
// whose velocity is read from the spring displacement, v = alpha*lambda*(x* - x_t),
// and whose gradient comes from equilibrium measurements (Gradient EP).
#include <Eigen/Core>
#include <string>

#include "model/implicit.hpp"
#include "model/relax.hpp"

namespace eqsim::learn {

enum class Estimator { symmetric, one_sided, exact };
std::string to_string(Estimator e);
Estimator estimator_from_string(const std::string& s);  // throws std::invalid_argument

// One minibatch of a velocity-matching loss L = 1/2|v - u_t|^2, v = alpha*lambda*(x* - x_t):
// flow matching (x_t on the path, u_t = x1 - x0) or denoising score matching
// (x_t = x + sigma*eps, u_t = -eps, so that v/sigma estimates the score).
struct FlowBatch {
  Eigen::MatrixXd x_t, u_t;  // 64 x B
  Eigen::RowVectorXd t;      // flow times (the energy network ignores them; the MLP baseline uses them)
  std::vector<int> levels;   // per-sample bias-table column (diffusion noise level); empty: none
  unsigned long long noise_seed = 0;  // thermal-noise stream of this batch's relaxations
};

// The spring clamp of the free phase at flow points x_t.
model::Clamp free_clamp(const model::Network& net, const Eigen::MatrixXd& x_t, const std::vector<int>& levels = {});

// The nudged clamp F_beta = E_spring + beta*L: a conductance beta*(alpha*lambda)^2*G
// to x_t + u_t/(alpha*lambda). Negative for beta < 0.
model::Clamp nudged_clamp(const model::Network& net, const FlowBatch& b, double beta);

// Largest |beta| for which the visible node stays stable in the -beta phase:
// G*(1 + lambda) > |beta|*(alpha*lambda)^2*G.
double max_stable_beta(const model::NetworkSpec& spec);

// v = alpha*lambda*(x* - x_t) from a free equilibrium.
Eigen::MatrixXd spring_velocity(const model::Network& net, const model::State& s, const Eigen::MatrixXd& x_t);

// Per-sample 1/2 |v - u_t|^2 (1 x B).
Eigen::RowVectorXd flow_loss(const Eigen::MatrixXd& v, const Eigen::MatrixXd& u_t);

struct GradientOptions {
  Estimator estimator = Estimator::symmetric;
  double beta = 1.25e-3;
  model::RelaxOptions free_relax;    // free phase (from the given warm state)
  model::RelaxOptions nudged_relax;  // each nudged phase, warm-started from the free one
  model::AdjointOptions adjoint;     // exact estimator
  model::Relaxer relaxer;            // empty: the ideal network (model::relax)
};

struct GradientResult {
  model::ParamList grad;       // mean over the batch of dL/dtheta (estimate)
  double loss = 0;             // mean 1/2|v - u_t|^2 at the free equilibrium
  model::RelaxSummary free_summary;
  model::State free_state;
};

// Runs the free phase from `start` (visible at x_t, hidden at 0 when empty) and the
// estimator's nudged phases or adjoint solve.
GradientResult flow_gradient(const model::Network& net, const FlowBatch& b, const GradientOptions& opt,
                             const model::State* start = nullptr);

// Mean loss of the batch at the free equilibrium (for finite differences).
double flow_batch_loss(const model::Network& net, const FlowBatch& b, const model::RelaxOptions& relax);

}  // namespace eqsim::learn
