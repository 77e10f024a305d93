#include "circuit/equivalent.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>

#include "data/error.hpp"

namespace eqsim::circuit {

namespace {

// Effective couplings into one module from module `src`.
struct Direction {
  int src = 0;
  bool tanh_src = false;
  Eigen::MatrixXd a1, a2, a3, a4;  // W.g, W.g.o, W.g.o^2, W.g.o^3 (elementwise)
  Eigen::VectorXd shift;       // identity sources: -sum_j W_ij g_ij o_ij
};

Direction direction(int src, bool tanh_src, const Eigen::MatrixXd& w, const Eigen::MatrixXd& gain,
                    const Eigen::MatrixXd& offset) {
  Direction d{src, tanh_src, w.cwiseProduct(gain), {}, {}, {}, {}};
  d.a2 = d.a1.cwiseProduct(offset);
  if (tanh_src) d.a3 = d.a2.cwiseProduct(offset), d.a4 = d.a3.cwiseProduct(offset);
  else d.shift = -d.a2.rowwise().sum();
  return d;
}

// The thermal fluctuation of one column chunk (per node group) and its noise stream;
// x empty: a process not started yet.
struct Fluctuation {
  std::vector<Eigen::MatrixXd> x;
  std::mt19937_64 rng;
};

// The node equations at the network's current parameters under one clamp, over node
// groups: the network's modules (0 .. M-1), then per bilinear coupling its projection
// nodes pu and pv (identity, leak 1: they hold U^T a_p and V^T a_q).
struct NodeEquations {
  const model::Network& net;
  int modules = 0;                           // M
  std::vector<int> size;                     // per group
  std::vector<bool> tanh_group;                 // per group
  std::vector<std::vector<Direction>> into;  // per group
  std::vector<Eigen::VectorXd> restore;      // per group: restoring conductance (visible: + spring, nudge)
  std::vector<Eigen::VectorXd> cap;          // per group: capacitor factors
  Eigen::VectorXd vis_spring, vis_nudge;     // visible: spring and nudge conductances

  NodeEquations(const model::Network& n, const DeviceFactors& f, const model::Clamp& clamp)
      : net(n), modules(n.module_count()) {
    const auto& spec = net.spec();
    for (int m = 0; m < modules; ++m)
      add_group(net.size(m), spec.modules[m].activation == model::Activation::tanh, f.modules[m].cap,
                spec.leak * f.modules[m].leak);
    for (int c = 0; c < static_cast<int>(spec.couplings.size()); ++c) {
      const auto& cp = spec.couplings[c];
      const auto& fc = f.couplings[c];
      if (cp.kind == model::CouplingKind::bilinear) {
        const int pu = add_group(cp.rank, false, fc.cap_pu, fc.leak_pu), pv = add_group(cp.rank, false, fc.cap_pv, fc.leak_pv);
        into[pu].push_back(direction(cp.p, tanh_group[cp.p], net.w(c).transpose(), fc.gain_to_pu.transpose(), fc.offset_to_pu.transpose()));
        into[cp.q].push_back(direction(pu, false, net.v(c), fc.gain_pu_to_q, fc.offset_pu_to_q));
        into[pv].push_back(direction(cp.q, tanh_group[cp.q], net.v(c).transpose(), fc.gain_to_pv.transpose(), fc.offset_to_pv.transpose()));
        into[cp.p].push_back(direction(pv, false, net.w(c), fc.gain_pv_to_p, fc.offset_pv_to_p));
      } else if (cp.p == cp.q) {  // one device per ordered pair i != j
        Eigen::MatrixXd gain = fc.gain_into_p;
        gain.diagonal().setZero();
        into[cp.p].push_back(direction(cp.p, tanh_group[cp.p], net.w(c), gain, fc.offset_into_p));
      } else {
        into[cp.p].push_back(direction(cp.q, tanh_group[cp.q], net.w(c), fc.gain_into_p, fc.offset_into_p));
        into[cp.q].push_back(direction(cp.p, tanh_group[cp.p], net.w(c).transpose(), fc.gain_into_q, fc.offset_into_q));
      }
    }
    vis_spring = clamp.spring_g * f.spring;
    vis_nudge = clamp.nudge_g * f.nudge;
    restore[spec.visible] += vis_spring + vis_nudge;
  }

