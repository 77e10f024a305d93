#include "circuit/equivalent.hpp"

#include <algorithm>

#include <cmath>
#include <limits>
#include <random>

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

// The node equations at the network's current parameters under one clamp.
struct NodeEquations {
  const model::Network& net;
  std::vector<std::vector<Direction>> into;  // per module
  std::vector<Eigen::VectorXd> restore;      // per module: restoring conductance (visible: + spring, nudge)
  std::vector<Eigen::VectorXd> cap;          // per module: capacitor factors
  Eigen::VectorXd vis_spring, vis_nudge;     // visible: spring and nudge conductances

  NodeEquations(const model::Network& n, const DeviceFactors& f, const model::Clamp& clamp) : net(n), into(n.module_count()) {
    const auto& spec = net.spec();
    for (int c = 0; c < static_cast<int>(spec.couplings.size()); ++c) {
      const auto& cp = spec.couplings[c];
      const auto& fc = f.couplings[c];
      into[cp.p].push_back(direction(cp.q, is_tanh(cp.q), net.w(c), fc.gain_into_p, fc.offset_into_p));
      into[cp.q].push_back(direction(cp.p, is_tanh(cp.p), net.w(c).transpose(), fc.gain_into_q, fc.offset_into_q));
    }
    for (int m = 0; m < net.module_count(); ++m) {
      restore.push_back(spec.leak * f.modules[m].leak);
      cap.push_back(f.modules[m].cap);
    }
    vis_spring = clamp.spring_g * f.spring;
    vis_nudge = clamp.nudge_g * f.nudge;
    restore[spec.visible] += vis_spring + vis_nudge;
  }

  bool is_tanh(int m) const { return net.spec().modules[m].activation == model::Activation::tanh; }

  // Current into the nodes of module m from everything but their own restoring conductance.
  Eigen::MatrixXd input(const model::Clamp& clamp, const model::State& s, int m) const {
    Eigen::MatrixXd in = Eigen::MatrixXd::Zero(net.size(m), s.batch());
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

  double block_sweep(const model::Clamp& clamp, model::State& s) const {
    double change = 0;
    for (int m = 0; m < net.module_count(); ++m) {
      if (held(clamp, m)) continue;
      Eigen::MatrixXd u = restore[m].cwiseInverse().asDiagonal() * input(clamp, s, m);
      change = std::max(change, (u - s.u[m]).cwiseAbs().maxCoeff());
      s.u[m] = std::move(u);
      model::update_output(net, s, m);
    }
    return change;
  }

  double euler_step(const model::Clamp& clamp, model::State& s, double dt) const {
    std::vector<Eigen::MatrixXd> du(net.module_count());
    for (int m = 0; m < net.module_count(); ++m)
      if (!held(clamp, m))
        du[m] = dt * cap[m].cwiseInverse().asDiagonal() * (input(clamp, s, m) - restore[m].asDiagonal() * s.u[m]);
    double change = 0;
    for (int m = 0; m < net.module_count(); ++m) {
      if (held(clamp, m)) continue;
      s.u[m] += du[m];
      change = std::max(change, du[m].cwiseAbs().maxCoeff());
      model::update_output(net, s, m);
    }
    return change;
  }

  // Reading-noise variance per node over T: g_noise / (c g_restore).
  Eigen::VectorXd noise_ratio(int m, double gamma) const {
    Eigen::VectorXd g_noise = restore[m];
    for (const auto& d : into[m]) g_noise += gamma * d.a1.cwiseAbs().rowwise().sum();
    if (m == net.spec().visible) g_noise += gamma * vis_nudge.cwiseAbs() - vis_nudge;  // a G element, not a resistor
    return g_noise.cwiseQuotient(cap[m].cwiseProduct(restore[m]));
  }

  // Replaces the state by the chip's reading of it (ChipReadout).
  void read(const model::Clamp& clamp, model::State& s, double temperature, double gamma, const ChipReadout& r,
            std::mt19937_64& rng) const {
    std::normal_distribution<double> normal(0.0, 1.0);
    const double levels = r.adc_bits > 0 ? std::pow(2.0, r.adc_bits) - 1 : 0;
    const double lsb = levels > 0 ? 2 * r.full_scale_model / levels : 0;
    auto quantise = [&](double u) {
      if (lsb == 0) return u;
      const double code = std::clamp(std::round((u + r.full_scale_model) / lsb), 0.0, levels);
      return code * lsb - r.full_scale_model;
    };
    for (int m = 0; m < net.module_count(); ++m) {
      if (held(clamp, m)) continue;
      const Eigen::VectorXd sd = temperature > 0 ? Eigen::VectorXd((temperature * noise_ratio(m, gamma)).cwiseSqrt())
                                                 : Eigen::VectorXd::Zero(s.u[m].rows());
      for (Eigen::Index b = 0; b < s.u[m].cols(); ++b)
        for (Eigen::Index i = 0; i < s.u[m].rows(); ++i) {
          double sum = 0;
          for (int k = 0; k < r.repeats; ++k) sum += quantise(s.u[m](i, b) + (temperature > 0 ? sd(i) * normal(rng) : 0.0));
          s.u[m](i, b) = sum / r.repeats;
        }
      model::update_output(net, s, m);
    }
  }

  model::RelaxSummary relax_columns(const model::Clamp& clamp, model::State& s, const model::RelaxOptions& opt,
                                    double gamma, const ChipReadout& readout, unsigned long long chunk) const {
    if (clamp.hold_visible) {
      s.u[net.spec().visible] = clamp.spring_target;
      model::update_output(net, s, net.spec().visible);
    }
    model::RelaxSummary sum;
    while (sum.steps < opt.max_steps) {
      ++sum.steps;
      sum.last_change = opt.method == model::RelaxMethod::block ? block_sweep(clamp, s) : euler_step(clamp, s, opt.dt);
      if (opt.tol > 0 && sum.last_change < opt.tol) {
        sum.converged = true;
        break;
      }
    }
    if (opt.temperature > 0 || readout.adc_bits > 0) {
      std::seed_seq seq{opt.noise_seed, chunk, 0x52656164ULL};
      std::mt19937_64 rng(seq);
      read(clamp, s, opt.temperature, gamma, readout, rng);
    }
    return sum;
  }
};

}  // namespace

