#include "circuit/equivalent.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <type_traits>

#include "data/error.hpp"

namespace eqsim::circuit {

namespace {

template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T>
using Arr = Eigen::Array<T, Eigen::Dynamic, 1>;

// Effective couplings into one group from group `src`, in the arithmetic T.
template <class T>
struct Direction {
  int src = 0;
  bool tanh_src = false;
  bool self = false;      // intra-module: one device per ordered pair i != j (diagonal empty)
  Mat<T> a1, a2, a3, a4;  // W.g, W.g.o, W.g.o^2, W.g.o^3 (elementwise)
  bool offsets = true;    // some device has an offset (else a2..a4 are zero and skipped: an ideal chip's one GEMM)
  Vec<T> shift;           // identity sources: -sum_j W_ij g_ij o_ij
};

// d's coefficients from weights w, gains and offsets (double expressions of one shape),
// written over its storage.
template <class T, class W, class G, class O>
void set_direction(Direction<T>& d, const W& w, const G& gain, const O& offset) {
  const auto wg = w.array() * gain.array();
  const auto o = offset.array();
  d.a1 = wg.matrix().template cast<T>();
  d.a2 = (wg * o).matrix().template cast<T>();
  d.offsets = (o != 0).any();
  if (d.tanh_src) d.a3 = (wg * o * o).matrix().template cast<T>(), d.a4 = (wg * o * o * o).matrix().template cast<T>();
  if (d.self)
    for (Mat<T>* a : {&d.a1, &d.a2, &d.a3, &d.a4})
      if (a->size() > 0) a->diagonal().setZero();
  if (!d.tanh_src) d.shift = -d.a2.rowwise().sum();
}

// A state in the arithmetic T: per node group, its values u and outputs a.
template <class T>
struct Nodes {
  std::vector<Mat<T>> u, a;
  Eigen::Index batch() const { return u.empty() ? 0 : u[0].cols(); }
};

// A clamp's columns in the arithmetic T.
template <class T>
struct Drive {
  Mat<T> spring_target, nudge_target;
  const std::vector<int>* levels = nullptr;
  bool hold_visible = false, nudged = false;
};

// xoshiro256++ (Blackman and Vigna 2019) in eight independent lanes: 64-bit words for
// the noise draws, eight at a time in a form the compiler vectorises (one lane per SIMD
// slot), several times faster than one stream of std::mt19937_64; the lanes' states
// from a seed sequence.
class Xoshiro256x8 {
 public:
  static constexpr int lanes = 8;
  void seed(std::seed_seq& seq) {
    std::array<std::uint32_t, 8 * lanes> w;
    seq.generate(w.begin(), w.end());
    for (int i = 0; i < 4; ++i)
      for (int l = 0; l < lanes; ++l) s_[i][l] = (std::uint64_t{w[8 * l + 2 * i]} << 32) | w[8 * l + 2 * i + 1];
  }
  // The next word of every lane into out[0 .. lanes).
  void next(std::uint64_t* out) {
    auto& [a, b, c, d] = s_;
    for (int l = 0; l < lanes; ++l) {
      out[l] = rotl(a[l] + d[l], 23) + a[l];
      const std::uint64_t t = b[l] << 17;
      c[l] ^= a[l], d[l] ^= b[l], b[l] ^= c[l], a[l] ^= d[l], c[l] ^= t;
      d[l] = rotl(d[l], 45);
    }
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::array<std::uint64_t, lanes>, 4> s_{};
};

// The thermal fluctuation of one column chunk (per node group) and its noise stream;
// x empty: a process not started yet.
template <class T>
struct Fluctuation {
  std::vector<Mat<T>> x;
  Xoshiro256x8 rng;
};

// One column chunk's state and scratch, kept from call to call so that the sweeps and
// the noise sampler work in place (no allocation per sweep or step).
template <class T>
struct Work {
  Nodes<T> s;                  // modules, then projection groups
  Drive<T> drive;
  Mat<T> in, u, slope, rhs;    // one group's input current, new values and the factors of its GEMMs
  std::vector<Mat<T>> du;      // Euler: per group
  std::vector<std::array<Mat<T>, 2>> k;  // the coupling slopes of the linearised dynamics, per tanh group
  std::vector<Mat<T>> z, in_x, in_pred, base, pred;  // the noise sampler's, per group
  std::vector<Vec<T>> decay, gain, sd_step;
  Arr<T> v1, v2;               // normal draws' candidates
  std::vector<Eigen::MatrixXd> reading;  // per module: the chip's reading (ADC codes in double), when read
  bool read = false;