  int add_group(int n, bool is_tanh, const Eigen::VectorXd& c, const Eigen::VectorXd& g) {
    size.push_back(n), tanh_group.push_back(is_tanh), cap.push_back(c), restore.push_back(g), into.emplace_back();
    return static_cast<int>(size.size()) - 1;
  }
  int groups() const { return static_cast<int>(size.size()); }

  void update(model::State& s, int g) const {
    if (g < modules) model::update_output(net, s, g);
    else s.a[g] = s.u[g];
  }

  // s with the projection groups added at their values given the modules.
  model::State extended(const model::Clamp& clamp, const model::State& s) const {
    model::State ext = s;
    for (int g = modules; g < groups(); ++g) {
      ext.u.push_back(restore[g].cwiseInverse().asDiagonal() * input(clamp, ext, g));
      ext.a.push_back(ext.u.back());
    }
    return ext;
  }
  static void shrink(model::State& ext, model::State& s) {
    for (size_t m = 0; m < s.u.size(); ++m) s.u[m] = std::move(ext.u[m]), s.a[m] = std::move(ext.a[m]);
  }

  // Current into the nodes of module m from everything but their own restoring conductance.
  Eigen::MatrixXd input(const model::Clamp& clamp, const model::State& s, int m) const {
    Eigen::MatrixXd in = Eigen::MatrixXd::Zero(size[m], s.batch());
    for (const auto& d : into[m]) {
      if (!d.tanh_src) {
        in.noalias() += d.a1 * s.u[d.src];
        in.colwise() += d.shift;
        continue;
      }
      // tanh(u - o) = a - o s - o^2 a s + o^3 s (1 - 3a^2) / 3 + O(o^4), s = 1 - a^2
      const auto& a = s.a[d.src];
      const Eigen::ArrayXXd slope = 1.0 - a.array().square();
      in.noalias() += d.a1 * a;
      in.noalias() -= d.a2 * slope.matrix();
      in.noalias() -= d.a3 * (a.array() * slope).matrix();
      in.noalias() += d.a4 * (slope * (1.0 - 3.0 * a.array().square()) / 3.0).matrix();
    }
    if (m >= modules) return in;
    in.colwise() += net.bias(m).col(0);
    if (const int t = net.table_index(m); t >= 0)
      for (Eigen::Index b = 0; b < in.cols(); ++b) in.col(b) += net.params()[t].col(clamp.levels.at(b));
    if (m == net.spec().visible) {
      in += vis_spring.asDiagonal() * clamp.spring_target;
      if (clamp.nudge_g != 0) in += vis_nudge.asDiagonal() * clamp.nudge_target;
    }
    return in;
  }

  bool held(const model::Clamp& clamp, int m) const { return clamp.hold_visible && m == net.spec().visible; }

  // One Gauss-Seidel sweep: each module solved given the others, and right after it the
  // projection groups it feeds (a projection group reads one module only), so a bilinear
  // coupling acts as its dense equivalent U V^T would: with the projections a sweep
  // behind, the sweeps can oscillate and diverge on strong low-rank couplings.
  double block_sweep(const model::Clamp& clamp, model::State& s) const {
    double change = 0;
    auto solve = [&](int g) {
      Eigen::MatrixXd u = restore[g].cwiseInverse().asDiagonal() * input(clamp, s, g);
      change = std::max(change, (u - s.u[g]).cwiseAbs().maxCoeff());
      s.u[g] = std::move(u);
      update(s, g);
    };
    for (int m = 0; m < modules; ++m) {
      if (!held(clamp, m)) solve(m);
      for (int g = modules; g < groups(); ++g)
        if (into[g].front().src == m) solve(g);
    }
    return change;
  }

  double euler_step(const model::Clamp& clamp, model::State& s, double dt) const {
    std::vector<Eigen::MatrixXd> du(groups());
    for (int m = 0; m < groups(); ++m)
      if (!held(clamp, m))
        du[m] = dt * cap[m].cwiseInverse().asDiagonal() * (input(clamp, s, m) - restore[m].asDiagonal() * s.u[m]);
    double change = 0;
    for (int m = 0; m < groups(); ++m) {
      if (held(clamp, m)) continue;
      s.u[m] += du[m];
      change = std::max(change, du[m].cwiseAbs().maxCoeff());
      update(s, m);
    }
    return change;
  }