EquivalentCircuit::EquivalentCircuit(const model::Network& net, DeviceFactors factors, double noise_gamma,
                                     ChipReadout readout)
    : net_(net), f_(std::move(factors)), noise_gamma_(noise_gamma), readout_(readout) {
  if (readout_.repeats < 1 || readout_.adc_bits < 0 || !(readout_.full_scale_model > 0))
    throw InputError("", "readout", "repeats >= 1, adc_bits >= 0 and a positive full scale");
  for (const auto& c : net.spec().couplings)
    if (c.kind != model::CouplingKind::dense || c.p == c.q)
      throw InputError("", "couplings", "the circuit-equivalent model handles dense couplings between two modules; '" +
                                            c.name + "' is " + (c.p == c.q ? "intra-module" : "bilinear"));
}

model::RelaxSummary EquivalentCircuit::relax(const model::Clamp& clamp, model::State& s,
                                             const model::RelaxOptions& opt) const {
  const NodeEquations eq(net_, f_, clamp);
  const auto chunks = model::column_chunks(s.batch());
  std::vector<model::RelaxSummary> sums(chunks.size());
#pragma omp parallel for schedule(dynamic)
  for (size_t k = 0; k < chunks.size(); ++k) {
    const auto [c0, n] = chunks[k];
    model::State part = model::slice(s, c0, n);
    sums[k] = eq.relax_columns(model::slice(clamp, c0, n), part, opt, noise_gamma_, readout_, k);
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

std::vector<Eigen::VectorXd> EquivalentCircuit::reading_variance(const model::Clamp& clamp, double temperature) const {
  const NodeEquations eq(net_, f_, clamp);
  std::vector<Eigen::VectorXd> var;
  for (int m = 0; m < net_.module_count(); ++m) var.push_back(temperature * eq.noise_ratio(m, noise_gamma_));
  return var;
}

Eigen::RowVectorXd EquivalentCircuit::settle_time_tau(const model::Clamp& clamp, const model::State& start, double tol,
                                                      double dt, double max_time) const {
  const NodeEquations eq(net_, f_, clamp);
  model::State end = start;
  eq.relax_columns(clamp, end, {model::RelaxMethod::block, 2000, 0.1, 1e-3 * tol}, noise_gamma_, ChipReadout{}, 0);
  const Eigen::Index B = start.batch();
  auto deviation = [&](const model::State& s) {
    Eigen::RowVectorXd d = Eigen::RowVectorXd::Zero(B);
    for (size_t m = 0; m < s.u.size(); ++m) d = d.cwiseMax((s.u[m] - end.u[m]).cwiseAbs().colwise().maxCoeff());
    return d;
  };
  model::State s = start;
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
