#include "model/implicit.hpp"

#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "model/kernels.hpp"

namespace eqsim::model {
namespace {

using kernels::coupling_input_into;
using kernels::Mat;
using kernels::Mats;
using kernels::Params;
template <class T>
using Row = Eigen::Array<T, 1, Eigen::Dynamic>;

// H's diagonal per module: G / rho'(u) (+ the clamp conductances on the visible module),
// rho'(u) = sech^2(u) = 4 e^{-2|u|} / (1 + e^{-2|u|})^2 from u, which stays accurate where
// a = tanh(u) has rounded to +-1 (|u| > 9 in a float32 relaxation). Capped at G * 1e300.
std::vector<Eigen::MatrixXd> hessian_diagonal(const Network& net, const Clamp& clamp, const State& s) {
  const double G = net.spec().leak;
  std::vector<Eigen::MatrixXd> d(net.module_count());
  for (int m = 0; m < net.module_count(); ++m) {
    if (net.spec().modules[m].activation == Activation::tanh) {
      const Eigen::ArrayXXd e = (-2.0 * s.u[m].array().abs()).exp();
      d[m] = (G * (1.0 + e).square() / (4.0 * e).max(1e-300)).matrix();
    } else {
      d[m] = Eigen::MatrixXd::Constant(s.u[m].rows(), s.u[m].cols(), G);
    }
    if (m == net.spec().visible) d[m].array() += clamp.spring_g + clamp.nudge_g;
  }
  return d;
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

// The modules the adjoint solve eliminates exactly: the largest set (in units) of modules
// coupled neither to each other nor to themselves, whose block of H is therefore diagonal
// (FlowEqProp: x and h2, leaving h1). With H = [[D_R - C_RR, -C_RE], [-C_ER, D_E]] over the
// kept (R) and eliminated (E) modules, lambda_R solves the Schur complement
// S = D_R - C_RR - C_RE D_E^{-1} C_ER, and lambda_E = D_E^{-1} (g_E + C_ER lambda_R). On a
// two-layer chain like FlowEqProp the Jacobi-scaled S has the squared spectrum of H's, so
// a Krylov solve needs about half the iterations at the same cost per iteration (four
// GEMMs): 45 -> 22 on a trained FlowEqProp batch at rel_tol 1e-6.
std::vector<bool> eliminated_modules(const Network& net) {
  const int M = net.module_count();
  std::vector<bool> best(M, false);
  if (M > 16) return best;
  const auto& cs = net.spec().couplings;
  int best_units = 0;
  for (unsigned set = 1; set < (1u << M); ++set) {
    const auto in = [&](int m) { return (set >> m) & 1u; };
    const bool independent = std::none_of(cs.begin(), cs.end(), [&](const CouplingSpec& c) { return in(c.p) && in(c.q); });
    int units = 0;
    for (int m = 0; m < M; ++m) units += in(m) ? net.size(m) : 0;
    if (!independent || units <= best_units) continue;
    best_units = units;
    for (int m = 0; m < M; ++m) best[m] = in(m);
  }
  return best;
}

// One chunk's system in precision T: the Schur complement S on the kept modules,
// reached through z, which holds x on the kept modules and D_E^{-1} C_ER x on the
// eliminated ones.
template <class T>
struct Schur {
  const Network& net;
  const Params<T>& P;
  const std::vector<bool>& elim;
  Mats<T> inv_d;  // 1 / H's diagonal, every module
  Mats<T> z, ci;  // scratch
  Eigen::Index cols;

  Schur(const Network& n, const Params<T>& p, const std::vector<bool>& e, const std::vector<Eigen::MatrixXd>& d)
      : net(n), P(p), elim(e), inv_d(d.size()), z(d.size()), ci(d.size()), cols(d[0].cols()) {
    for (size_t m = 0; m < d.size(); ++m) {
      inv_d[m] = d[m].cwiseInverse().template cast<T>();
      if constexpr (!std::is_same_v<T, double>)  // no denormals: below 1e-30 a unit's adjoint is 0 to float precision
        inv_d[m] = (inv_d[m].array() < T(1e-30)).select(T(0), inv_d[m].array()).matrix();
      z[m].resize(d[m].rows(), d[m].cols());
    }
  }
  bool kept(int m) const { return !elim[m]; }

  // ci on the kept modules = (C_RR + C_RE D_E^{-1} C_ER) z_R, with z_R set by the caller.
  void couple() {
    for (int m = 0; m < net.module_count(); ++m)
      if (!kept(m)) {
        coupling_input_into(net, P, z, m, ci[m]);  // reads kept modules only
        z[m] = (inv_d[m].array() * ci[m].array()).matrix();
      }
    for (int m = 0; m < net.module_count(); ++m)
      if (kept(m)) coupling_input_into(net, P, z, m, ci[m]);
  }

  Row<T> col_dot(const Mats<T>& x, const Mats<T>& y) const {
    Row<T> r = Row<T>::Zero(cols);
    for (int m = 0; m < net.module_count(); ++m)
      if (kept(m)) r += (x[m].array() * y[m].array()).colwise().sum();
    return r;
  }
};

using Flags = Eigen::Array<bool, 1, Eigen::Dynamic>;

// Solves the Jacobi-scaled S^ x = b, S^ = I - s (C_RR + C_RE D_E^{-1} C_ER) s with s = D_R^{-1/2},
// by MINRES from x = 0 (Paige-Saunders, as scipy.sparse.linalg.minres), every column its
// own system, until each column's residual |b - S^ x| is at most target or max_iterations.
// MINRES rather than CG: 20 sweeps leave some states short of a minimum, where H is
// indefinite (107 of 1797 samples of a trained FlowEqProp batch), and CG's steps there can
// break down; on a positive definite S^ the two take about the same iterations.
// Returns the iterations taken.
template <class T>
int scaled_minres(Schur<T>& S, const Mats<T>& scale, const Mats<T>& b, Mats<T>& x, const Row<T>& target,
                  int max_iterations) {
  const int M = S.net.module_count();
  Mats<T> r1 = b, r2 = b, y = b, v(M), w(M), w1(M), w2(M);
  for (int m = 0; m < M; ++m) {
    x[m] = Mat<T>::Zero(b[m].rows(), b[m].cols());
    w[m] = w2[m] = x[m];
  }
  const auto scaled = [](const Mat<T>& a, const Row<T>& k) { return Mat<T>(a * k.matrix().asDiagonal()); };
  Row<T> beta = S.col_dot(b, b).sqrt(), old_beta = Row<T>::Zero(S.cols), dbar = old_beta, epsilon = old_beta;
  Row<T> phibar = beta, cs = Row<T>::Constant(S.cols, T(-1)), sn = old_beta;
  Flags live = beta > target;
  int it = 0;
  for (; it < max_iterations && live.any(); ++it) {
    const Row<T> inv_beta = live.select(T(1) / beta, T(0));
    for (int m = 0; m < M; ++m)
      if (S.kept(m)) v[m] = scaled(y[m], inv_beta), S.z[m] = (scale[m].array() * v[m].array()).matrix();
    S.couple();
    for (int m = 0; m < M; ++m)
      if (S.kept(m)) {
        y[m] = v[m] - (scale[m].array() * S.ci[m].array()).matrix();
        if (it > 0) y[m] -= scaled(r1[m], live.select(beta / old_beta, T(0)));
      }
    const Row<T> alpha = S.col_dot(v, y);
    for (int m = 0; m < M; ++m)
      if (S.kept(m)) y[m] -= scaled(r2[m], live.select(alpha / beta, T(0))), r1[m].swap(r2[m]), r2[m] = y[m];
    old_beta = beta;
    beta = S.col_dot(y, y).sqrt();
    const Row<T> old_epsilon = epsilon, delta = cs * dbar + sn * alpha, gbar = sn * dbar - cs * alpha;
    epsilon = sn * beta;
    dbar = -cs * beta;
    const Row<T> gamma = (gbar.square() + beta.square()).sqrt().max(std::numeric_limits<T>::min());
    cs = gbar / gamma;
    sn = beta / gamma;
    const Row<T> phi = cs * phibar;
    phibar = sn * phibar;
    const Row<T> inv_gamma = live.select(T(1) / gamma, T(0));
    for (int m = 0; m < M; ++m)
      if (S.kept(m)) {
        w1[m].swap(w2[m]), w2[m].swap(w[m]);  // w1 <- w2 <- w
        w[m] = scaled(v[m] - scaled(w1[m], old_epsilon) - scaled(w2[m], delta), inv_gamma);
        x[m] += scaled(w[m], phi);
      }
    live = live && (phibar.abs() > target) && (beta > 0);
  }
  return it;
}

// float32 rounds cannot push the residual much below this fraction of where they start.
constexpr double kFloatRoundReduction = 1e-4;

// Column `sample` of lambda from a dense LU of that sample's H; ~2 ms for FlowEqProp's 320 units.
void solve_dense_column(const Network& net, const Clamp& clamp, const State& s, const std::vector<Eigen::MatrixXd>& g,
                        int sample, std::vector<Eigen::MatrixXd>& lambda) {
  const Eigen::MatrixXd H = dense_hessian(net, clamp, s, sample);
  Eigen::VectorXd rhs(H.rows());
  Eigen::Index at = 0;
  for (int m = 0; m < net.module_count(); ++m) rhs.segment(at, net.size(m)) = g[m].col(sample), at += net.size(m);
  const Eigen::VectorXd x = H.partialPivLu().solve(rhs);
  at = 0;
  for (int m = 0; m < net.module_count(); ++m) lambda[m].col(sample) = x.segment(at, net.size(m)), at += net.size(m);
}

// One chunk: MINRES on the Schur complement, refined in float64. Each round solves
// S delta = r in float32 (Jacobi-scaled and each column normalised, so every value stays in
// float range) to kFloatRoundReduction or the tolerance, adds delta, and recomputes the true
// residual r = rhs - S lambda in float64; the tolerance is checked on that residual. A
// round that fails to halve it (an ill-conditioned S, or scales beyond float range) hands
// the rest to float64 rounds. A column whose residual a round did not lower (a singular H)
// is solved densely at the end.
AdjointSummary solve_adjoint_columns(const Network& net, const Params<double>& P64, const Params<float>& P32,
                                     const std::vector<bool>& elim, const Clamp& clamp, const State& s,
                                     const std::vector<Eigen::MatrixXd>& g, std::vector<Eigen::MatrixXd>& lambda,
                                     const AdjointOptions& opt) {
  const int M = net.module_count();
  const auto d = hessian_diagonal(net, clamp, s);
  Schur<double> S(net, P64, elim, d);
  Schur<float> S32(net, P32, elim, d);
  Mats<double> scale(M), rhs(M), r(M), b(M), q(M);
  Mats<float> scale32(M), b32(M), q32(M);
  bool use_float = true;
  for (int m = 0; m < M; ++m) {
    scale[m] = S.inv_d[m].cwiseSqrt();
    scale32[m] = scale[m].cast<float>();
    if (S.kept(m) && scale[m].size() > 0) use_float = use_float && scale[m].minCoeff() >= 1e-15;
    S.z[m] = S.kept(m) ? Eigen::MatrixXd::Zero(d[m].rows(), d[m].cols()) : Eigen::MatrixXd(S.inv_d[m].cwiseProduct(g[m]));
  }
  // rhs_R = g_R + C_RE D_E^{-1} g_E (z_E holds D_E^{-1} g_E, z_R = 0).
  for (int m = 0; m < M; ++m)
    if (S.kept(m)) coupling_input_into(net, P64, S.z, m, rhs[m]), rhs[m] += g[m];
  lambda.assign(M, Eigen::MatrixXd());
  for (int m = 0; m < M; ++m) lambda[m] = Eigen::MatrixXd::Zero(d[m].rows(), d[m].cols());
  r = rhs;

  Row<double> g_sq = Row<double>::Zero(S.cols);
  for (const auto& gm : g) g_sq += gm.array().square().colwise().sum();
  const Row<double> g_norm = g_sq.sqrt().max(1e-300);
  Flags dense = Flags::Constant(S.cols, false);
  Row<double> rel = S.col_dot(r, r).sqrt() / g_norm;
  AdjointSummary sum;
  for (;;) {
    rel = dense.select(0.0, rel);
    if (rel.maxCoeff() < opt.rel_tol || sum.iterations >= opt.max_iterations) break;
    const int budget = opt.max_iterations - sum.iterations;
    // The inner solves stop on the scaled residual |s r|: the tolerance's target scaled by
    // each column's |s r| / |r| (a further round makes up any shortfall).
    const Row<double> r_norm = rel * g_norm;  // 0 on the columns set aside
    const Row<double> unit = dense.select(0.0, 1.0 / r_norm.max(1e-300));
    for (int m = 0; m < M; ++m)
      if (S.kept(m)) b[m] = (scale[m].array() * r[m].array()).rowwise() * unit;  // unit residual per column
    const Row<double> ratio = S.col_dot(b, b).sqrt();
    const Row<double> target = 0.5 * opt.rel_tol * g_norm * unit * ratio;
    if (use_float) {
      for (int m = 0; m < M; ++m)
        if (S.kept(m)) b32[m] = b[m].cast<float>();
      sum.iterations += scaled_minres(S32, scale32, b32, q32, Row<float>(target.max(kFloatRoundReduction * ratio).cast<float>()), budget);
      for (int m = 0; m < M; ++m)
        if (S.kept(m)) q[m] = q32[m].cast<double>();
    } else {
      sum.iterations += scaled_minres(S, scale, b, q, target, budget);
    }
    for (int m = 0; m < M; ++m)
      if (S.kept(m)) q[m] = q[m].array().rowwise() * r_norm;
    for (int m = 0; m < M; ++m)
      if (S.kept(m)) lambda[m] += (scale[m].array() * q[m].array()).matrix(), S.z[m] = lambda[m];
    S.couple();  // r = rhs - S lambda = rhs - D_R lambda_R + ci
    for (int m = 0; m < M; ++m)
      if (S.kept(m)) r[m] = rhs[m] - (d[m].array() * lambda[m].array()).matrix() + S.ci[m];
    const Row<double> rel_new = S.col_dot(r, r).sqrt() / g_norm;
    dense = dense || (!(rel_new < rel) && !(rel_new < opt.rel_tol));
    if (use_float && dense.select(0.0, rel_new).maxCoeff() > 0.5 * dense.select(0.0, rel).maxCoeff()) use_float = false;
    rel = rel_new;
  }
  sum.rel_residual = rel.maxCoeff();
  sum.converged = sum.rel_residual < opt.rel_tol;
  // lambda_E = D_E^{-1} (g_E + C_ER lambda_R)
  for (int m = 0; m < M; ++m)
    if (S.kept(m)) S.z[m] = lambda[m];
  for (int m = 0; m < M; ++m)
    if (!S.kept(m)) {
      coupling_input_into(net, P64, S.z, m, lambda[m]);
      lambda[m] = (S.inv_d[m].array() * (g[m] + lambda[m]).array()).matrix();
    }
  for (Eigen::Index k = 0; k < S.cols; ++k)
    if (dense(k)) solve_dense_column(net, clamp, s, g, static_cast<int>(k), lambda);
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
  const Params<double> P64(net);
  const Params<float> P32(net);
  const auto elim = eliminated_modules(net);
  const auto chunks = column_chunks(s.batch());
  lambda.assign(net.module_count(), Eigen::MatrixXd());
  for (int m = 0; m < net.module_count(); ++m) lambda[m].resize(g[m].rows(), g[m].cols());
  std::vector<AdjointSummary> sums(chunks.size());
  for_each_chunk(chunks.size(), [&](size_t k) {
    const auto [c0, n] = chunks[k];
    std::vector<Eigen::MatrixXd> part;
    sums[k] = solve_adjoint_columns(net, P64, P32, elim, slice(clamp, c0, n), slice(s, c0, n), slice(g, c0, n), part, opt);
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
  std::vector<Eigen::Index> offset(net.module_count() + 1, 0);
  for (int m = 0; m < net.module_count(); ++m) offset[m + 1] = offset[m] + net.size(m);
  const Eigen::Index n = offset.back();
  State copies;  // the sample's state once per column of H
  std::vector<Eigen::MatrixXd> unit(net.module_count());
  for (int m = 0; m < net.module_count(); ++m) {
    copies.u.push_back(s.u[m].col(sample).replicate(1, n));
    copies.a.push_back(s.a[m].col(sample).replicate(1, n));
    unit[m] = Eigen::MatrixXd::Zero(net.size(m), n);
    unit[m].middleCols(offset[m], net.size(m)).setIdentity();
  }
  const auto cols = hessian_apply(net, clamp, copies, unit);
  Eigen::MatrixXd H(n, n);
  for (int m = 0; m < net.module_count(); ++m) H.middleRows(offset[m], net.size(m)) = cols[m];
  return H;
}

}  // namespace eqsim::model
