#pragma once
// Exact gradient of a loss of the visible equilibrium by implicit
// differentiation (DESIGN.md §4): at a converged free equilibrium s* of the
// clamped energy F, dL/dtheta = -(d2F/dtheta da)^T H^{-1} dL/da, H = d2F/da2.
#include <Eigen/Core>

#include "model/relax.hpp"

namespace eqsim::model {

struct AdjointOptions {
  int max_iterations = 2000;
  double rel_tol = 1e-10;  // per-sample ||H lambda - g|| / ||g||
};

struct AdjointSummary {
  int iterations = 0;        // inner iterations, worst column chunk
  double rel_residual = 0;  // worst sample
  bool converged = false;
};

// H p for every sample (columns), at the outputs in s, with clamp conductances.
std::vector<Eigen::MatrixXd> hessian_apply(const Network& net, const Clamp& clamp, const State& s,
                                           const std::vector<Eigen::MatrixXd>& p);

// Solves H lambda = g per sample: the modules coupled neither to each other nor to
// themselves are eliminated exactly (FlowEqProp: x and h2), and the Schur complement on
// the rest is solved by Jacobi-scaled MINRES (H may be indefinite at a state short of its
// minimum) in float32 rounds, each refined against the float64 residual, so the result
// meets rel_tol on the float64 residual ||H lambda - g|| / ||g|| per sample whatever the
// inner precision. On a paper-scale FlowEqProp batch at rel_tol 1e-6: ~2.4x less CPU than
// Jacobi-preconditioned CG on the whole of H (57 against 137 ms, one thread).
AdjointSummary solve_adjoint(const Network& net, const Clamp& clamp, const State& s,
                             const std::vector<Eigen::MatrixXd>& g, std::vector<Eigen::MatrixXd>& lambda,
                             const AdjointOptions& opt = {});

// Mean over the batch of dL/dtheta given the adjoint lambda = H^{-1} dL/da:
// the directional derivative of -dE/dtheta at a along lambda.
ParamList implicit_param_grad(const Network& net, const Clamp& clamp, const State& s,
                              const std::vector<Eigen::MatrixXd>& lambda);

// Dense H of one sample (all modules stacked in order), for tests and small nets.
Eigen::MatrixXd dense_hessian(const Network& net, const Clamp& clamp, const State& s, int sample);

}  // namespace eqsim::model
