#include "model/relax.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <type_traits>

namespace eqsim::model {

Precision precision_from_string(const std::string& s) {
  if (s == "float64") return Precision::float64;
  if (s == "float32") return Precision::float32;
  throw std::invalid_argument("unknown precision '" + s + "' (float64, float32)");
}

std::string to_string(Precision p) { return p == Precision::float32 ? "float32" : "float64"; }

namespace {

template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using Mats = std::vector<Mat<T>>;

// The parameters in precision T: the network's own doubles, or a float copy.
template <class T>
class Params {
 public:
  explicit Params(const Network& net) {
    if constexpr (std::is_same_v<T, double>) {
      p_ = &net.params();
    } else {
      for (const auto& x : net.params()) copy_.push_back(x.cast<T>());
      p_ = &copy_;
    }
  }
  const Mat<T>& operator[](int i) const { return (*p_)[i]; }

 private:
  const Mats<T>* p_ = nullptr;
  Mats<T> copy_;
};

// a = rho(u). For doubles tanh(u) = 1 - 2/(e^{2u} + 1): Eigen vectorises exp for doubles
// (not tanh), ~12x faster; absolute error < 1e-14. Clamping at |u| = 20 (tanh = +-1 to
// double precision) keeps exp away from overflow and slow denormals. For floats Eigen's
// vectorised tanh (a rational approximation within a few ulp).
template <class T>
void set_output(Activation act, const Mat<T>& u, Mat<T>& a) {
  if (act == Activation::identity) a = u;
  else if constexpr (std::is_same_v<T, double>) a = (1.0 - 2.0 / ((2.0 * u.array().min(20.0).max(-20.0)).exp() + 1.0)).matrix();
  else a = u.array().tanh().matrix();
}

// in = coupling currents into module m from outputs x (in is resized and overwritten).
template <class T>
void coupling_input_into(const Network& net, const Params<T>& P, const Mats<T>& x, int m, Mat<T>& in) {
  in.setZero(net.size(m), x[m].cols());
  const auto& cs = net.spec().couplings;
  for (int c = 0; c < static_cast<int>(cs.size()); ++c) {
    const auto& cp = cs[c];
    if (cp.p != m && cp.q != m) continue;
    const Mat<T>& w = P[net.w_index(c)];
    if (cp.p == cp.q) {  // intra-module, W symmetric
      in.noalias() += w * x[m];
    } else if (cp.kind == CouplingKind::dense) {
      if (cp.p == m) in.noalias() += w * x[cp.q];
      else in.noalias() += w.transpose() * x[cp.p];
    } else {  // bilinear: U V^T a_q into p, V U^T a_p into q, through r projections
      const Mat<T>& v = P[net.v_index(c)];
      if (cp.p == m) in.noalias() += w * (v.transpose() * x[cp.q]);
      else in.noalias() += v * (w.transpose() * x[cp.p]);
    }
  }
}

// in = b_m (+ the table column of each sample) + coupling currents into module m.
template <class T>
void module_input_into(const Network& net, const Params<T>& P, const std::vector<int>& levels, const Mats<T>& a, int m,
                       Mat<T>& in) {
  coupling_input_into(net, P, a, m, in);
  in.colwise() += P[net.bias_index(m)].col(0);
  if (const int t = net.table_index(m); t >= 0)
    for (Eigen::Index b = 0; b < in.cols(); ++b) in.col(b) += P[t].col(levels.at(b));
}

}  // namespace

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
  set_output<double>(net.spec().modules[m].activation, s.u[m], s.a[m]);
}

Eigen::MatrixXd coupling_input(const Network& net, const std::vector<Eigen::MatrixXd>& x, int m) {
  Eigen::MatrixXd in;
  coupling_input_into(net, Params<double>(net), x, m, in);
  return in;
}

Eigen::MatrixXd module_input(const Network& net, const Clamp& clamp, const State& s, int m) {
  Eigen::MatrixXd in;
  module_input_into(net, Params<double>(net), clamp.levels, s.a, m, in);
  return in;
}