  // Current-noise conductance per node of group m (two-sided PSD 2 kT g_noise in model
  // units): its resistors (leak, spring) and gamma |gm| of every transconductor into it,
  // gm at its nominal value as the ode backend injects it; the nudge is a G element.
  Eigen::VectorXd noise_conductance(int m, double gamma) const {
    Eigen::VectorXd g_noise = restore[m];
    for (const auto& d : into[m]) g_noise += gamma * d.a1.cwiseAbs().rowwise().sum();
    if (m == net.spec().visible) g_noise += gamma * vis_nudge.cwiseAbs() - vis_nudge;
    return g_noise;
  }

  // The slopes of the coupling currents at state s, per tanh group: d tanh(u - o)/du =
  // s + 2 o a s + O(o^2) with s = 1 - a^2, a = tanh(u), as the pair (s, 2 a s).
  std::vector<std::array<Eigen::MatrixXd, 2>> slopes(const model::State& s) const {
    std::vector<std::array<Eigen::MatrixXd, 2>> k(groups());
    for (int m = 0; m < groups(); ++m) {
      if (!tanh_group[m]) continue;
      const Eigen::ArrayXXd a = s.a[m].array(), sl = 1.0 - a.square();
      k[m] = {sl.matrix(), (2.0 * a * sl).matrix()};
    }
    return k;
  }

  // The linearised coupling current into group m for deviations x (per group, zero
  // where held) at the state whose slopes are k.
  Eigen::MatrixXd linear_input(const std::vector<std::array<Eigen::MatrixXd, 2>>& k, const std::vector<Eigen::MatrixXd>& x,
                               int m) const {
    Eigen::MatrixXd in = Eigen::MatrixXd::Zero(size[m], x[m].cols());
    for (const auto& d : into[m]) {
      if (!d.tanh_src) {
        in.noalias() += d.a1 * x[d.src];
        continue;
      }
      in.noalias() += d.a1 * k[d.src][0].cwiseProduct(x[d.src]);
      in.noalias() += d.a2 * k[d.src][1].cwiseProduct(x[d.src]);
    }
    return in;
  }

  // Column b's Jacobian d(coupling current into m)/du_src, dense (n_m x n_src).
  Eigen::MatrixXd jacobian_block(const std::vector<std::array<Eigen::MatrixXd, 2>>& k, int m, int src,
                                 Eigen::Index b) const {
    Eigen::MatrixXd j = Eigen::MatrixXd::Zero(size[m], size[src]);
    for (const auto& d : into[m]) {
      if (d.src != src) continue;
      if (!d.tanh_src) j += d.a1;
      else j += d.a1 * k[src][0].col(b).asDiagonal() + d.a2 * k[src][1].col(b).asDiagonal();
    }
    return j;
  }

