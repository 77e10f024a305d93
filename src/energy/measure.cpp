#include "energy/measure.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "circuit/netlister.hpp"
#include "data/error.hpp"
#include "model/relax.hpp"

namespace eqsim::energy {

StepInputs flow_step_inputs(const model::Network& net, const learn::FlowBatch& b, double beta, learn::Estimator e) {
  if (e == learn::Estimator::exact)
    throw InputError("", "estimator", "the exact gradient has no hardware phases; use symmetric or one_sided");
  const double max_beta = learn::max_stable_beta(net.spec());
  if (!(beta > 0) || beta >= max_beta)
    throw InputError("", "beta", "must be in (0, " + std::to_string(max_beta) + ") so the -beta phase stays stable");
  const model::Clamp nudged = learn::nudged_clamp(net, b, beta);
  StepInputs in;
  in.spring_target = b.x_t;
  in.nudge_target = nudged.nudge_target;
  in.levels = b.levels;
  in.beta = beta;
  in.estimator = learn::to_string(e);
  const bool sym = e == learn::Estimator::symmetric;
  in.phases.push_back({"free", 0.0, false, !sym});
  in.phases.push_back({"+beta", nudged.nudge_g, true, true});
  if (sym) in.phases.push_back({"-beta", -nudged.nudge_g, true, true});
  return in;
}

double settle_tolerance_V(const circuit::DeviceModel& dm, const EnergyParams& ep) {
  return dm.v_unit_V * std::pow(2.0, -ep.adc_bits);
}

namespace {

// Column of every node in a summary.
std::map<std::string, Eigen::Index> columns(const backend::RelaxSummary& s) {
  std::map<std::string, Eigen::Index> c;
  for (size_t i = 0; i < s.nodes.size(); ++i) c[s.nodes[i]] = static_cast<Eigen::Index>(i);
  return c;
}

// Starts every capacitor at the final voltage of its node in `from`.
void warm_start(circuit::Circuit& c, const backend::RelaxSummary& from) {
  const auto col = columns(from);
  for (auto& e : c.elements)
    if (e.kind == circuit::ElementKind::capacitor) {
      const auto it = col.find(e.n_plus);
      if (it != col.end()) e.ic_V = from.final_V(it->second);
    }
}

// Sum over capacitor nodes of (max V - min V)^2 over the run (initial voltage included).
double swing_V2(const circuit::Circuit& c, const backend::RelaxSummary& s) {
  const auto col = columns(s);
  double sum = 0;
  for (const auto& e : c.elements) {
    if (e.kind != circuit::ElementKind::capacitor) continue;
    const auto it = col.find(e.n_plus);
    if (it == col.end()) continue;
    double lo = s.final_V(it->second), hi = lo;
    if (e.ic_V) lo = std::min(lo, *e.ic_V), hi = std::max(hi, *e.ic_V);
    if (s.trajectory_V.rows() > 0) {
      lo = std::min(lo, s.trajectory_V.col(it->second).minCoeff());
      hi = std::max(hi, s.trajectory_V.col(it->second).maxCoeff());
    }
    sum += (hi - lo) * (hi - lo);
  }
  return sum;
}

// A clamp branch: conductance g between node a and a node held by a source at v_held.
struct ClampBranch {
  Eigen::Index a = -1;
  double g_siemens = 0, v_held_V = 0;
};

// The spring and nudge branches of a netlisted circuit (its element map).
std::vector<ClampBranch> clamp_branches(const circuit::Netlist& n, const backend::RelaxSummary& s) {
  const auto col = columns(s);
  const auto& els = n.circuit.elements;
  std::vector<ClampBranch> out;
  auto add = [&](const std::vector<size_t>& branch, const std::vector<size_t>& source, bool resistor) {
    for (size_t i = 0; i < branch.size(); ++i) {
      const auto& e = els[branch[i]];
      out.push_back({col.at(e.n_plus), resistor ? 1.0 / e.value : e.value, els[source[i]].value});
    }
  };
  add(n.map.spring_resistors, n.map.spring_sources, true);
  add(n.map.nudge_elements, n.map.nudge_sources, false);
  return out;
}

// Charge sum_i |g_i (V_held,i - V_a,i)| integrated from 0 to t_settle (trapezoid on the trajectory).
double clamp_charge_C(const circuit::Netlist& c, const backend::RelaxSummary& s, double t_settle_s) {
  const auto branches = clamp_branches(c, s);
  auto current = [&](const Eigen::VectorXd& v) {
    double i = 0;
    for (const auto& br : branches) i += std::abs(br.g_siemens * (br.v_held_V - v(br.a)));
    return i;
  };
  if (s.t_s.empty()) return current(s.final_V) * t_settle_s;
  double q = 0;
  double prev_t = s.t_s[0], prev_i = current(s.trajectory_V.row(0).transpose());
  for (size_t k = 1; k < s.t_s.size() && prev_t < t_settle_s; ++k) {
    const double t = std::min(s.t_s[k], t_settle_s);
    const double i = current(s.trajectory_V.row(static_cast<Eigen::Index>(k)).transpose());
    q += 0.5 * (prev_i + i) * (t - prev_t);
    prev_t = t, prev_i = i;
  }
  return q + prev_i * std::max(0.0, t_settle_s - prev_t);
}

// Final voltages of the network's units, in module order.
Eigen::VectorXd unit_voltages(const model::Network& net, const backend::RelaxSummary& s) {
  const auto col = columns(s);
  std::vector<double> v;
  for (int m = 0; m < net.module_count(); ++m)
    for (int i = 0; i < net.size(m); ++i) v.push_back(s.final_V(col.at(circuit::unit_node(net, m, i))));
  return Eigen::Map<Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
}

double rms(const Eigen::VectorXd& v) { return v.size() ? std::sqrt(v.squaredNorm() / static_cast<double>(v.size())) : 0.0; }

circuit::NetlistOptions netlist_options(const StepInputs& in, const PhaseSpec& p, int sample, const MeasureOptions& opt,
                                        double t_stop_s) {
  circuit::NetlistOptions n;
  n.mismatch_seed = opt.mismatch_seed;
  n.spring_target = in.spring_target.col(sample);
  n.nudge_g = p.nudge_g;
  if (p.nudge_g != 0) n.nudge_target = in.nudge_target.col(sample);
  n.model_name = opt.model_name;
  n.t_stop_s = t_stop_s;
  n.condition_level = in.levels.empty() ? -1 : in.levels[static_cast<size_t>(sample)];
  return n;
}

void check_inputs(const model::Network& net, const StepInputs& in) {
  const auto nv = net.size(net.spec().visible);
  if (in.phases.empty() || in.phases[0].warm_start) throw InputError("", "phases", "phase 0 must be a cold free phase");
  if (in.spring_target.rows() != nv || in.spring_target.cols() < 1)
    throw InputError("", "spring_target", "needs " + std::to_string(nv) + " rows and at least one sample");
  if (in.nudge_target.rows() != nv || in.nudge_target.cols() != in.spring_target.cols())
    throw InputError("", "nudge_target", "must match spring_target's shape");
  if (!in.levels.empty() && in.levels.size() != static_cast<size_t>(in.spring_target.cols()))
    throw InputError("", "levels", "needs one level per sample");
}

bool usable(const backend::RelaxSummary& s) {
  const bool ran = s.status == backend::Status::settled || s.status == backend::Status::not_settled;
  return ran && !s.nodes.empty() && s.final_V.size() == static_cast<Eigen::Index>(s.nodes.size());
}

// Adds one run of phase p to its running sums (means are taken at the end).
// A failed run (numerical failure, backend error) only counts as failed.
void accumulate(PhaseMeasurement& pm, const circuit::Netlist& nl, const backend::RelaxSummary& s) {
  const auto& c = nl.circuit;
  const bool ok = s.status == backend::Status::settled;
  if (!ok && pm.message.empty()) pm.message = backend::to_string(s.status) + ": " + s.message;
  if (!usable(s)) {
    pm.failed += 1;
    return;
  }
  const double t = ok ? s.settle_time_s : s.t_end_s;
  pm.samples += 1;
  pm.settled += ok;
  pm.settle_time_s += t;
  pm.settle_time_max_s = std::max(pm.settle_time_max_s, t);
  pm.supply_current_A += s.supply_current_mean_A;
  pm.swing_V2 += swing_V2(c, s);
  pm.clamp_charge_C += clamp_charge_C(nl, s, t);
}

void finish(Measurement& m, double nudge_signal_sum_V2) {
  for (auto& pm : m.phases) {
    const double n = std::max(pm.samples, 1);
    pm.settle_time_s /= n, pm.supply_current_A /= n, pm.swing_V2 /= n, pm.clamp_charge_C /= n;
    pm.readout_difference_V = std::sqrt(pm.readout_difference_V / n);
  }
  m.nudge_signal_V = std::sqrt(nudge_signal_sum_V2 / std::max(m.samples, 1));
}

// The trainer's free equilibrium of sample k, every unit stacked in module order (model units).
Eigen::VectorXd model_equilibrium(const model::Network& net, const StepInputs& in, int k) {
  const Eigen::MatrixXd x_t = in.spring_target.col(k);
  const std::vector<int> level = in.levels.empty() ? std::vector<int>{} : std::vector<int>{in.levels[k]};
  bool self = false;
  for (int c = 0; c < static_cast<int>(net.spec().couplings.size()); ++c) self = self || net.is_self(c);
  model::RelaxOptions ro{self ? model::RelaxMethod::euler : model::RelaxMethod::block, self ? 200000 : 5000, 0.1, 1e-12};
  model::State s = model::initial_state(net, x_t);
  model::relax(net, learn::free_clamp(net, x_t, level), s, ro);
  std::vector<double> u;
  for (const auto& m : s.u) u.insert(u.end(), m.data(), m.data() + m.size());
  return Eigen::Map<Eigen::VectorXd>(u.data(), static_cast<Eigen::Index>(u.size()));
}

int count_transconductors(const circuit::Circuit& c) {
  int n = 0;
  for (const auto& e : c.elements) n += e.kind == circuit::ElementKind::isource && e.n_plus == c.supply;
  return n;
}

int count_capacitors(const circuit::Circuit& c) {
  int n = 0;
  for (const auto& e : c.elements) n += e.kind == circuit::ElementKind::capacitor;
  return n;
}

// Relaxes every phase of sample k into m; returns the squared rms nudge signal of the sample.
double measure_sample(const model::Network& net, const circuit::DeviceModel& dm, const StepInputs& in, backend::Backend& b,
                      const MeasureOptions& opt, const backend::RelaxOptions& ropt, int k, Measurement& m) {
  std::vector<backend::RelaxSummary> runs;
  for (size_t p = 0; p < in.phases.size(); ++p) {
    auto nl = circuit::netlist_network(net, dm, netlist_options(in, in.phases[p], k, opt, ropt.t_stop_s));
    auto& c = nl.circuit;
    if (in.phases[p].warm_start) warm_start(c, runs[0]);
    if (opt.progress) opt.progress(in.phases[p].name, k);
    if (k == 0 && p == 0) m.transconductors = count_transconductors(c), m.capacitor_nodes = count_capacitors(c);
    runs.push_back(b.relax(c, ropt));
    accumulate(m.phases[p], nl, runs.back());
  }
  if (!usable(runs[0])) return 0;
  const Eigen::VectorXd v_free = unit_voltages(net, runs[0]);
  m.model_error = std::max(m.model_error, (v_free / dm.v_unit_V - model_equilibrium(net, in, k)).cwiseAbs().maxCoeff());
  for (size_t p = 1; p < runs.size(); ++p)
    if (usable(runs[p])) m.phases[p].readout_difference_V += std::pow(rms(unit_voltages(net, runs[p]) - v_free), 2);
  const size_t last = runs.size() - 1, ref = last >= 2 ? last - 1 : 0;  // +beta vs -beta, or +beta vs free
  if (last == 0 || !usable(runs[last]) || !usable(runs[ref])) return 0;
  return std::pow(rms(unit_voltages(net, runs[last]) - unit_voltages(net, runs[ref])), 2);
}

}  // namespace

int Measurement::failed_runs() const {
  int n = 0;
  for (const auto& p : phases) n += p.failed;
  return n;
}

Measurement measure_step(const model::Network& net, const circuit::DeviceModel& dm, const EnergyParams& ep,
                         const StepInputs& in, backend::Backend& b, const MeasureOptions& opt) {
  check_inputs(net, in);
  Measurement m;
  m.backend = b.name();
  m.settle_tol_V = settle_tolerance_V(dm, ep);
  m.samples = static_cast<int>(in.spring_target.cols());
  for (const auto& p : in.phases) {
    PhaseMeasurement pm;
    pm.name = p.name;
    pm.readout = p.readout;
    m.phases.push_back(pm);
  }
  backend::RelaxOptions ropt;
  ropt.settle_tol_V = m.settle_tol_V;
  ropt.t_stop_s = opt.t_stop_tau * circuit::tau_s(dm);
  double signal_V2 = 0;
  for (int k = 0; k < m.samples; ++k) signal_V2 += measure_sample(net, dm, in, b, opt, ropt, k, m);
  finish(m, signal_V2);
  return m;
}

}  // namespace eqsim::energy