  // The columns [c0, c0 + n) of s and clamp, in T (the projection groups follow later).
  void load(const model::State& state, const model::Clamp& clamp, Eigen::Index c0, Eigen::Index n, int groups) {
    s.u.resize(static_cast<size_t>(groups)), s.a.resize(static_cast<size_t>(groups));
    for (size_t m = 0; m < state.u.size(); ++m) {
      s.u[m] = state.u[m].middleCols(c0, n).template cast<T>();
      s.a[m] = state.a[m].middleCols(c0, n).template cast<T>();
    }
    drive.spring_target = clamp.spring_target.middleCols(c0, n).template cast<T>();
    drive.nudged = clamp.nudge_g != 0;
    if (drive.nudged) drive.nudge_target = clamp.nudge_target.middleCols(c0, n).template cast<T>();
    drive.levels = &clamp.levels;  // column b of the chunk is clamp.levels[c0 + b]
    drive.hold_visible = clamp.hold_visible;
    first_column = c0;
    read = false;
  }
  // The modules' groups (or their readings) back into columns [c0, c0 + n) of state;
  // a reading's outputs are computed from it in double.
  void unload(model::State& state, const std::vector<bool>& tanh_module) const {
    for (size_t m = 0; m < state.u.size(); ++m) {
      auto u = state.u[m].middleCols(first_column, s.batch());
      auto a = state.a[m].middleCols(first_column, s.batch());
      if (!read) {
        u = s.u[m].template cast<double>(), a = s.a[m].template cast<double>();
        continue;
      }
      u = reading[m];
      if (tanh_module[m]) a = (1.0 - 2.0 / ((2.0 * reading[m].array().min(20.0).max(-20.0)).exp() + 1.0)).matrix();
      else a = reading[m];
    }
  }
  Eigen::Index first_column = 0;
};

// Independent standard normal draws into z by the Box-Muller transform, vectorised: each
// 64-bit word of rng gives a pair of uniforms (its two halves: u1 in (0, 1], u2 in
// [0, 1), 24 bits each in float, 32 in double) and the pair sqrt(-2 ln u1) (cos, sin)(2 pi u2),
// all computed at once. The tails end at sqrt(-2 ln 2^-24) = 5.8 sd in float (a normal
// passes it with probability 8e-9), 6.7 sd in double. v1, v2: scratch.
template <class T>
void standard_normal(Mat<T>& z, Xoshiro256x8& rng, Arr<T>& v1, Arr<T>& v2) {
  constexpr int bits = std::is_same_v<T, float> ? 24 : 32;
  constexpr std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
  const T scale = std::ldexp(T(1), -bits);
  const Eigen::Index n = z.size(), pairs = (n + 1) / 2, lanes = Xoshiro256x8::lanes;
  const Eigen::Index padded = (pairs + lanes - 1) / lanes * lanes;
  v1.resize(padded), v2.resize(padded);
  std::array<std::uint64_t, Xoshiro256x8::lanes> w;
  for (Eigen::Index i = 0; i < padded; i += lanes) {
    rng.next(w.data());
    for (Eigen::Index l = 0; l < lanes; ++l) {
      v1[i + l] = static_cast<T>(static_cast<std::int64_t>((w[l] >> 32) & mask) + 1) * scale;
      v2[i + l] = static_cast<T>(static_cast<std::int64_t>(w[l] & mask)) * scale;
    }
  }
  v1 = (T(-2) * v1.log()).sqrt();
  v2 *= T(2 * 3.14159265358979323846);
  Eigen::Map<Arr<T>> out(z.data(), n);
  out.head(pairs) = v1.head(pairs) * v2.head(pairs).cos();
  out.tail(n - pairs) = v1.head(n - pairs) * v2.head(n - pairs).sin();
}

// The node equations of a network and its device draws, over node groups: the
// network's modules (0 .. M-1), then per bilinear coupling its projection nodes pu and
// pv (identity, leak 1: they hold U^T a_p and V^T a_q); in the arithmetic T. refresh()
// takes the network's current parameters and a clamp's conductances.
template <class T>
struct NodeEquations {
  const model::Network& net;
  int modules = 0;                              // M
  int visible = 0;
  std::vector<int> size;                        // per group
  std::vector<bool> tanh_group;                 // per group
  std::vector<std::vector<Direction<T>>> into;  // per group
  std::vector<std::pair<int, int>> projection;  // per coupling: its pu and pv groups (bilinear)
  std::vector<Vec<T>> leak;                     // per group: leak conductance
  std::vector<Vec<T>> restore, inv_restore;     // per group: restoring conductance (visible: + spring, nudge)
  std::vector<Vec<T>> cap, inv_cap;             // per group: capacitor factors
  std::vector<Vec<T>> bias;                     // per module
  std::vector<Mat<T>> table;                    // per module: its bias table (empty: none)
  Vec<T> spring, nudge;                         // visible: spring and nudge factors
  Vec<T> vis_spring, vis_nudge;                 // visible: spring and nudge conductances under the clamp

