#include "circuit/netlister.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>

#include "circuit/mismatch.hpp"
#include "circuit/netlist.hpp"
#include "data/error.hpp"

namespace eqsim::circuit {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Element two_terminal(ElementKind k, const std::string& name, const std::string& a, const std::string& b, double v) {
  Element e;
  e.kind = k;
  e.name = name;
  e.n_plus = a;
  e.n_minus = b;
  e.value = v;
  return e;
}

class Netlister {
 public:
  Netlister(const model::Network& net, const DeviceModel& dm, const NetlistOptions& opt, DeviceFactors* factors)
      : net_(net), dm_(dm), opt_(opt), factors_(factors) {
    if (opt.mismatch_seed) mismatch_ = std::make_unique<MismatchSampler>(dm, *opt.mismatch_seed);
    if (factors_) *factors_ = ideal_factors(net);
  }

  Circuit build() {
    check_options();
    c_.supply = "vdd";
    c_.noise_gamma = dm_.noise_gamma;
    c_.elements.push_back(two_terminal(ElementKind::vsource, "VDD", "vdd", "0", dm_.VDD_V));
    int offset = 0;
    for (int m = 0; m < net_.module_count(); ++m) {
      for (int i = 0; i < net_.size(m); ++i) unit(m, i, offset + i);
      offset += net_.size(m);
    }
    for (int cp = 0; cp < static_cast<int>(net_.spec().couplings.size()); ++cp) coupling(cp);
    for (int i = 0; i < net_.size(net_.spec().visible); ++i) clamp(i);
    header();
    return std::move(c_);
  }

 private:
  void check_options() const {
    const int nv = net_.size(net_.spec().visible);
    int total = 0;
    for (int m = 0; m < net_.module_count(); ++m) total += net_.size(m);
    if (opt_.spring_target.size() != 0 && opt_.spring_target.size() != nv)
      throw InputError("", "spring_target", "needs " + std::to_string(nv) + " values");
    if (opt_.nudge_g != 0 && opt_.nudge_target.size() != nv)
      throw InputError("", "nudge_target", "needs " + std::to_string(nv) + " values");
    if (opt_.initial_u.size() != 0 && opt_.initial_u.size() != total)
      throw InputError("", "initial_u", "needs " + std::to_string(total) + " values");
    for (int m = 0; m < net_.module_count(); ++m)
      if (net_.table_index(m) >= 0 && (opt_.condition_level < 0 || opt_.condition_level >= net_.spec().modules[m].condition_levels))
        throw InputError("", "condition_level", "module '" + net_.spec().modules[m].name +
                                                    "' has a bias table: the circuit needs a level in [0, " +
                                                    std::to_string(net_.spec().modules[m].condition_levels) + ")");
  }

  double spring_target(int i) const { return opt_.spring_target.size() ? opt_.spring_target(i) : 0.0; }
  double gain() { return mismatch_ ? mismatch_->gain_factor() : 1.0; }
  double offset() { return mismatch_ ? mismatch_->offset_V() : 0.0; }
  double r_factor() { return mismatch_ ? mismatch_->resistor_factor() : 1.0; }
  double c_factor() { return mismatch_ ? mismatch_->capacitor_factor() : 1.0; }

  // A node with its capacitor (initial voltage u0 in model units) and a leak of
  // leak_G units of g_unit (projection nodes have 1, so they hold U^T a exactly).
  // Returns the drawn {capacitor, leak conductance} factors.
  std::pair<double, double> node(const std::string& n, double u0, double leak_G) {
    const double cf = c_factor(), rf = r_factor();
    auto cap = two_terminal(ElementKind::capacitor, "CN_" + n, n, "0", dm_.c_node_F * cf);
    cap.ic_V = u0 * dm_.v_unit_V;
    c_.elements.push_back(cap);
    const double g = leak_G * dm_.g_unit_siemens;
    c_.elements.push_back(two_terminal(ElementKind::resistor, "RL_" + n, n, "0", rf / g));
    return {cf, 1 / rf};
  }

