#include "model/relax.hpp"

#include <cmath>
#include <random>
#include <stdexcept>

namespace eqsim::model {

State initial_state(const Network& net, const Eigen::MatrixXd& visible_init) {
  State s;
  const auto B = visible_init.cols();
  for (int m = 0; m < net.module_count(); ++m) {
    s.u.push_back(m == net.spec().visible ? visible_init : Eigen::MatrixXd::Zero(net.size(m), B));
    s.a.push_back(s.u.back());
    update_output(net, s, m);
  }
  return s;
}

void update_output(const Network& net, State& s, int m) {
  // tanh(u) = 1 - 2/(e^{2u} + 1): Eigen vectorises exp for doubles (not tanh), ~12x
  // faster; absolute error < 1e-14. Clamping at |u| = 20 (tanh = +-1 to double
  // precision) keeps exp away from overflow and slow denormals.
  if (net.spec().modules[m].activation == Activation::tanh)
    s.a[m] = (1.0 - 2.0 / ((2.0 * s.u[m].array().min(20.0).max(-20.0)).exp() + 1.0)).matrix();
  else
    s.a[m] = s.u[m];
}

Eigen::MatrixXd coupling_input(const Network& net, const std::vector<Eigen::MatrixXd>& x, int m) {
  Eigen::MatrixXd in = Eigen::MatrixXd::Zero(net.size(m), x[m].cols());
  const auto& cs = net.spec().couplings;
  for (int c = 0; c < static_cast<int>(cs.size()); ++c) {
    const auto& cp = cs[c];
    if (cp.p != m && cp.q != m) continue;
    if (cp.p == cp.q) {  // intra-module, W symmetric
      in.noalias() += net.w(c) * x[m];
    } else if (cp.kind == CouplingKind::dense) {
      if (cp.p == m) in.noalias() += net.w(c) * x[cp.q];
      else in.noalias() += net.w(c).transpose() * x[cp.p];
    } else {  // bilinear: U V^T a_q into p, V U^T a_p into q, through r projections
      if (cp.p == m) in.noalias() += net.w(c) * (net.v(c).transpose() * x[cp.q]);
      else in.noalias() += net.v(c) * (net.w(c).transpose() * x[cp.p]);
    }
  }
  return in;
}

Eigen::MatrixXd module_input(const Network& net, const Clamp& clamp, const State& s, int m) {
  Eigen::MatrixXd in = coupling_input(net, s.a, m);
  in.colwise() += net.bias(m).col(0);
  if (const int t = net.table_index(m); t >= 0)
    for (Eigen::Index b = 0; b < in.cols(); ++b) in.col(b) += net.params()[t].col(clamp.levels.at(b));
  return in;
}

namespace {

// Clamp current source and conductance on the visible module.
struct ClampTerms {
  Eigen::MatrixXd source;  // spring_g*x_t + nudge_g*y
  double g = 0;
};

ClampTerms clamp_terms(const Clamp& c) {
  ClampTerms t{c.spring_g * c.spring_target, c.spring_g + c.nudge_g};
  if (c.nudge_g != 0) t.source += c.nudge_g * c.nudge_target;
  return t;
}

double block_sweep(const Network& net, const ClampTerms& ct, const Clamp& clamp, State& s) {
  const double G = net.spec().leak;
  double change = 0;
  for (int m = 0; m < net.module_count(); ++m) {
    const bool vis = m == net.spec().visible;
    if (vis && clamp.hold_visible) continue;
    Eigen::MatrixXd in = module_input(net, clamp, s, m);
    if (vis) in = (in + ct.source) / (G + ct.g);
    else in /= G;
    change = std::max(change, (in - s.u[m]).cwiseAbs().maxCoeff());
    s.u[m] = std::move(in);
    update_output(net, s, m);
  }
  return change;
}

double euler_step(const Network& net, const ClampTerms& ct, const Clamp& clamp, State& s, double dt,
                  double temperature, std::mt19937_64& rng) {
  const double G = net.spec().leak;
  std::vector<Eigen::MatrixXd> du(net.module_count());
  for (int m = 0; m < net.module_count(); ++m) {
    du[m] = module_input(net, clamp, s, m) - G * s.u[m];
    if (m == net.spec().visible) {
      if (clamp.hold_visible) du[m].setZero();
      else du[m] += ct.source - ct.g * s.u[m];
    }
  }
  double change = 0;
  std::normal_distribution<double> normal(0.0, 1.0);
  const double kick = std::sqrt(2.0 * temperature * dt);
  for (int m = 0; m < net.module_count(); ++m) {
    s.u[m] += dt * du[m];
    change = std::max(change, dt * du[m].cwiseAbs().maxCoeff());
    if (temperature > 0 && !(clamp.hold_visible && m == net.spec().visible))
      for (Eigen::Index k = 0; k < s.u[m].size(); ++k) s.u[m].data()[k] += kick * normal(rng);
    update_output(net, s, m);
  }
  return change;
}

}  // namespace

namespace {

RelaxSummary relax_columns(const Network& net, const Clamp& clamp, State& s, const RelaxOptions& opt,
                           unsigned long long chunk) {
  const ClampTerms ct = clamp_terms(clamp);
  std::seed_seq seq{opt.noise_seed, chunk, 0x4c616e67ULL};
  std::mt19937_64 rng(seq);
  if (clamp.hold_visible) {
    s.u[net.spec().visible] = clamp.spring_target;
    update_output(net, s, net.spec().visible);
  }
  RelaxSummary sum;
  for (sum.steps = 0; sum.steps < opt.max_steps;) {
    ++sum.steps;
    sum.last_change = opt.method == RelaxMethod::block ? block_sweep(net, ct, clamp, s)
                                                       : euler_step(net, ct, clamp, s, opt.dt, opt.temperature, rng);
    if (opt.tol > 0 && sum.last_change < opt.tol) {
      sum.converged = true;
      break;
    }
  }
  return sum;
}

// Everything that could fail inside the parallel region is checked before it.
void check_inputs(const Network& net, const Clamp& clamp, const State& s, const RelaxOptions& opt) {
  for (int m = 0; m < net.module_count(); ++m) {
    if (net.table_index(m) < 0) continue;
    if (clamp.levels.size() != static_cast<size_t>(s.batch()))
      throw std::invalid_argument("module '" + net.spec().modules[m].name + "' has a bias table: every sample needs a level");
    for (int level : clamp.levels)
      if (level < 0 || level >= net.spec().modules[m].condition_levels)
        throw std::invalid_argument("level " + std::to_string(level) + " outside the bias table");
  }
  if (opt.method != RelaxMethod::block) return;
  if (opt.temperature > 0) throw std::invalid_argument("block relaxation is deterministic: use euler for temperature > 0");
  for (int c = 0; c < static_cast<int>(net.spec().couplings.size()); ++c)
    if (net.is_self(c))
      throw std::invalid_argument("block relaxation needs modules without internal couplings (coupling '" +
                                  net.spec().couplings[c].name + "'): use euler");
}

}  // namespace

State slice(const State& s, Eigen::Index c0, Eigen::Index n) {
  State out;
  for (size_t m = 0; m < s.u.size(); ++m) {
    out.u.push_back(s.u[m].middleCols(c0, n));
    out.a.push_back(s.a[m].middleCols(c0, n));
  }
  return out;
}

Clamp slice(const Clamp& c, Eigen::Index c0, Eigen::Index n) {
  Clamp out = c;
  out.spring_target = c.spring_target.middleCols(c0, n);
  if (c.nudge_target.size() > 0) out.nudge_target = c.nudge_target.middleCols(c0, n);
  if (!c.levels.empty()) out.levels.assign(c.levels.begin() + c0, c.levels.begin() + c0 + n);
  return out;
}

std::vector<ColumnChunk> column_chunks(Eigen::Index B) {
  constexpr Eigen::Index kChunkColumns = 192;
  const auto count = B < 64 ? Eigen::Index{1} : std::max<Eigen::Index>(2, (B + kChunkColumns - 1) / kChunkColumns);
  const Eigen::Index width = (B + count - 1) / count;
  std::vector<ColumnChunk> chunks;
  for (Eigen::Index c0 = 0; c0 < B; c0 += width) chunks.push_back({c0, std::min(width, B - c0)});
  return chunks;
}

RelaxSummary relax(const Network& net, const Clamp& clamp, State& s, const RelaxOptions& opt) {
  check_inputs(net, clamp, s, opt);
  const auto chunks = column_chunks(s.batch());
  if (chunks.size() == 1) return relax_columns(net, clamp, s, opt, 0);
  std::vector<RelaxSummary> sums(chunks.size());
#pragma omp parallel for schedule(dynamic)
  for (size_t k = 0; k < chunks.size(); ++k) {
    const auto [c0, n] = chunks[k];
    State part = slice(s, c0, n);
    sums[k] = relax_columns(net, slice(clamp, c0, n), part, opt, static_cast<unsigned long long>(k));
    for (size_t m = 0; m < s.u.size(); ++m) {
      s.u[m].middleCols(c0, n) = part.u[m];
      s.a[m].middleCols(c0, n) = part.a[m];
    }
  }
  RelaxSummary sum{0, 0, true};
  for (const auto& p : sums) {
    sum.steps = std::max(sum.steps, p.steps);
    sum.last_change = std::max(sum.last_change, p.last_change);
    sum.converged = sum.converged && p.converged;
  }
  return sum;
}

RelaxSummary relax_with(const Relaxer& relaxer, const Network& net, const Clamp& clamp, State& s,
                        const RelaxOptions& opt) {
  return relaxer ? relaxer(clamp, s, opt) : relax(net, clamp, s, opt);
}

std::vector<Eigen::MatrixXd> force(const Network& net, const Clamp& clamp, const State& s) {
  const ClampTerms ct = clamp_terms(clamp);
  std::vector<Eigen::MatrixXd> f(net.module_count());
  for (int m = 0; m < net.module_count(); ++m) {
    f[m] = module_input(net, clamp, s, m) - net.spec().leak * s.u[m];
    if (m == net.spec().visible) f[m] += ct.source - ct.g * s.u[m];
  }
  return f;
}

Eigen::RowVectorXd energy(const Network& net, const Clamp& clamp, const State& s) {
  const double G = net.spec().leak;
  Eigen::RowVectorXd e = Eigen::RowVectorXd::Zero(s.batch());
  for (int m = 0; m < net.module_count(); ++m) {
    const auto& a = s.a[m].array();
    if (net.spec().modules[m].activation == Activation::tanh) {
      // int_0^a atanh = a*u - ln cosh(u), with ln cosh(u) = |u| + ln(1 + e^{-2|u|}) - ln 2 (no overflow)
      const auto au = s.u[m].array().abs();
      const auto log_cosh = au + (-2.0 * au).exp().log1p() - std::log(2.0);
      e += G * (a * s.u[m].array() - log_cosh).colwise().sum().matrix();
    } else {
      e += 0.5 * G * a.square().colwise().sum().matrix();
    }
    e -= net.bias(m).transpose() * s.a[m];
    if (const int t = net.table_index(m); t >= 0)
      for (Eigen::Index b = 0; b < s.a[m].cols(); ++b) e(b) -= net.params()[t].col(clamp.levels.at(b)).dot(s.a[m].col(b));
  }
  const auto& cs = net.spec().couplings;
  for (int c = 0; c < static_cast<int>(cs.size()); ++c) {
    const auto& ap = s.a[cs[c].p];
    const auto& aq = s.a[cs[c].q];
    const double half = net.is_self(c) ? 0.5 : 1.0;
    if (cs[c].kind == CouplingKind::dense)
      e -= half * (ap.array() * (net.w(c) * aq).array()).colwise().sum().matrix();
    else
      e -= ((net.w(c).transpose() * ap).array() * (net.v(c).transpose() * aq).array()).colwise().sum().matrix();
  }
  const auto& x = s.u[net.spec().visible];
  e += 0.5 * clamp.spring_g * (x - clamp.spring_target).colwise().squaredNorm();
  if (clamp.nudge_g != 0) e += 0.5 * clamp.nudge_g * (x - clamp.nudge_target).colwise().squaredNorm();
  return e;
}

ParamList energy_param_grad(const Network& net, const Clamp& clamp, const State& s) {
  ParamList g = net.zeros_like();
  const double inv_b = 1.0 / s.batch();
  for (int m = 0; m < net.module_count(); ++m) {
    g[net.bias_index(m)] = -inv_b * s.a[m].rowwise().sum();
    if (const int t = net.table_index(m); t >= 0)
      for (Eigen::Index b = 0; b < s.a[m].cols(); ++b) g[t].col(clamp.levels.at(b)) -= inv_b * s.a[m].col(b);
  }
  const auto& cs = net.spec().couplings;
  for (int c = 0; c < static_cast<int>(cs.size()); ++c) {
    const auto& ap = s.a[cs[c].p];
    const auto& aq = s.a[cs[c].q];
    if (net.is_self(c)) {  // E = -1/2 a^T W a over symmetric W with zero diagonal
      g[net.w_index(c)].noalias() = -0.5 * inv_b * ap * ap.transpose();
      g[net.w_index(c)].diagonal().setZero();
    } else if (cs[c].kind == CouplingKind::dense) {
      g[net.w_index(c)].noalias() = -inv_b * ap * aq.transpose();
    } else {
      g[net.w_index(c)].noalias() = -inv_b * ap * (net.v(c).transpose() * aq).transpose();
      g[net.v_index(c)].noalias() = -inv_b * aq * (net.w(c).transpose() * ap).transpose();
    }
  }
  return g;
}

RelaxOptions converged_options(const Network& net, double euler_dt) {
  for (int c = 0; c < static_cast<int>(net.spec().couplings.size()); ++c)
    if (net.is_self(c)) return {RelaxMethod::euler, 400000, euler_dt, 1e-13};
  return {RelaxMethod::block, 20000, 0.1, 1e-12};
}

}  // namespace eqsim::model