  NodeEquations(const model::Network& n, const DeviceFactors& f)
      : net(n), modules(n.module_count()), visible(n.spec().visible) {
    const auto& spec = net.spec();
    for (int m = 0; m < modules; ++m)
      add_group(net.size(m), spec.modules[m].activation == model::Activation::tanh, f.modules[m].cap,
                spec.leak * f.modules[m].leak);
    for (int c = 0; c < static_cast<int>(spec.couplings.size()); ++c) {
      const auto& cp = spec.couplings[c];
      const auto& fc = f.couplings[c];
      projection.emplace_back(-1, -1);
      if (cp.kind == model::CouplingKind::bilinear)
        projection.back() = {add_group(cp.rank, false, fc.cap_pu, fc.leak_pu), add_group(cp.rank, false, fc.cap_pv, fc.leak_pv)};
    }
    spring = f.spring.cast<T>(), nudge = f.nudge.cast<T>();
    couple(f, true);
    bias.resize(static_cast<size_t>(modules)), table.resize(static_cast<size_t>(modules));
  }

  int add_group(int n, bool is_tanh, const Eigen::VectorXd& c, const Eigen::VectorXd& g) {
    size.push_back(n), tanh_group.push_back(is_tanh), cap.push_back(c.cast<T>()), leak.push_back(g.cast<T>());
    inv_cap.push_back(cap.back().cwiseInverse());
    into.emplace_back();
    return static_cast<int>(size.size()) - 1;
  }
  int groups() const { return static_cast<int>(size.size()); }

  // Every direction's coefficients from the network's parameters (fresh: created first).
  void couple(const DeviceFactors& f, bool fresh) {
    std::vector<size_t> next(static_cast<size_t>(groups()), 0);
    auto put = [&](int g, int src, bool self, const auto& w, const auto& gain, const auto& offset) {
      if (fresh) {
        Direction<T>& d = into[g].emplace_back();
        d.src = src, d.tanh_src = tanh_group[src], d.self = self;
      }
      set_direction(into[g][next[g]++], w, gain, offset);
    };
    const auto& spec = net.spec();
    for (int c = 0; c < static_cast<int>(spec.couplings.size()); ++c) {
      const auto& cp = spec.couplings[c];
      const auto& fc = f.couplings[c];
      if (cp.kind == model::CouplingKind::bilinear) {
        const auto [pu, pv] = projection[c];
        put(pu, cp.p, false, net.w(c).transpose(), fc.gain_to_pu.transpose(), fc.offset_to_pu.transpose());
        put(cp.q, pu, false, net.v(c), fc.gain_pu_to_q, fc.offset_pu_to_q);
        put(pv, cp.q, false, net.v(c).transpose(), fc.gain_to_pv.transpose(), fc.offset_to_pv.transpose());
        put(cp.p, pv, false, net.w(c), fc.gain_pv_to_p, fc.offset_pv_to_p);
      } else if (cp.p == cp.q) {
        put(cp.p, cp.p, true, net.w(c), fc.gain_into_p, fc.offset_into_p);
      } else {
        put(cp.p, cp.q, false, net.w(c), fc.gain_into_p, fc.offset_into_p);
        put(cp.q, cp.p, false, net.w(c).transpose(), fc.gain_into_q, fc.offset_into_q);
      }
    }
  }

  // The network's current parameters and the clamp's spring and nudge conductances.
  void refresh(const DeviceFactors& f, const model::Clamp& clamp) {
    couple(f, false);
    for (int m = 0; m < modules; ++m) {
      bias[m] = net.bias(m).col(0).cast<T>();
      const int t = net.table_index(m);
      if (t >= 0) table[m] = net.params()[t].cast<T>();
    }
    vis_spring = T(clamp.spring_g) * spring;
    vis_nudge = T(clamp.nudge_g) * nudge;
    restore = leak;
    restore[visible] += vis_spring + vis_nudge;
    inv_restore.resize(restore.size());
    for (size_t g = 0; g < restore.size(); ++g) inv_restore[g] = restore[g].cwiseInverse();
  }