  // Carries the thermal fluctuation f about the relaxed state s (every group) on to
  // this call's readings: the linearised node dynamics c dx/dt = -g_restore x + J x +
  // noise, integrated by Heun steps exact for each node's own RC; a new process starts
  // from a draw of each node's own kT/C and settles settle_tau, a carried one runs
  // call_interval_tau, then reading k is taken after k more repeat_interval_tau.
  // Returns the sum over the readings of quantise(s.u + x).
  template <class Quantise>
  std::vector<Eigen::MatrixXd> noisy_readings(const model::Clamp& clamp, const model::State& s, double temperature,
                                              double gamma, const ChipReadout& r, const Quantise& quantise,
                                              Fluctuation& f) const {
    const int M = groups();
    const Eigen::Index B = s.batch();
    const double h = r.noise_step_tau;
    const auto k = slopes(s);
    std::normal_distribution<double> normal(0.0, 1.0);
    auto gaussian = [&](Eigen::Index n) {
      Eigen::MatrixXd z(n, B);
      for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = normal(f.rng);
      return z;
    };
    const bool fresh = f.x.empty();
    if (fresh) f.x.resize(M);
    std::vector<Eigen::MatrixXd>& x = f.x;
    std::vector<Eigen::MatrixXd> sum(M);
    std::vector<Eigen::VectorXd> decay(M), gain(M), sd_step(M);
    for (int m = 0; m < M; ++m) {
      sum[m] = Eigen::MatrixXd::Zero(size[m], B);
      if (held(clamp, m)) {
        x[m] = Eigen::MatrixXd::Zero(size[m], B);
        continue;
      }
      const Eigen::ArrayXd rate = restore[m].cwiseQuotient(cap[m]).array(), e = (-h * rate).exp();
      const Eigen::ArrayXd var = temperature * noise_conductance(m, gamma).cwiseQuotient(cap[m].cwiseProduct(restore[m])).array();
      decay[m] = e.matrix();
      gain[m] = ((1 - e) / restore[m].array()).matrix();
      sd_step[m] = (var * (1 - e.square())).sqrt().matrix();
      if (fresh) x[m] = var.sqrt().matrix().asDiagonal() * gaussian(size[m]);
    }
    // One step: the predictor x~ = e x + g J x + noise, then the coupling current averaged
    // over the step, x' = e x + g J (x + x~) / 2 + the same noise (second order in h).
    std::vector<Eigen::MatrixXd> in(M), base(M), pred(M);
    auto advance = [&](double t) {
      for (long n = std::lround(t / h); n > 0; --n) {
        for (int m = 0; m < M; ++m)
          if (!held(clamp, m)) in[m] = linear_input(k, x, m);
        pred = x;
        for (int m = 0; m < M; ++m)
          if (!held(clamp, m)) {
            base[m] = decay[m].asDiagonal() * x[m] + sd_step[m].asDiagonal() * gaussian(size[m]);
            pred[m] = base[m] + gain[m].asDiagonal() * in[m];
          }
        for (int m = 0; m < M; ++m)
          if (!held(clamp, m)) x[m] = base[m] + gain[m].asDiagonal() * (0.5 * (in[m] + linear_input(k, pred, m)));
      }
    };
    advance(fresh ? r.noise_settle_tau : r.call_interval_tau);
    for (int rep = 0; rep < r.repeats; ++rep) {
      if (rep > 0) advance(r.repeat_interval_tau);
      for (int m = 0; m < M; ++m)
        if (!held(clamp, m)) sum[m] += (s.u[m] + x[m]).unaryExpr(quantise);
    }
    return sum;
  }

  // Replaces the state by the chip's reading of it (ChipReadout).
  void read(const model::Clamp& clamp, model::State& s, double temperature, double gamma, const ChipReadout& r,
            Fluctuation* f) const {
    auto quantise = [&r](double u) { return r.quantise(u); };
    if (temperature > 0) {
      auto sum = noisy_readings(clamp, s, temperature, gamma, r, quantise, *f);
      for (int m = 0; m < groups(); ++m)
        if (!held(clamp, m)) s.u[m] = sum[m] / r.repeats;
    } else {
      for (int m = 0; m < groups(); ++m)
        if (!held(clamp, m)) s.u[m] = s.u[m].unaryExpr(quantise);
    }
    for (int m = 0; m < groups(); ++m)
      if (!held(clamp, m)) update(s, m);
  }