  void unit(int m, int i, int flat) {
    const std::string n = unit_node(net_, m, i);
    const bool vis = m == net_.spec().visible;
    const double u0 = opt_.initial_u.size() ? opt_.initial_u(flat) : (vis ? spring_target(i) : 0.0);
    const auto [cf, lf] = node(n, u0, net_.spec().leak);
    if (factors_) factors_->modules[m].cap(i) = cf, factors_->modules[m].leak(i) = lf;
    const int table = net_.table_index(m);
    const double b = net_.bias(m)(i, 0) + (table >= 0 ? net_.params()[table](i, opt_.condition_level) : 0.0);
    if (b != 0)
      c_.elements.push_back(two_terminal(ElementKind::isource, "IBIAS_" + n, "0", n, b * dm_.g_unit_siemens * dm_.v_unit_V));
  }

  // Transconductor of weight w (model units) into `to` from `from`, with its supply
  // draw; returns its drawn {gain factor, input offset in model units}. A zero weight
  // places no device but still draws, so every device keeps its draw whatever the weights.
  std::pair<double, double> transconductor(const std::string& kind, const std::string& to, const std::string& from,
                                           bool tanh_input, double w) {
    const double g = gain(), o = offset();
    if (w == 0) return {g, o / dm_.v_unit_V};
    const std::string name = kind + "_" + to + "_" + from;
    const double k = w * dm_.g_unit_siemens * (tanh_input ? dm_.v_unit_V : 1.0) * g;
    const std::string in = o == 0 ? "V(" + from + ")" : "(V(" + from + ")-" + format_number(o) + ")";
    const std::string expr = tanh_input ? format_number(k) + "*tanh(" + in + "/" + format_number(dm_.v_unit_V) + ")"
                                        : format_number(k) + "*" + in;
    auto b = make_bsource("B" + name, to, expr);
    c_.elements.push_back(std::move(b));
    const double gm = std::abs(k) / (tanh_input ? dm_.v_unit_V : 1.0);
    const double bias = std::max(dm_.transconductor_bias_A, gm / dm_.gm_over_id_per_V);
    c_.elements.push_back(two_terminal(ElementKind::isource, "ISUP_" + name, "vdd", "0", bias));
    return {g, o / dm_.v_unit_V};
  }

  bool is_tanh(int m) const { return net_.spec().modules[m].activation == model::Activation::tanh; }

  void coupling(int cp) {
    const auto& spec = net_.spec().couplings[cp];
    if (spec.kind == model::CouplingKind::dense) return dense(cp);
    const std::string cname = lower(spec.name);
    const Eigen::MatrixXd& U = net_.w(cp);
    const Eigen::MatrixXd& V = net_.v(cp);
    for (int k = 0; k < spec.rank; ++k) {
      node("pu_" + cname + "_" + std::to_string(k), 0, 1);
      node("pv_" + cname + "_" + std::to_string(k), 0, 1);
    }
    projection(cname, "pu_", spec.p, U, spec.q, V);  // U^T a_p, fed back into q through V
    projection(cname, "pv_", spec.q, V, spec.p, U);  // V^T a_q, fed back into p through U
  }

  // Projection nodes z_k = sum_i A_ik a_src,i, then B_jk z_k into module dst.
  void projection(const std::string& cname, const std::string& prefix, int src, const Eigen::MatrixXd& A, int dst,
                  const Eigen::MatrixXd& Bm) {
    for (int k = 0; k < A.cols(); ++k) {
      const std::string z = prefix + cname + "_" + std::to_string(k);
      for (int i = 0; i < A.rows(); ++i) transconductor("P_" + cname, z, unit_node(net_, src, i), is_tanh(src), A(i, k));
      for (int j = 0; j < Bm.rows(); ++j) transconductor("Q_" + cname, unit_node(net_, dst, j), z, false, Bm(j, k));
    }
  }

  void dense(int cp) {
    const auto& spec = net_.spec().couplings[cp];
    const std::string cname = lower(spec.name);
    const Eigen::MatrixXd& W = net_.w(cp);
    for (int i = 0; i < W.rows(); ++i)
      for (int j = 0; j < W.cols(); ++j) {
        const std::string pi = unit_node(net_, spec.p, i), qj = unit_node(net_, spec.q, j);
        if (spec.p == spec.q) {  // intra-module: one device per ordered pair i != j (W symmetric)
          if (i != j) transconductor("W_" + cname, pi, qj, is_tanh(spec.q), W(i, j));
          continue;
        }
        const auto into_p = transconductor("W_" + cname, pi, qj, is_tanh(spec.q), W(i, j));
        const auto into_q = transconductor("W_" + cname, qj, pi, is_tanh(spec.p), W(i, j));
        if (!factors_) continue;
        auto& f = factors_->couplings[cp];
        f.gain_into_p(i, j) = into_p.first, f.offset_into_p(i, j) = into_p.second;
        f.gain_into_q(j, i) = into_q.first, f.offset_into_q(j, i) = into_q.second;
      }
  }