  // The outputs of group g from its values: tanh(u) = 1 - 2/(e^{2u} + 1) (Eigen
  // vectorises exp; |u| clamped at 20, where tanh is +-1 to double precision).
  void update(Nodes<T>& s, int g) const {
    if (g < modules && tanh_group[g])
      s.a[g] = (T(1) - T(2) / ((T(2) * s.u[g].array().min(T(20)).max(T(-20))).exp() + T(1))).matrix();
    else
      s.a[g] = s.u[g];
  }

  // The projection groups of w.s at their values given the modules.
  void extend(Work<T>& w) const {
    for (int g = modules; g < groups(); ++g) {
      input(w, g);
      w.s.u[g].noalias() = inv_restore[g].asDiagonal() * w.in;
      w.s.a[g] = w.s.u[g];
    }
  }

  // w.in: the current into the nodes of group m from everything but their own
  // restoring conductance.
  void input(Work<T>& w, int m) const {
    const Nodes<T>& s = w.s;
    w.in.setZero(size[m], s.batch());
    for (const auto& d : into[m]) {
      if (!d.tanh_src) {
        w.in.noalias() += d.a1 * s.u[d.src];
        w.in.colwise() += d.shift;
        continue;
      }
      // tanh(u - o) = a - o s - o^2 a s + o^3 s (1 - 3a^2) / 3 + O(o^4), s = 1 - a^2
      w.in.noalias() += d.a1 * s.a[d.src];
      if (!d.offsets) continue;
      const auto a = s.a[d.src].array();
      w.slope = (T(1) - a.square()).matrix();
      w.in.noalias() -= d.a2 * w.slope;
      w.rhs = (a * w.slope.array()).matrix();
      w.in.noalias() -= d.a3 * w.rhs;
      w.rhs = (w.slope.array() * (T(1) - T(3) * a.square()) / T(3)).matrix();
      w.in.noalias() += d.a4 * w.rhs;
    }
    if (m >= modules) return;
    w.in.colwise() += bias[m];
    if (table[m].size() > 0)
      for (Eigen::Index b = 0; b < w.in.cols(); ++b) w.in.col(b) += table[m].col(w.drive.levels->at(w.first_column + b));
    if (m == visible) {
      w.in.noalias() += vis_spring.asDiagonal() * w.drive.spring_target;
      if (w.drive.nudged) w.in.noalias() += vis_nudge.asDiagonal() * w.drive.nudge_target;
    }
  }

  bool held(const Drive<T>& clamp, int m) const { return clamp.hold_visible && m == visible; }

  // One Gauss-Seidel sweep: each module solved given the others, and right after it the
  // projection groups it feeds (a projection group reads one module only), so a bilinear
  // coupling acts as its dense equivalent U V^T would: with the projections a sweep
  // behind, the sweeps can oscillate and diverge on strong low-rank couplings.
  double block_sweep(Work<T>& w) const {
    double change = 0;
    auto solve = [&](int g) {
      input(w, g);
      w.u.noalias() = inv_restore[g].asDiagonal() * w.in;
      change = std::max(change, static_cast<double>((w.u - w.s.u[g]).cwiseAbs().maxCoeff()));
      std::swap(w.u, w.s.u[g]);
      update(w.s, g);
    };
    for (int m = 0; m < modules; ++m) {
      if (!held(w.drive, m)) solve(m);
      for (int g = modules; g < groups(); ++g)
        if (into[g].front().src == m) solve(g);
    }
    return change;
  }

  double euler_step(Work<T>& w, double dt) const {
    w.du.resize(static_cast<size_t>(groups()));
    for (int m = 0; m < groups(); ++m)
      if (!held(w.drive, m)) {
        input(w, m);
        w.du[m] = (T(dt) * inv_cap[m].asDiagonal() * (w.in - restore[m].asDiagonal() * w.s.u[m]));
      }
    double change = 0;
    for (int m = 0; m < groups(); ++m) {
      if (held(w.drive, m)) continue;
      w.s.u[m] += w.du[m];
      change = std::max(change, static_cast<double>(w.du[m].cwiseAbs().maxCoeff()));
      update(w.s, m);
    }
    return change;
  }

  // Current-noise conductance per node of group m (two-sided PSD 2 kT g_noise in model
  // units): its resistors (leak, spring) and gamma |gm| of every transconductor into it,
  // gm at its nominal value as the ode backend injects it; the nudge is a G element.
  Vec<T> noise_conductance(int m, double gamma) const {
    Vec<T> g_noise = restore[m];
    for (const auto& d : into[m]) g_noise += T(gamma) * d.a1.cwiseAbs().rowwise().sum();
    if (m == visible) g_noise += T(gamma) * vis_nudge.cwiseAbs() - vis_nudge;
    return g_noise;
  }