  // The stationary covariance of the linearised dynamics about column b of state s:
  // with A = C^-1 (G_restore - J) and Q = C^-1 2T G_noise C^-1 (diagonal: every noise
  // source ties one node to ground or a driven node), A P + P A^T = Q, solved through
  // A = V L V^-1: P = V [(V^-1 Q V^-H)_ij / (l_i + conj l_j)] V^H.
  Eigen::MatrixXd stationary_covariance(const model::Clamp& clamp, const model::State& s, double temperature,
                                        double gamma, Eigen::Index b) const {
    const auto k = slopes(extended(clamp, s));
    std::vector<int> free;
    std::vector<Eigen::Index> first;
    Eigen::Index n = 0;
    for (int m = 0; m < groups(); ++m)
      if (!held(clamp, m)) free.push_back(m), first.push_back(n), n += size[m];
    Eigen::MatrixXd A = Eigen::MatrixXd::Zero(n, n);
    Eigen::VectorXd q(n);
    for (size_t i = 0; i < free.size(); ++i) {
      const int m = free[i];
      const Eigen::VectorXd inv_c = cap[m].cwiseInverse();
      for (size_t j = 0; j < free.size(); ++j)
        A.block(first[i], first[j], size[m], size[free[j]]) = inv_c.asDiagonal() * -jacobian_block(k, m, free[j], b);
      A.diagonal().segment(first[i], size[m]) += restore[m].cwiseProduct(inv_c);
      q.segment(first[i], size[m]) = 2 * temperature * noise_conductance(m, gamma).cwiseProduct(inv_c.cwiseAbs2());
    }
    const Eigen::EigenSolver<Eigen::MatrixXd> es(A);
    const Eigen::MatrixXcd V = es.eigenvectors(), Vinv = V.inverse();
    const Eigen::VectorXcd l = es.eigenvalues();
    Eigen::MatrixXcd p = Vinv * q.asDiagonal() * Vinv.adjoint();
    for (Eigen::Index j = 0; j < n; ++j)
      for (Eigen::Index i = 0; i < n; ++i) p(i, j) /= l(i) + std::conj(l(j));
    return (V * p * V.adjoint()).real();
  }

  model::RelaxSummary relax_columns(const model::Clamp& clamp, model::State& s, const model::RelaxOptions& opt,
                                    double gamma, const ChipReadout& readout, Fluctuation* f) const {
    if (clamp.hold_visible) {
      s.u[net.spec().visible] = clamp.spring_target;
      model::update_output(net, s, net.spec().visible);
    }
    model::State ext = extended(clamp, s);
    model::RelaxSummary sum;
    while (sum.steps < opt.max_steps) {
      ++sum.steps;
      sum.last_change = opt.method == model::RelaxMethod::block ? block_sweep(clamp, ext) : euler_step(clamp, ext, opt.dt);
      if (opt.tol > 0 && sum.last_change < opt.tol) {
        sum.converged = true;
        break;
      }
    }
    if (opt.temperature > 0 || readout.adc_bits > 0) read(clamp, ext, opt.temperature, gamma, readout, f);
    shrink(ext, s);
    return sum;
  }
};

bool has_self_coupling(const model::Network& net) {
  for (int c = 0; c < static_cast<int>(net.spec().couplings.size()); ++c)
    if (net.is_self(c)) return true;
  return false;
}

}  // namespace

// The fluctuation of every column chunk, and what it was started for.
struct EquivalentCircuit::NoiseProcess {
  Eigen::Index batch = -1;
  double temperature = 0;
  bool hold_visible = false;
  std::vector<Fluctuation> chunks;