  // Spring (resistor to a source at x_t) and nudge (G element to a source at the target).
  void clamp(int i) {
    const std::string x = unit_node(net_, net_.spec().visible, i);
    const double G = net_.spec().leak * dm_.g_unit_siemens;
    const double spring_g = net_.spec().spring_lambda * G;
    const double sf = r_factor(), nf = gain();  // drawn whether or not this circuit nudges
    if (factors_) factors_->spring(i) = 1 / sf, factors_->nudge(i) = nf;
    if (spring_g > 0) {
      c_.elements.push_back(two_terminal(ElementKind::resistor, "RS_" + x, x, "xt_" + std::to_string(i), sf / spring_g));
      c_.elements.push_back(two_terminal(ElementKind::vsource, "VT_" + x, "xt_" + std::to_string(i), "0", spring_target(i) * dm_.v_unit_V));
    }
    if (opt_.nudge_g == 0) return;
    const std::string t = "nt_" + std::to_string(i);
    auto g = two_terminal(ElementKind::vccs, "GN_" + x, x, t, opt_.nudge_g * dm_.g_unit_siemens * nf);
    g.c_plus = x;
    g.c_minus = t;
    c_.elements.push_back(g);
    c_.elements.push_back(two_terminal(ElementKind::vsource, "VN_" + x, t, "0", opt_.nudge_target(i) * dm_.v_unit_V));
  }

  void header() {
    const double tau = tau_s(dm_);
    c_.title = "eqsim netlist of " + opt_.model_name;
    c_.header = {"model: " + opt_.model_name + " (" + std::to_string(net_.parameter_count()) + " parameters)",
                 "device model: " + dm_.name + (dm_.source.empty() ? "" : " (" + dm_.source + ")"),
                 "scales: v_unit_V=" + format_number(dm_.v_unit_V) + " g_unit_siemens=" + format_number(dm_.g_unit_siemens) +
                     " c_node_F=" + format_number(dm_.c_node_F) + " tau_s=" + format_number(tau) +
                     " VDD_V=" + format_number(dm_.VDD_V),
                 "mismatch seed: " + (opt_.mismatch_seed ? std::to_string(*opt_.mismatch_seed) : std::string("none (ideal)")),
                 "node voltage V = v_unit_V * u (model units); elements: CN node capacitor, RL leak, B* transconductor "
                 "(W_ dense, P_/Q_ bilinear projection), ISUP_ its supply draw, IBIAS_ bias, RS_/VT_ spring, GN_/VN_ nudge"};
    c_.tran_step_s = tau / 20;
    c_.tran_stop_s = opt_.t_stop_s > 0 ? opt_.t_stop_s : 200 * tau;
  }

  const model::Network& net_;
  const DeviceModel& dm_;
  const NetlistOptions& opt_;
  DeviceFactors* factors_;
  std::unique_ptr<MismatchSampler> mismatch_;
  Circuit c_;
};

}  // namespace

std::string unit_node(const model::Network& net, int m, int i) {
  return lower(net.spec().modules[m].name) + "_" + std::to_string(i);
}

DeviceFactors ideal_factors(const model::Network& net) {
  DeviceFactors f;
  for (int m = 0; m < net.module_count(); ++m)
    f.modules.push_back({Eigen::VectorXd::Ones(net.size(m)), Eigen::VectorXd::Ones(net.size(m))});
  for (const auto& c : net.spec().couplings) {
    const int np = net.size(c.p), nq = net.size(c.q);
    f.couplings.push_back({Eigen::MatrixXd::Ones(np, nq), Eigen::MatrixXd::Zero(np, nq), Eigen::MatrixXd::Ones(nq, np),
                           Eigen::MatrixXd::Zero(nq, np)});
  }
  const int nv = net.size(net.spec().visible);
  f.spring = Eigen::VectorXd::Ones(nv);
  f.nudge = Eigen::VectorXd::Ones(nv);
  return f;
}

Circuit build_circuit(const model::Network& net, const DeviceModel& dm, const NetlistOptions& opt,
                      DeviceFactors* factors) {
  validate(dm);
  return Netlister(net, dm, opt, factors).build();
}

}  // namespace eqsim::circuit