namespace {

// Columns of a state in precision T, with one scratch buffer per module.
template <class T>
struct Columns {
  Mats<T> u, a, in;
};

// Clamp current source and conductance on the visible module.
template <class T>
struct ClampTerms {
  Mat<T> source;  // spring_g*x_t + nudge_g*y
  T g = 0;
};

template <class T>
ClampTerms<T> clamp_terms(const Clamp& c) {
  Eigen::MatrixXd source = c.spring_g * c.spring_target;
  if (c.nudge_g != 0) source += c.nudge_g * c.nudge_target;
  return {source.cast<T>(), static_cast<T>(c.spring_g + c.nudge_g)};
}

template <class T>
T block_sweep(const Network& net, const Params<T>& P, const ClampTerms<T>& ct, const Clamp& clamp, Columns<T>& s) {
  const T G = static_cast<T>(net.spec().leak);
  T change = 0;
  for (int m = 0; m < net.module_count(); ++m) {
    const bool vis = m == net.spec().visible;
    if (vis && clamp.hold_visible) continue;
    Mat<T>& in = s.in[m];
    module_input_into(net, P, clamp.levels, s.a, m, in);
    if (vis) in = (in + ct.source) / (G + ct.g);
    else in /= G;
    change = std::max(change, (in - s.u[m]).cwiseAbs().maxCoeff());
    s.u[m].swap(in);
    set_output<T>(net.spec().modules[m].activation, s.u[m], s.a[m]);
  }
  return change;
}

template <class T>
T euler_step(const Network& net, const Params<T>& P, const ClampTerms<T>& ct, const Clamp& clamp, Columns<T>& s, T dt,
             double temperature, std::mt19937_64& rng) {
  const T G = static_cast<T>(net.spec().leak);
  Mats<T>& du = s.in;
  for (int m = 0; m < net.module_count(); ++m) {
    module_input_into(net, P, clamp.levels, s.a, m, du[m]);
    du[m] -= G * s.u[m];
    if (m == net.spec().visible) {
      if (clamp.hold_visible) du[m].setZero();
      else du[m] += ct.source - ct.g * s.u[m];
    }
  }
  T change = 0;
  std::normal_distribution<double> normal(0.0, 1.0);
  const double kick = std::sqrt(2.0 * temperature * dt);
  for (int m = 0; m < net.module_count(); ++m) {
    s.u[m] += dt * du[m];
    change = std::max(change, dt * du[m].cwiseAbs().maxCoeff());
    if (temperature > 0 && !(clamp.hold_visible && m == net.spec().visible))
      for (Eigen::Index k = 0; k < s.u[m].size(); ++k) s.u[m].data()[k] += static_cast<T>(kick * normal(rng));
    set_output<T>(net.spec().modules[m].activation, s.u[m], s.a[m]);
  }
  return change;
}

// Relaxes columns [c0, c0+n) of s in precision T (copied in and back out).
template <class T>
RelaxSummary relax_columns(const Network& net, const Params<T>& P, const Clamp& clamp, State& state, Eigen::Index c0,
                           Eigen::Index n, const RelaxOptions& opt, unsigned long long chunk) {
  const Clamp part = slice(clamp, c0, n);
  const ClampTerms<T> ct = clamp_terms<T>(part);
  std::seed_seq seq{opt.noise_seed, chunk, 0x4c616e67ULL};
  std::mt19937_64 rng(seq);
  const int vis = net.spec().visible;
  Columns<T> s;
  for (int m = 0; m < net.module_count(); ++m) {
    s.u.push_back(state.u[m].middleCols(c0, n).template cast<T>());
    s.a.push_back(state.a[m].middleCols(c0, n).template cast<T>());
  }
  s.in.resize(net.module_count());
  if (clamp.hold_visible) {
    s.u[vis] = part.spring_target.cast<T>();
    set_output<T>(net.spec().modules[vis].activation, s.u[vis], s.a[vis]);
  }
  RelaxSummary sum;
  for (sum.steps = 0; sum.steps < opt.max_steps;) {
    ++sum.steps;
    sum.last_change = opt.method == RelaxMethod::block
                          ? block_sweep(net, P, ct, part, s)
                          : euler_step(net, P, ct, part, s, static_cast<T>(opt.dt), opt.temperature, rng);
    if (opt.tol > 0 && sum.last_change < opt.tol) {
      sum.converged = true;
      break;
    }
  }
  for (int m = 0; m < net.module_count(); ++m) {
    state.u[m].middleCols(c0, n) = s.u[m].template cast<double>();
    state.a[m].middleCols(c0, n) = s.a[m].template cast<double>();
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

template <class T>
RelaxSummary relax_in(const Network& net, const Clamp& clamp, State& s, const RelaxOptions& opt) {
  const Params<T> P(net);
  const auto chunks = column_chunks(s.batch());
  std::vector<RelaxSummary> sums(chunks.size());
  for_each_chunk(chunks.size(), [&](size_t k) {
    sums[k] = relax_columns(net, P, clamp, s, chunks[k].begin, chunks[k].size, opt, static_cast<unsigned long long>(k));
  });
  RelaxSummary sum{0, 0, true};
  for (const auto& p : sums) {
    sum.steps = std::max(sum.steps, p.steps);
    sum.last_change = std::max(sum.last_change, p.last_change);
    sum.converged = sum.converged && p.converged;
  }
  return sum;
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

void for_each_chunk(size_t count, const std::function<void(size_t)>& body) {
  if (count == 1) {
    body(0);
  } else if (omp_in_parallel()) {
#pragma omp taskloop grainsize(1)
    for (size_t k = 0; k < count; ++k) body(k);
  } else {
#pragma omp parallel for schedule(dynamic)
    for (size_t k = 0; k < count; ++k) body(k);
  }
}

RelaxSummary relax(const Network& net, const Clamp& clamp, State& s, const RelaxOptions& opt) {
  check_inputs(net, clamp, s, opt);
  return opt.precision == Precision::float32 ? relax_in<float>(net, clamp, s, opt) : relax_in<double>(net, clamp, s, opt);
}

RelaxSummary relax_with(const Relaxer& relaxer, const Network& net, const Clamp& clamp, State& s,
                        const RelaxOptions& opt) {
  return relaxer ? relaxer(clamp, s, opt) : relax(net, clamp, s, opt);
}

std::vector<Eigen::MatrixXd> force(const Network& net, const Clamp& clamp, const State& s) {
  const ClampTerms<double> ct = clamp_terms<double>(clamp);
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

namespace {

// g += scale * (the bias and table terms of -dE/dtheta, linear in the outputs a).
void add_linear_grads(const Network& net, const std::vector<int>& levels, const Mats<double>& a, double scale,
                      ParamList& g) {
  for (int m = 0; m < net.module_count(); ++m) {
    g[net.bias_index(m)] += scale * a[m].rowwise().sum();
    if (const int t = net.table_index(m); t >= 0)
      for (Eigen::Index b = 0; b < a[m].cols(); ++b) g[t].col(levels.at(b)) += scale * a[m].col(b);
  }
}

// g += scale * (the coupling terms of -dE/dtheta, bilinear in outputs x and y, x on the
// p side): dense W x_p y_q^T; intra-module W 1/2 x y^T (E = -1/2 a^T W a); bilinear
// U x_p (V^T y_q)^T and V y_q (U^T x_p)^T.
void add_coupling_grads(const Network& net, const Mats<double>& x, const Mats<double>& y, double scale, ParamList& g) {
  const auto& cs = net.spec().couplings;
  for (int c = 0; c < static_cast<int>(cs.size()); ++c) {
    const auto& xp = x[cs[c].p];
    const auto& yq = y[cs[c].q];
    if (net.is_self(c)) {
      g[net.w_index(c)].noalias() += (0.5 * scale) * xp * yq.transpose();
    } else if (cs[c].kind == CouplingKind::dense) {
      g[net.w_index(c)].noalias() += scale * xp * yq.transpose();
    } else {
      g[net.w_index(c)].noalias() += scale * xp * (net.v(c).transpose() * yq).transpose();
      g[net.v_index(c)].noalias() += scale * yq * (net.w(c).transpose() * xp).transpose();
    }
  }
}

// Intra-module couplings have no self-connection: W's diagonal is not a parameter.
void zero_self_diagonals(const Network& net, ParamList& g) {
  for (int c = 0; c < static_cast<int>(net.spec().couplings.size()); ++c)
    if (net.is_self(c)) g[net.w_index(c)].diagonal().setZero();
}

}  // namespace

ParamList energy_param_grad(const Network& net, const Clamp& clamp, const State& s) {
  ParamList g = net.zeros_like();
  const double scale = -1.0 / s.batch();
  add_linear_grads(net, clamp.levels, s.a, scale, g);
  add_coupling_grads(net, s.a, s.a, scale, g);
  zero_self_diagonals(net, g);
  return g;
}

ParamList energy_param_grad_difference(const Network& net, const Clamp& clamp, const State& s1, const State& s0) {
  Mats<double> d(net.module_count()), mean(net.module_count());
  for (int m = 0; m < net.module_count(); ++m) {
    d[m] = s1.a[m] - s0.a[m];
    mean[m] = 0.5 * (s1.a[m] + s0.a[m]);
  }
  ParamList g = net.zeros_like();
  const double scale = -1.0 / s1.batch();
  add_linear_grads(net, clamp.levels, d, scale, g);
  add_coupling_grads(net, d, mean, scale, g);
  add_coupling_grads(net, mean, d, scale, g);
  zero_self_diagonals(net, g);
  return g;
}

RelaxOptions converged_options(const Network& net, double euler_dt) {
  for (int c = 0; c < static_cast<int>(net.spec().couplings.size()); ++c)
    if (net.is_self(c)) return {RelaxMethod::euler, 400000, euler_dt, 1e-13};
  return {RelaxMethod::block, 20000, 0.1, 1e-12};
}

}  // namespace eqsim::model