  // The chunks' fluctuations for a noisy call: carried on when it continues this
  // process, else a new process from each chunk's own stream of seed.
  std::vector<Fluctuation>& for_call(Eigen::Index b, double t, bool hold, unsigned long long seed, size_t n_chunks) {
    if (b == batch && t == temperature && hold == hold_visible && chunks.size() == n_chunks) return chunks;
    batch = b, temperature = t, hold_visible = hold;
    chunks.assign(n_chunks, {});
    for (size_t k = 0; k < n_chunks; ++k) {
      std::seed_seq seq{seed, static_cast<unsigned long long>(k), 0x52656164ULL};
      chunks[k].rng.seed(seq);
    }
    return chunks;
  }
};

double ChipReadout::quantise(double u) const {
  if (adc_bits <= 0) return u;
  const double levels = std::ldexp(1.0, adc_bits) - 1, lsb = 2 * full_scale_model / levels;
  return std::clamp(std::round((u + full_scale_model) / lsb), 0.0, levels) * lsb - full_scale_model;
}

EquivalentCircuit::~EquivalentCircuit() = default;

EquivalentCircuit::EquivalentCircuit(const model::Network& net, DeviceFactors factors, double noise_gamma,
                                     ChipReadout readout)
    : net_(net), f_(std::move(factors)), noise_gamma_(noise_gamma), readout_(readout),
      noise_(std::make_unique<NoiseProcess>()) {
  if (readout_.repeats < 1 || readout_.adc_bits < 0 || !(readout_.full_scale_model > 0) || !(readout_.noise_step_tau > 0) ||
      readout_.noise_settle_tau < 0 || readout_.repeat_interval_tau < 0 || readout_.call_interval_tau < 0)
    throw InputError("", "readout", "repeats >= 1, adc_bits >= 0, a positive full scale and noise step, non-negative times");
}

model::RelaxSummary EquivalentCircuit::relax(const model::Clamp& clamp, model::State& s,
                                             const model::RelaxOptions& opt) const {
  if (opt.method == model::RelaxMethod::block && has_self_coupling(net_))
    throw std::invalid_argument("block relaxation needs modules without internal couplings; use euler");
  const NodeEquations eq(net_, f_, clamp);
  const auto chunks = model::column_chunks(s.batch());
  std::vector<Fluctuation>* fluct =
      opt.temperature > 0 ? &noise_->for_call(s.batch(), opt.temperature, clamp.hold_visible, opt.noise_seed, chunks.size())
                          : nullptr;
  std::vector<model::RelaxSummary> sums(chunks.size());
#pragma omp parallel for schedule(dynamic)
  for (size_t k = 0; k < chunks.size(); ++k) {
    const auto [c0, n] = chunks[k];
    model::State part = model::slice(s, c0, n);
    sums[k] = eq.relax_columns(model::slice(clamp, c0, n), part, opt, noise_gamma_, readout_, fluct ? &(*fluct)[k] : nullptr);
    for (size_t m = 0; m < s.u.size(); ++m) {
      s.u[m].middleCols(c0, n) = part.u[m];
      s.a[m].middleCols(c0, n) = part.a[m];
    }
  }
  model::RelaxSummary sum{0, 0, true};
  for (const auto& p : sums) {
    sum.steps = std::max(sum.steps, p.steps);
    sum.last_change = std::max(sum.last_change, p.last_change);
    sum.converged = sum.converged && p.converged;
  }
  return sum;
}

model::State EquivalentCircuit::with_projections(const model::Clamp& clamp, const model::State& s) const {
  return NodeEquations(net_, f_, clamp).extended(clamp, s);
}

Eigen::MatrixXd EquivalentCircuit::noise_covariance(const model::Clamp& clamp, const model::State& s, double temperature,
                                                   Eigen::Index b) const {
  return NodeEquations(net_, f_, clamp).stationary_covariance(clamp, s, temperature, noise_gamma_, b);
}

Eigen::RowVectorXd EquivalentCircuit::settle_time_tau(const model::Clamp& clamp, const model::State& start, double tol,
                                                      double dt, double max_time) const {
  const NodeEquations eq(net_, f_, clamp);
  model::State end = start;
  const model::RelaxOptions to_end = has_self_coupling(net_) ? model::RelaxOptions{model::RelaxMethod::euler, 200000, 0.1, 1e-4 * tol}
                                                              : model::RelaxOptions{model::RelaxMethod::block, 2000, 0.1, 1e-3 * tol};
  eq.relax_columns(clamp, end, to_end, noise_gamma_, ChipReadout{}, nullptr);
  const Eigen::Index B = start.batch();
  auto deviation = [&](const model::State& s) {
    Eigen::RowVectorXd d = Eigen::RowVectorXd::Zero(B);
    for (size_t m = 0; m < end.u.size(); ++m) d = d.cwiseMax((s.u[m] - end.u[m]).cwiseAbs().colwise().maxCoeff());
    return d;
  };
  model::State s = eq.extended(clamp, start);
  Eigen::RowVectorXd last_out = Eigen::RowVectorXd::Zero(B);  // last time a sample was off by more than tol
  Eigen::RowVectorXd d = deviation(s);
  double t = 0;
  // Stop when every sample is within a tenth of tol: from there the (stable) dynamics
  // decay without leaving the band.
  while (t < max_time && d.maxCoeff() > 0.1 * tol) {
    eq.euler_step(clamp, s, dt);
    t += dt;
    d = deviation(s);
    for (Eigen::Index b = 0; b < B; ++b)
      if (d(b) > tol) last_out(b) = t;
  }
  for (Eigen::Index b = 0; b < B; ++b)
    if (d(b) > tol) last_out(b) = std::numeric_limits<double>::infinity();
  return last_out;
}

}  // namespace eqsim::circuit
