#include "model/implicit.hpp"

#include <algorithm>
#include <cmath>

namespace eqsim::model {
namespace {

// Diagonal of H per module: G / rho'(u) (+ clamp conductance on the visible module).
std::vector<Eigen::MatrixXd> hessian_diagonal(const Network& net, const Clamp& clamp, const State& s) {
  const double G = net.spec().leak;
  std::vector<Eigen::MatrixXd> d(net.module_count());
  for (int m = 0; m < net.module_count(); ++m) {
    if (net.spec().modules[m].activation == Activation::tanh)
      d[m] = (G / (1.0 - s.a[m].array().square()).max(1e-300)).matrix();
    else
      d[m] = Eigen::MatrixXd::Constant(s.a[m].rows(), s.a[m].cols(), G);
    if (m == net.spec().visible) d[m].array() += clamp.spring_g + clamp.nudge_g;
  }
  return d;
}

Eigen::RowVectorXd col_dot(const std::vector<Eigen::MatrixXd>& x, const std::vector<Eigen::MatrixXd>& y) {
  Eigen::RowVectorXd r = Eigen::RowVectorXd::Zero(x[0].cols());
  for (size_t m = 0; m < x.size(); ++m) r += (x[m].array() * y[m].array()).colwise().sum().matrix();
  return r;
}

// H p, given H's diagonal d.
std::vector<Eigen::MatrixXd> apply_hessian(const Network& net, const std::vector<Eigen::MatrixXd>& d,
                                           const std::vector<Eigen::MatrixXd>& p) {
  std::vector<Eigen::MatrixXd> hp(net.module_count());
  for (int m = 0; m < net.module_count(); ++m)
    hp[m] = (d[m].array() * p[m].array()).matrix() - coupling_input(net, p, m);
  return hp;
}

}  // namespace

std::vector<Eigen::MatrixXd> hessian_apply(const Network& net, const Clamp& clamp, const State& s,
                                           const std::vector<Eigen::MatrixXd>& p) {
  return apply_hessian(net, hessian_diagonal(net, clamp, s), p);
}

namespace {

// Jacobi-preconditioned CG, every column its own system (col_dot keeps them apart).
AdjointSummary solve_adjoint_columns(const Network& net, const Clamp& clamp, const State& s,
                                     const std::vector<Eigen::MatrixXd>& g, std::vector<Eigen::MatrixXd>& lambda,
                                     const AdjointOptions& opt) {
  const int M = net.module_count();
  const auto d = hessian_diagonal(net, clamp, s);
  lambda.assign(M, Eigen::MatrixXd());
  std::vector<Eigen::MatrixXd> r = g, z(M), p(M);
  for (int m = 0; m < M; ++m) {
    lambda[m] = Eigen::MatrixXd::Zero(g[m].rows(), g[m].cols());
    z[m] = (r[m].array() / d[m].array()).matrix();
    p[m] = z[m];
  }
  const Eigen::RowVectorXd g_norm = col_dot(g, g).cwiseSqrt().cwiseMax(1e-300);
  Eigen::RowVectorXd rz = col_dot(r, z);
  AdjointSummary sum;
  for (sum.iterations = 0; sum.iterations < opt.max_iterations; ++sum.iterations) {
    sum.rel_residual = (col_dot(r, r).cwiseSqrt().array() / g_norm.array()).maxCoeff();
    if (sum.rel_residual < opt.rel_tol) {
      sum.converged = true;
      break;
    }
    const auto hp = apply_hessian(net, d, p);
    const Eigen::RowVectorXd php = col_dot(p, hp);
    const Eigen::RowVectorXd step = (php.array().abs() > 0).select(rz.array() / php.array(), 0.0);
    for (int m = 0; m < M; ++m) {
      lambda[m] += p[m] * step.asDiagonal();
      r[m] -= hp[m] * step.asDiagonal();
      z[m] = (r[m].array() / d[m].array()).matrix();
    }
    const Eigen::RowVectorXd rz_new = col_dot(r, z);
    const Eigen::RowVectorXd ratio = (rz.array().abs() > 0).select(rz_new.array() / rz.array(), 0.0);
    for (int m = 0; m < M; ++m) p[m] = z[m] + p[m] * ratio.asDiagonal();
    rz = rz_new;
  }
  return sum;
}

std::vector<Eigen::MatrixXd> slice(const std::vector<Eigen::MatrixXd>& x, Eigen::Index c0, Eigen::Index n) {
  std::vector<Eigen::MatrixXd> out;
  for (const auto& m : x) out.push_back(m.middleCols(c0, n));
  return out;
}

}  // namespace

AdjointSummary solve_adjoint(const Network& net, const Clamp& clamp, const State& s,
                             const std::vector<Eigen::MatrixXd>& g, std::vector<Eigen::MatrixXd>& lambda,
                             const AdjointOptions& opt) {
  const auto chunks = column_chunks(s.batch());
  if (chunks.size() == 1) return solve_adjoint_columns(net, clamp, s, g, lambda, opt);
  lambda.assign(net.module_count(), Eigen::MatrixXd());
  for (int m = 0; m < net.module_count(); ++m) lambda[m].resize(g[m].rows(), g[m].cols());
  std::vector<AdjointSummary> sums(chunks.size());
  for_each_chunk(chunks.size(), [&](size_t k) {
    const auto [c0, n] = chunks[k];
    std::vector<Eigen::MatrixXd> part;
    sums[k] = solve_adjoint_columns(net, slice(clamp, c0, n), slice(s, c0, n), slice(g, c0, n), part, opt);
    for (int m = 0; m < net.module_count(); ++m) lambda[m].middleCols(c0, n) = part[m];
  });
  AdjointSummary sum;
  sum.converged = true;
  for (const auto& p : sums) {
    sum.iterations = std::max(sum.iterations, p.iterations);
    sum.rel_residual = std::max(sum.rel_residual, p.rel_residual);
    sum.converged = sum.converged && p.converged;
  }
  return sum;
}

ParamList implicit_param_grad(const Network& net, const Clamp& clamp, const State& s,
                              const std::vector<Eigen::MatrixXd>& lambda) {
  ParamList g = net.zeros_like();
  const double inv_b = 1.0 / s.batch();
  for (int m = 0; m < net.module_count(); ++m) {
    g[net.bias_index(m)] = inv_b * lambda[m].rowwise().sum();
    if (const int t = net.table_index(m); t >= 0)
      for (Eigen::Index b = 0; b < lambda[m].cols(); ++b) g[t].col(clamp.levels.at(b)) += inv_b * lambda[m].col(b);
  }
  const auto& cs = net.spec().couplings;
  for (int c = 0; c < static_cast<int>(cs.size()); ++c) {
    const auto &ap = s.a[cs[c].p], &aq = s.a[cs[c].q];
    const auto &lp = lambda[cs[c].p], &lq = lambda[cs[c].q];
    if (net.is_self(c)) {
      g[net.w_index(c)].noalias() = 0.5 * inv_b * (lp * ap.transpose() + ap * lp.transpose());
      g[net.w_index(c)].diagonal().setZero();
    } else if (cs[c].kind == CouplingKind::dense) {
      g[net.w_index(c)].noalias() = inv_b * (lp * aq.transpose() + ap * lq.transpose());
    } else {
      const auto& U = net.w(c);
      const auto& V = net.v(c);
      g[net.w_index(c)].noalias() = inv_b * (lp * (V.transpose() * aq).transpose() + ap * (V.transpose() * lq).transpose());
      g[net.v_index(c)].noalias() = inv_b * (aq * (U.transpose() * lp).transpose() + lq * (U.transpose() * ap).transpose());
    }
  }
  return g;
}

Eigen::MatrixXd dense_hessian(const Network& net, const Clamp& clamp, const State& s, int sample) {
  std::vector<int> offset(net.module_count() + 1, 0);
  for (int m = 0; m < net.module_count(); ++m) offset[m + 1] = offset[m] + net.size(m);
  const int n = offset.back();
  Eigen::MatrixXd H(n, n);
  State one;
  for (int m = 0; m < net.module_count(); ++m) {
    one.u.push_back(s.u[m].col(sample));
    one.a.push_back(s.a[m].col(sample));
  }
  for (int j = 0; j < n; ++j) {
    std::vector<Eigen::MatrixXd> e(net.module_count());
    for (int m = 0; m < net.module_count(); ++m) {
      e[m] = Eigen::MatrixXd::Zero(net.size(m), 1);
      if (j >= offset[m] && j < offset[m + 1]) e[m](j - offset[m], 0) = 1;
    }
    const auto col = hessian_apply(net, clamp, one, e);
    for (int m = 0; m < net.module_count(); ++m) H.block(offset[m], j, net.size(m), 1) = col[m];
  }
  return H;
}

}  // namespace eqsim::model