  // w.k: the slopes of the coupling currents at w.s, per tanh group: d tanh(u - o)/du =
  // s + 2 o a s + O(o^2) with s = 1 - a^2, a = tanh(u), as the pair (s, 2 a s).
  void slopes(Work<T>& w) const {
    w.k.resize(static_cast<size_t>(groups()));
    for (int m = 0; m < groups(); ++m) {
      if (!tanh_group[m]) continue;
      const auto a = w.s.a[m].array();
      w.k[m][0] = (T(1) - a.square()).matrix();
      w.k[m][1] = (T(2) * a * w.k[m][0].array()).matrix();
    }
  }

  // The linearised coupling current into group m for deviations x (per group, zero
  // where held) at the slopes k, into `in`.
  void linear_input(const std::vector<std::array<Mat<T>, 2>>& k, const std::vector<Mat<T>>& x, int m, Mat<T>& rhs,
                    Mat<T>& in) const {
    in.setZero(size[m], x[m].cols());
    for (const auto& d : into[m]) {
      if (!d.tanh_src) {
        in.noalias() += d.a1 * x[d.src];
        continue;
      }
      rhs = k[d.src][0].cwiseProduct(x[d.src]);
      in.noalias() += d.a1 * rhs;
      if (!d.offsets) continue;
      rhs = k[d.src][1].cwiseProduct(x[d.src]);
      in.noalias() += d.a2 * rhs;
    }
  }

  // Column b's Jacobian d(coupling current into m)/du_src, dense (n_m x n_src).
  Mat<T> jacobian_block(const std::vector<std::array<Mat<T>, 2>>& k, int m, int src, Eigen::Index b) const {
    Mat<T> j = Mat<T>::Zero(size[m], size[src]);
    for (const auto& d : into[m]) {
      if (d.src != src) continue;
      if (!d.tanh_src) j += d.a1;
      else j += d.a1 * k[src][0].col(b).asDiagonal() + d.a2 * k[src][1].col(b).asDiagonal();
    }
    return j;
  }

  // Carries the thermal fluctuation f about the relaxed state w.s (every group) on to
  // this call's readings: the linearised node dynamics c dx/dt = -g_restore x + J x +
  // noise, integrated by Heun steps exact for each node's own RC; a new process starts
  // from a draw of each node's own kT/C and settles settle_tau, a carried one runs
  // call_interval_tau, then reading k is taken after k more repeat_interval_tau.
  // Leaves in w.reading the mean over the readings of r.quantise(s.u + x) (double: ADC
  // codes stay on their grid).
  void noisy_readings(Work<T>& w, double temperature, double gamma, const ChipReadout& r, Fluctuation<T>& f) const {
    const int M = groups();
    const Eigen::Index B = w.s.batch();
    const double h = r.noise_step_tau;
    slopes(w);
    for (auto* v : {&w.z, &w.in_x, &w.in_pred, &w.base, &w.pred}) v->resize(static_cast<size_t>(M));
    for (auto* v : {&w.decay, &w.gain, &w.sd_step}) v->resize(static_cast<size_t>(M));
    const bool fresh = f.x.empty();
    if (fresh) f.x.resize(static_cast<size_t>(M));
    std::vector<Mat<T>>& x = f.x;
    for (int m = 0; m < M; ++m) {
      w.z[m].resize(size[m], B);
      if (held(w.drive, m)) {
        x[m].setZero(size[m], B);
        continue;
      }
      const Arr<T> rate = restore[m].cwiseProduct(inv_cap[m]).array(), e = (T(-h) * rate).exp();
      const Arr<T> var = T(temperature) * noise_conductance(m, gamma).cwiseProduct(inv_cap[m]).cwiseProduct(inv_restore[m]).array();
      w.decay[m] = e.matrix();
      w.gain[m] = ((T(1) - e) * inv_restore[m].array()).matrix();
      w.sd_step[m] = (var * (T(1) - e.square())).sqrt().matrix();
      if (fresh) {
        standard_normal(w.z[m], f.rng, w.v1, w.v2);
        x[m] = var.sqrt().matrix().asDiagonal() * w.z[m];
      }
    }
    // One step: the predictor x~ = e x + g J x + noise, then the coupling current averaged
    // over the step, x' = e x + g J (x + x~) / 2 + the same noise (second order in h).
    auto advance = [&](double t) {
      for (long n = std::lround(t / h); n > 0; --n) {
        for (int m = 0; m < M; ++m)
          if (!held(w.drive, m)) linear_input(w.k, x, m, w.rhs, w.in_x[m]);
        for (int m = 0; m < M; ++m) {
          if (held(w.drive, m)) {
            w.pred[m] = x[m];
            continue;
          }
          standard_normal(w.z[m], f.rng, w.v1, w.v2);
          w.base[m].noalias() = w.decay[m].asDiagonal() * x[m];
          w.base[m].noalias() += w.sd_step[m].asDiagonal() * w.z[m];
          w.pred[m] = w.base[m];
          w.pred[m].noalias() += w.gain[m].asDiagonal() * w.in_x[m];
        }
        for (int m = 0; m < M; ++m)
          if (!held(w.drive, m)) {
            linear_input(w.k, w.pred, m, w.rhs, w.in_pred[m]);
            w.in_pred[m] += w.in_x[m];
            x[m] = w.base[m];
            x[m].noalias() += (T(0.5) * w.gain[m]).asDiagonal() * w.in_pred[m];
          }
      }
    };
    advance(fresh ? r.noise_settle_tau : r.call_interval_tau);
    for (int rep = 0; rep < r.repeats; ++rep) {
      if (rep > 0) advance(r.repeat_interval_tau);
      for (int m = 0; m < modules; ++m)
        if (!held(w.drive, m))
          w.reading[m] += (w.s.u[m] + x[m]).template cast<double>().unaryExpr([&r](double u) { return r.quantise(u); });
    }
    for (int m = 0; m < modules; ++m)
      if (!held(w.drive, m)) w.reading[m] /= r.repeats;
  }

