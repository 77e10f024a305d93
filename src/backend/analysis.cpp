#include "backend/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "circuit/topology.hpp"
#include "data/error.hpp"

namespace eqsim::backend {

std::string to_string(Status s) {
  switch (s) {
    case Status::settled: return "settled";
    case Status::not_settled: return "not_settled";
    case Status::numerical_failure: return "numerical_failure";
    case Status::backend_error: return "backend_error";
  }
  return "backend_error";
}

Plan make_plan(const circuit::Circuit& c, const RelaxOptions& opt) {
  const auto sc = circuit::node_scales(c);
  Plan p;
  p.t_stop_s = opt.t_stop_s > 0 ? opt.t_stop_s : c.tran_stop_s;
  if (p.t_stop_s <= 0 && std::isfinite(sc.tau_max_s) && sc.tau_max_s > 0) p.t_stop_s = 50 * sc.tau_max_s;
  if (p.t_stop_s <= 0) throw InputError(c.source, "", "no stop time: give --t-stop-s or a .tran line");
  const double tau_min = std::isfinite(sc.tau_min_s) && sc.tau_min_s > 0 ? sc.tau_min_s : p.t_stop_s / 1000;
  p.sample_dt_s = opt.sample_dt_s > 0 ? opt.sample_dt_s : tau_min / 20;
  p.sample_dt_s = std::max(p.sample_dt_s, p.t_stop_s / 1e5);
  p.noise_dt_s = std::min(opt.noise_dt_s > 0 ? opt.noise_dt_s : tau_min / 50, p.sample_dt_s);
  p.sample_dt_s = p.noise_dt_s * std::round(p.sample_dt_s / p.noise_dt_s);
  p.steady_start_s = opt.steady_start_s >= 0 ? opt.steady_start_s : p.t_stop_s / 2;
  p.drift_horizon_s = std::isfinite(sc.tau_max_s) && sc.tau_max_s > 0 ? sc.tau_max_s : p.t_stop_s;
  return p;
}

std::vector<NoiseSource> thermal_noise(const circuit::Circuit& c, double temperature_K) {
  using circuit::ElementKind;
  const double kT4 = 4 * boltzmann_J_per_K * temperature_K;
  const auto driven = circuit::driven_nodes(c);
  auto fixed = [&](const std::string& n) { return circuit::is_ground(n) || driven.count(n) > 0; };
  std::map<std::pair<std::string, std::string>, double> psd;
  auto add = [&](const circuit::Element& e, double g) {
    if (fixed(e.n_plus) && fixed(e.n_minus)) return;
    psd[std::minmax(e.n_plus, e.n_minus)] += g;
  };
  for (const auto& e : c.elements) {
    circuit::Transconductance t;
    if (e.kind == ElementKind::resistor) add(e, kT4 / e.value);
    if (e.kind == ElementKind::vccs) add(e, kT4 * c.noise_gamma * std::abs(e.value));
    if (e.kind == ElementKind::bsource && circuit::match_transconductance(e.expr, t))
      add(e, kT4 * c.noise_gamma * std::abs(t.gain) / t.scale_V);
  }
  std::vector<NoiseSource> out;
  for (const auto& [pair, v] : psd) out.push_back({pair.first, pair.second, v});
  return out;
}

std::vector<SourceSummary> voltage_sources(const circuit::Circuit& c) {
  std::vector<SourceSummary> out;
  for (const auto& e : c.elements) {
    if (e.kind != circuit::ElementKind::vsource) continue;
    std::string name = e.name;
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out.push_back({e.name, e.value, name == c.supply});
  }
  return out;
}

namespace {

// Time at which |v - final| falls to tol between samples k and k+1 (linear), max over nodes.
double crossing_time(const Trace& tr, const Eigen::VectorXd& final_V, double tol, size_t k) {
  const Eigen::VectorXd d0 = (tr.v_V[k] - final_V).cwiseAbs(), d1 = (tr.v_V[k + 1] - final_V).cwiseAbs();
  const double t0 = tr.t_s[k], t1 = tr.t_s[k + 1];
  double t = t0;
  for (Eigen::Index i = 0; i < d0.size(); ++i)
    if (d0(i) > tol) t = std::max(t, t0 + (t1 - t0) * (d0(i) - tol) / std::max(d0(i) - d1(i), 1e-300));
  return std::min(t, t1);
}

void settle_deterministic(const Trace& tr, const Plan& plan, const RelaxOptions& opt, RelaxSummary& s) {
  const size_t K = tr.t_s.size();
  s.settle_time_s = tr.t_s.front();
  for (size_t k = K - 1; k-- > 0;)
    if ((tr.v_V[k] - s.final_V).cwiseAbs().maxCoeff() > opt.settle_tol_V) {
      s.settle_time_s = crossing_time(tr, s.final_V, opt.settle_tol_V, k);
      break;
    }
  double drift_V = 0;
  if (K >= 2)
    drift_V = (tr.v_V[K - 1] - tr.v_V[K - 2]).cwiseAbs().maxCoeff() / (tr.t_s[K - 1] - tr.t_s[K - 2]) *
              plan.drift_horizon_s;
  const bool ok = drift_V < opt.settle_tol_V;
  s.status = ok ? Status::settled : Status::not_settled;
  s.message = ok ? fmt::format("settled to {:.3g} V after {:.6g} s", opt.settle_tol_V, s.settle_time_s)
                 : fmt::format("not settled at t = {:.6g} s: still drifting by about {:.3g} V per slowest time "
                               "constant (tol {:.3g} V)",
                               s.t_end_s, drift_V, opt.settle_tol_V);
}

// Time-weighted (trapezoid) mean and variance over t >= t0.
void steady_stats(const Trace& tr, double t0, RelaxSummary& s) {
  const Eigen::Index n = s.final_V.size();
  Eigen::VectorXd m1 = Eigen::VectorXd::Zero(n), m2 = Eigen::VectorXd::Zero(n);
  double w_sum = 0;
  for (size_t k = 0; k + 1 < tr.t_s.size(); ++k) {
    if (tr.t_s[k] < t0) continue;
    const double w = 0.5 * (tr.t_s[k + 1] - tr.t_s[k]);
    m1 += w * (tr.v_V[k] + tr.v_V[k + 1]);
    m2 += w * (tr.v_V[k].array().square() + tr.v_V[k + 1].array().square()).matrix();
    w_sum += 2 * w;
  }
  s.mean_V = m1 / std::max(w_sum, 1e-300);
  s.var_V2 = (m2 / std::max(w_sum, 1e-300) - s.mean_V.cwiseAbs2()).cwiseMax(0.0);
}

void settle_noisy(const Trace& tr, const Plan& plan, const RelaxOptions& opt, RelaxSummary& s) {
  steady_stats(tr, plan.steady_start_s, s);
  const Eigen::ArrayXd band = opt.settle_tol_V + 3 * s.var_V2.array().sqrt();
  s.settle_time_s = tr.t_s.back();
  for (size_t k = 0; k < tr.t_s.size(); ++k)
    if (((tr.v_V[k] - s.mean_V).array().abs() <= band).all()) {
      s.settle_time_s = tr.t_s[k];
      break;
    }
  const bool ok = s.settle_time_s <= plan.steady_start_s;
  s.status = ok ? Status::settled : Status::not_settled;
  s.message = ok ? fmt::format("noisy run: every node within tol + 3 sigma of its steady mean after {:.6g} s",
                              s.settle_time_s)
                 : fmt::format("noisy run: some node did not reach tol + 3 sigma of its steady mean before t = {:.6g} s",
                               plan.steady_start_s);
}

// The supply's index in s.sources, -1 without one.
long supply_index(const RelaxSummary& s) {
  for (size_t j = 0; j < s.sources.size(); ++j)
    if (s.sources[j].supply) return static_cast<long>(j);
  return -1;
}

// Charge (trapezoid), mean and final current and delivered energy of every source; the supply's copied to the
// supply fields.
void source_figures(const Trace& tr, RelaxSummary& s) {
  const double T = tr.t_s.back() - tr.t_s.front();
  for (size_t j = 0; j < s.sources.size(); ++j) {
    const auto J = static_cast<Eigen::Index>(j);
    double q = 0;
    for (size_t k = 0; k + 1 < tr.t_s.size(); ++k)
      q += 0.5 * (tr.source_A[k](J) + tr.source_A[k + 1](J)) * (tr.t_s[k + 1] - tr.t_s[k]);
    auto& src = s.sources[j];
    src.current_final_A = tr.source_A.back()(J);
    src.current_mean_A = T > 0 ? q / T : src.current_final_A;
    src.energy_J = q * src.value_V;
  }
  if (const long k = supply_index(s); k >= 0) {
    const auto& sup = s.sources[static_cast<size_t>(k)];
    s.supply_V = sup.value_V;
    s.supply_current_final_A = sup.current_final_A;
    s.supply_current_mean_A = sup.current_mean_A;
    s.supply_energy_J = sup.energy_J;
  }
}

void decimate(const Trace& tr, int max_points, RelaxSummary& s) {
  const size_t K = tr.t_s.size();
  const size_t stride = std::max<size_t>(1, (K + std::max(max_points, 1) - 1) / std::max(max_points, 1));
  std::vector<size_t> keep;
  for (size_t k = 0; k < K; k += stride) keep.push_back(k);
  if (keep.back() != K - 1) keep.push_back(K - 1);
  if (max_points <= 0) keep.clear();
  s.t_s.clear();
  s.supply_current_A.clear();
  const long sup = supply_index(s);
  s.trajectory_V.resize(static_cast<Eigen::Index>(keep.size()), s.final_V.size());
  for (size_t i = 0; i < keep.size(); ++i) {
    s.t_s.push_back(tr.t_s[keep[i]]);
    s.supply_current_A.push_back(sup < 0 ? 0.0 : tr.source_A[keep[i]](sup));
    s.trajectory_V.row(static_cast<Eigen::Index>(i)) = tr.v_V[keep[i]].transpose();
  }
}

}  // namespace

void analyse(const Trace& tr, const Plan& plan, const RelaxOptions& opt, bool noisy, RelaxSummary& s) {
  s.noisy = noisy;
  s.final_V = tr.v_V.back();
  s.t_end_s = tr.t_s.back();
  if (!s.final_V.allFinite()) {
    s.status = Status::numerical_failure;
    s.message = fmt::format("node voltages became non-finite before t = {:.6g} s", s.t_end_s);
    return;
  }
  if (noisy) settle_noisy(tr, plan, opt, s);
  else settle_deterministic(tr, plan, opt, s);
  source_figures(tr, s);
  decimate(tr, opt.max_trajectory_points, s);
}

}  // namespace eqsim::backend