  // w.reading: the chip's reading of the modules of w.s (ChipReadout).
  void read(Work<T>& w, double temperature, double gamma, const ChipReadout& r, Fluctuation<T>* f) const {
    w.reading.resize(static_cast<size_t>(modules));
    for (int m = 0; m < modules; ++m) {
      if (held(w.drive, m)) w.reading[m] = w.s.u[m].template cast<double>();
      else if (temperature > 0) w.reading[m].setZero(size[m], w.s.batch());  // noisy_readings sums into it
      else w.reading[m] = w.s.u[m].template cast<double>().unaryExpr([&r](double u) { return r.quantise(u); });
    }
    if (temperature > 0) noisy_readings(w, temperature, gamma, r, *f);
    w.read = true;
  }

  // The stationary covariance of the linearised dynamics about column b of the state in
  // w (projection groups extended): with A = C^-1 (G_restore - J) and Q = C^-1 2T G_noise
  // C^-1 (diagonal: every noise source ties one node to ground or a driven node),
  // A P + P A^T = Q, solved through A = V L V^-1: P = V [(V^-1 Q V^-H)_ij / (l_i + conj l_j)] V^H.
  Eigen::MatrixXd stationary_covariance(Work<T>& w, double temperature, double gamma, Eigen::Index b) const {
    slopes(w);
    std::vector<int> free;
    std::vector<Eigen::Index> first;
    Eigen::Index n = 0;
    for (int m = 0; m < groups(); ++m)
      if (!held(w.drive, m)) free.push_back(m), first.push_back(n), n += size[m];
    Eigen::MatrixXd A = Eigen::MatrixXd::Zero(n, n);
    Eigen::VectorXd q(n);
    for (size_t i = 0; i < free.size(); ++i) {
      const int m = free[i];
      for (size_t j = 0; j < free.size(); ++j)
        A.block(first[i], first[j], size[m], size[free[j]]) = inv_cap[m].asDiagonal() * -jacobian_block(w.k, m, free[j], b);
      A.diagonal().segment(first[i], size[m]) += restore[m].cwiseProduct(inv_cap[m]);
      q.segment(first[i], size[m]) = 2 * temperature * noise_conductance(m, gamma).cwiseProduct(inv_cap[m].cwiseAbs2());
    }
    const Eigen::EigenSolver<Eigen::MatrixXd> es(A);
    const Eigen::MatrixXcd V = es.eigenvectors(), Vinv = V.inverse();
    const Eigen::VectorXcd l = es.eigenvalues();
    Eigen::MatrixXcd p = Vinv * q.asDiagonal() * Vinv.adjoint();
    for (Eigen::Index j = 0; j < n; ++j)
      for (Eigen::Index i = 0; i < n; ++i) p(i, j) /= l(i) + std::conj(l(j));
    return (V * p * V.adjoint()).real();
  }

  // Relaxes w.s (the modules' groups loaded; the projection groups follow them here) and
  // reads it as `readout` says.
  model::RelaxSummary relax_columns(Work<T>& w, const model::RelaxOptions& opt, double gamma, const ChipReadout& readout,
                                    Fluctuation<T>* f) const {
    if (w.drive.hold_visible) {
      w.s.u[visible] = w.drive.spring_target;
      update(w.s, visible);
    }
    extend(w);
    model::RelaxSummary sum;
    while (sum.steps < opt.max_steps) {
      ++sum.steps;
      sum.last_change = opt.method == model::RelaxMethod::block ? block_sweep(w) : euler_step(w, opt.dt);
      if (opt.tol > 0 && sum.last_change < opt.tol) {
        sum.converged = true;
        break;
      }
    }
    if (opt.temperature > 0 || readout.adc_bits > 0) read(w, opt.temperature, gamma, readout, f);
    return sum;
  }
};

bool has_self_coupling(const model::Network& net) {
  for (int c = 0; c < static_cast<int>(net.spec().couplings.size()); ++c)
    if (net.is_self(c)) return true;
  return false;
}

// Whether a relaxation runs in float32: a fixed sweep budget, or a tolerance float32
// resolves (its rounding leaves max |du| near 1e-7 of the unit scale).
bool in_float32(const model::RelaxOptions& opt) { return opt.tol == 0 || opt.tol >= 1e-5; }

}  // namespace

// The fluctuation of every column chunk, and what it was started for.
struct EquivalentCircuit::NoiseProcess {
  Eigen::Index batch = -1;
  double temperature = 0;
  bool hold_visible = false;
  bool float32 = false;
  std::vector<Fluctuation<float>> chunks32;
  std::vector<Fluctuation<double>> chunks64;

  // The chunks' fluctuations for a noisy call: carried on when it continues this
  // process, else a new process from each chunk's own stream of seed.
  template <class T>
  std::vector<Fluctuation<T>>& for_call(Eigen::Index b, double t, bool hold, unsigned long long seed, size_t n_chunks) {
    constexpr bool single = std::is_same_v<T, float>;
    auto& chunks = chunks_of<T>();
    if (b == batch && t == temperature && hold == hold_visible && single == float32 && chunks.size() == n_chunks)
      return chunks;
    batch = b, temperature = t, hold_visible = hold, float32 = single;
    chunks32.clear(), chunks64.clear();
    chunks.assign(n_chunks, {});
    for (size_t k = 0; k < n_chunks; ++k) {
      std::seed_seq seq{seed, static_cast<unsigned long long>(k), 0x52656164ULL};
      chunks[k].rng.seed(seq);
    }
    return chunks;
  }

  template <class T>
  std::vector<Fluctuation<T>>& chunks_of() {
    if constexpr (std::is_same_v<T, float>) return chunks32;
    else return chunks64;
  }
};

// The node equations and the column chunks' work space, kept between relax calls.
struct EquivalentCircuit::Cache {
  std::unique_ptr<NodeEquations<float>> eq32;
  std::unique_ptr<NodeEquations<double>> eq64;
  std::vector<Work<float>> work32;
  std::vector<Work<double>> work64;

  template <class T>
  NodeEquations<T>& equations(const model::Network& net, const DeviceFactors& f) {
    auto& eq = [&]() -> std::unique_ptr<NodeEquations<T>>& {
      if constexpr (std::is_same_v<T, float>) return eq32;
      else return eq64;
    }();
    if (!eq) eq = std::make_unique<NodeEquations<T>>(net, f);
    return *eq;
  }
  template <class T>
  std::vector<Work<T>>& work(size_t n_chunks) {
    auto& w = [&]() -> std::vector<Work<T>>& {
      if constexpr (std::is_same_v<T, float>) return work32;
      else return work64;
    }();
    w.resize(n_chunks);
    return w;
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
      noise_(std::make_unique<NoiseProcess>()), cache_(std::make_unique<Cache>()) {
  if (readout_.repeats < 1 || readout_.adc_bits < 0 || !(readout_.full_scale_model > 0) || !(readout_.noise_step_tau > 0) ||
      readout_.noise_settle_tau < 0 || readout_.repeat_interval_tau < 0 || readout_.call_interval_tau < 0)
    throw InputError("", "readout", "repeats >= 1, adc_bits >= 0, a positive full scale and noise step, non-negative times");
}

model::RelaxSummary EquivalentCircuit::relax(const model::Clamp& clamp, model::State& s,
                                             const model::RelaxOptions& opt) const {
  if (opt.method == model::RelaxMethod::block && has_self_coupling(net_))
    throw std::invalid_argument("block relaxation needs modules without internal couplings; use euler");
  return in_float32(opt) ? relax_in<float>(clamp, s, opt) : relax_in<double>(clamp, s, opt);
}

template <class T>
model::RelaxSummary EquivalentCircuit::relax_in(const model::Clamp& clamp, model::State& s,
                                                const model::RelaxOptions& opt) const {
  NodeEquations<T>& eq = cache_->equations<T>(net_, f_);
  eq.refresh(f_, clamp);
  const auto chunks = model::column_chunks(s.batch());
  std::vector<Work<T>>& work = cache_->work<T>(chunks.size());
  std::vector<Fluctuation<T>>* fluct =
      opt.temperature > 0
          ? &noise_->for_call<T>(s.batch(), opt.temperature, clamp.hold_visible, opt.noise_seed, chunks.size())
          : nullptr;
  std::vector<model::RelaxSummary> sums(chunks.size());
#pragma omp parallel for schedule(dynamic)
  for (size_t k = 0; k < chunks.size(); ++k) {
    work[k].load(s, clamp, chunks[k].begin, chunks[k].size, eq.groups());
    sums[k] = eq.relax_columns(work[k], opt, noise_gamma_, readout_, fluct ? &(*fluct)[k] : nullptr);
    work[k].unload(s, eq.tanh_group);
  }
  model::RelaxSummary sum{0, 0, true};
  for (const auto& p : sums) {
    sum.steps = std::max(sum.steps, p.steps);
    sum.last_change = std::max(sum.last_change, p.last_change);
    sum.converged = sum.converged && p.converged;
  }
  return sum;
}

namespace {

// The double-precision equations under clamp and a work space holding all of s's
// columns with its projection groups: the analyses' starting point.
struct Analysis {
  NodeEquations<double> eq;
  Work<double> w;
  Analysis(const model::Network& net, const DeviceFactors& f, const model::Clamp& clamp, const model::State& s)
      : eq(net, f) {
    eq.refresh(f, clamp);
    w.load(s, clamp, 0, s.batch(), eq.groups());
    if (clamp.hold_visible) w.s.u[eq.visible] = w.drive.spring_target, eq.update(w.s, eq.visible);
    eq.extend(w);
  }
};

}  // namespace

model::State EquivalentCircuit::with_projections(const model::Clamp& clamp, const model::State& s) const {
  const Analysis an(net_, f_, clamp, s);
  return {an.w.s.u, an.w.s.a};
}

Eigen::MatrixXd EquivalentCircuit::noise_covariance(const model::Clamp& clamp, const model::State& s, double temperature,
                                                   Eigen::Index b) const {
  Analysis an(net_, f_, clamp, s);
  return an.eq.stationary_covariance(an.w, temperature, noise_gamma_, b);
}

Eigen::RowVectorXd EquivalentCircuit::settle_time_tau(const model::Clamp& clamp, const model::State& start, double tol,
                                                      double dt, double max_time) const {
  Analysis an(net_, f_, clamp, start);
  Work<double> end = an.w;
  const model::RelaxOptions to_end = has_self_coupling(net_) ? model::RelaxOptions{model::RelaxMethod::euler, 200000, 0.1, 1e-4 * tol}
                                                              : model::RelaxOptions{model::RelaxMethod::block, 2000, 0.1, 1e-3 * tol};
  an.eq.relax_columns(end, to_end, noise_gamma_, ChipReadout{}, nullptr);
  const Eigen::Index B = start.batch();
  const size_t modules = start.u.size();
  auto deviation = [&](const Nodes<double>& s) {
    Eigen::RowVectorXd d = Eigen::RowVectorXd::Zero(B);
    for (size_t m = 0; m < modules; ++m) d = d.cwiseMax((s.u[m] - end.s.u[m]).cwiseAbs().colwise().maxCoeff());
    return d;
  };
  Work<double>& w = an.w;
  Eigen::RowVectorXd last_out = Eigen::RowVectorXd::Zero(B);  // last time a sample was off by more than tol
  Eigen::RowVectorXd d = deviation(w.s);
  double t = 0;
  // Stop when every sample is within a tenth of tol: from there the (stable) dynamics
  // decay without leaving the band.
  while (t < max_time && d.maxCoeff() > 0.1 * tol) {
    an.eq.euler_step(w, dt);
    t += dt;
    d = deviation(w.s);
    for (Eigen::Index b = 0; b < B; ++b)
      if (d(b) > tol) last_out(b) = t;
  }
  for (Eigen::Index b = 0; b < B; ++b)
    if (d(b) > tol) last_out(b) = std::numeric_limits<double>::infinity();
  return last_out;
}

}  // namespace eqsim::circuit
