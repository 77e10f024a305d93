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

// Draws every device's factors in the netlister's device order (see draw_factors).
class Drawer {
 public:
  Drawer(const model::Network& net, const DeviceModel& dm, unsigned long long seed)
      : net_(net), v_unit_(dm.v_unit_V), m_(dm, seed), f_(ideal_factors(net)) {}

  DeviceFactors draw() {
    for (int m = 0; m < net_.module_count(); ++m)
      for (int i = 0; i < net_.size(m); ++i) node(f_.modules[m].cap(i), f_.modules[m].leak(i));
    for (int cp = 0; cp < static_cast<int>(net_.spec().couplings.size()); ++cp) coupling(cp);
    for (int i = 0; i < net_.size(net_.spec().visible); ++i) {
      f_.spring(i) = 1 / m_.resistor_factor();
      f_.nudge(i) = m_.gain_factor();
    }
    return std::move(f_);
  }

 private:
  void node(double& cap, double& leak) {
    cap = m_.capacitor_factor();
    leak = 1 / m_.resistor_factor();
  }
  void device(double& gain, double& offset) {
    gain = m_.gain_factor();
    offset = m_.offset_V() / v_unit_;
  }
  void coupling(int cp) {
    const auto& spec = net_.spec().couplings[cp];
    auto& f = f_.couplings[cp];
    if (spec.kind == model::CouplingKind::dense) {
      for (Eigen::Index i = 0; i < f.gain_into_p.rows(); ++i)
        for (Eigen::Index j = 0; j < f.gain_into_p.cols(); ++j) {
          if (spec.p == spec.q) {
            if (i != j) device(f.gain_into_p(i, j), f.offset_into_p(i, j));
            continue;
          }
          device(f.gain_into_p(i, j), f.offset_into_p(i, j));
          device(f.gain_into_q(j, i), f.offset_into_q(j, i));
        }
      return;
    }
    for (int k = 0; k < spec.rank; ++k) node(f.cap_pu(k), f.leak_pu(k)), node(f.cap_pv(k), f.leak_pv(k));
    projection(f.gain_to_pu, f.offset_to_pu, f.gain_pu_to_q, f.offset_pu_to_q);
    projection(f.gain_to_pv, f.offset_to_pv, f.gain_pv_to_p, f.offset_pv_to_p);
  }
  // Per projection node k: the devices into it, then those out of it.
  void projection(Eigen::MatrixXd& g_in, Eigen::MatrixXd& o_in, Eigen::MatrixXd& g_out, Eigen::MatrixXd& o_out) {
    for (Eigen::Index k = 0; k < g_in.cols(); ++k) {
      for (Eigen::Index i = 0; i < g_in.rows(); ++i) device(g_in(i, k), o_in(i, k));
      for (Eigen::Index j = 0; j < g_out.rows(); ++j) device(g_out(j, k), o_out(j, k));
    }
  }

  const model::Network& net_;
  double v_unit_;
  MismatchSampler m_;
  DeviceFactors f_;
};

class Netlister {
 public:
  Netlister(const model::Network& net, const DeviceModel& dm, const NetlistOptions& opt)
      : net_(net), dm_(dm), opt_(opt),
        f_(opt.mismatch_seed ? draw_factors(net, dm, *opt.mismatch_seed) : ideal_factors(net)) {}

  Netlist build() {
    check_options();
    c_.supply = "vdd";
    c_.noise_gamma = dm_.noise_gamma;
    map_.supply = c_.elements.size();
    c_.elements.push_back(make_two_terminal(ElementKind::vsource, "VDD", "vdd", "0", dm_.VDD_V));
    int offset = 0;
    for (int m = 0; m < net_.module_count(); ++m) {
      map_.unit_nodes.emplace_back();
      for (int i = 0; i < net_.size(m); ++i) unit(m, i, offset + i);
      offset += net_.size(m);
    }
    for (int cp = 0; cp < static_cast<int>(net_.spec().couplings.size()); ++cp) coupling(cp);
    for (int i = 0; i < net_.size(net_.spec().visible); ++i) clamp(i);
    header();
    c_.origin = std::make_shared<const CircuitOrigin>(
        CircuitOrigin{net_, f_, map_, dm_, opt_.nudge_g, opt_.condition_level, c_.elements.size()});
    return {std::move(c_), std::move(map_), std::move(f_)};
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

  // A node with its capacitor (initial voltage u0 in model units, capacitor factor cf)
  // and a leak of leak_G units of g_unit (projection nodes have 1, so they hold U^T a
  // exactly) with conductance factor lf.
  void node(const std::string& n, double u0, double leak_G, double cf, double lf) {
    auto cap = make_two_terminal(ElementKind::capacitor, "CN_" + n, n, "0", dm_.c_node_F * cf);
    cap.ic_V = u0 * dm_.v_unit_V;
    c_.elements.push_back(cap);
    const double g = leak_G * dm_.g_unit_siemens * lf;
    c_.elements.push_back(make_two_terminal(ElementKind::resistor, "RL_" + n, n, "0", 1 / g));
  }

  void unit(int m, int i, int flat) {
    const std::string n = unit_node(net_, m, i);
    map_.unit_nodes.back().push_back(n);
    const bool vis = m == net_.spec().visible;
    const double u0 = opt_.initial_u.size() ? opt_.initial_u(flat) : (vis ? spring_target(i) : 0.0);
    node(n, u0, net_.spec().leak, f_.modules[m].cap(i), f_.modules[m].leak(i));
    const int table = net_.table_index(m);
    const double b = net_.bias(m)(i, 0) + (table >= 0 ? net_.params()[table](i, opt_.condition_level) : 0.0);
    if (b != 0)
      c_.elements.push_back(make_two_terminal(ElementKind::isource, "IBIAS_" + n, "0", n, b * dm_.g_unit_siemens * dm_.v_unit_V));
  }

  // Transconductor of weight w (model units) into `to` from `from` with gain factor g
  // and input offset o (model units), and its supply draw. A zero weight places no device.
  void transconductor(const std::string& kind, const std::string& to, const std::string& from, bool tanh_input, double w,
                      double g, double o_model) {
    if (w == 0) return;
    const double o = o_model * dm_.v_unit_V;
    const std::string name = kind + "_" + to + "_" + from;
    const double k = w * dm_.g_unit_siemens * (tanh_input ? dm_.v_unit_V : 1.0) * g;
    const std::string in = o == 0 ? "V(" + from + ")" : "(V(" + from + ")-" + format_number(o) + ")";
    const std::string expr = tanh_input ? format_number(k) + "*tanh(" + in + "/" + format_number(dm_.v_unit_V) + ")"
                                        : format_number(k) + "*" + in;
    c_.elements.push_back(make_bsource("B" + name, to, expr));
    const double gm = std::abs(k) / (tanh_input ? dm_.v_unit_V : 1.0);
    const double bias = std::max(dm_.transconductor_bias_A, gm / dm_.gm_over_id_per_V);
    c_.elements.push_back(make_two_terminal(ElementKind::isource, "ISUP_" + name, "vdd", "0", bias));
  }

  bool is_tanh(int m) const { return net_.spec().modules[m].activation == model::Activation::tanh; }

  void coupling(int cp) {
    const auto& spec = net_.spec().couplings[cp];
    if (spec.kind == model::CouplingKind::dense) return dense(cp);
    const auto& f = f_.couplings[cp];
    const std::string cname = lower_case(spec.name);
    map_.projection_nodes.resize(map_.projection_nodes.size() + 2);
    auto& pu = map_.projection_nodes.end()[-2];
    auto& pv = map_.projection_nodes.back();
    for (int k = 0; k < spec.rank; ++k) {
      pu.push_back("pu_" + cname + "_" + std::to_string(k));
      pv.push_back("pv_" + cname + "_" + std::to_string(k));
      node(pu.back(), 0, 1, f.cap_pu(k), f.leak_pu(k));
      node(pv.back(), 0, 1, f.cap_pv(k), f.leak_pv(k));
    }
    // U^T a_p, fed back into q through V; V^T a_q, fed back into p through U.
    projection(cname, "pu_", spec.p, net_.w(cp), spec.q, net_.v(cp), f.gain_to_pu, f.offset_to_pu, f.gain_pu_to_q,
               f.offset_pu_to_q);
    projection(cname, "pv_", spec.q, net_.v(cp), spec.p, net_.w(cp), f.gain_to_pv, f.offset_to_pv, f.gain_pv_to_p,
               f.offset_pv_to_p);
  }

  // Projection nodes z_k = sum_i A_ik a_src,i, then B_jk z_k into module dst.
  void projection(const std::string& cname, const std::string& prefix, int src, const Eigen::MatrixXd& A, int dst,
                  const Eigen::MatrixXd& Bm, const Eigen::MatrixXd& g_in, const Eigen::MatrixXd& o_in,
                  const Eigen::MatrixXd& g_out, const Eigen::MatrixXd& o_out) {
    for (int k = 0; k < A.cols(); ++k) {
      const std::string z = prefix + cname + "_" + std::to_string(k);
      for (int i = 0; i < A.rows(); ++i)
        transconductor("P_" + cname, z, unit_node(net_, src, i), is_tanh(src), A(i, k), g_in(i, k), o_in(i, k));
      for (int j = 0; j < Bm.rows(); ++j)
        transconductor("Q_" + cname, unit_node(net_, dst, j), z, false, Bm(j, k), g_out(j, k), o_out(j, k));
    }
  }

  void dense(int cp) {
    const auto& spec = net_.spec().couplings[cp];
    const auto& f = f_.couplings[cp];
    const std::string cname = lower_case(spec.name);
    const Eigen::MatrixXd& W = net_.w(cp);
    for (int i = 0; i < W.rows(); ++i)
      for (int j = 0; j < W.cols(); ++j) {
        const std::string pi = unit_node(net_, spec.p, i), qj = unit_node(net_, spec.q, j);
        if (spec.p == spec.q) {  // intra-module: one device per ordered pair i != j (W symmetric)
          if (i != j) transconductor("W_" + cname, pi, qj, is_tanh(spec.q), W(i, j), f.gain_into_p(i, j), f.offset_into_p(i, j));
          continue;
        }
        transconductor("W_" + cname, pi, qj, is_tanh(spec.q), W(i, j), f.gain_into_p(i, j), f.offset_into_p(i, j));
        transconductor("W_" + cname, qj, pi, is_tanh(spec.p), W(i, j), f.gain_into_q(j, i), f.offset_into_q(j, i));
      }
  }

  // Spring (resistor to a source at x_t) and nudge (G element to a source at the target).
  void clamp(int i) {
    const std::string x = unit_node(net_, net_.spec().visible, i);
    const double spring_g = net_.spec().spring_lambda * net_.spec().leak * dm_.g_unit_siemens * f_.spring(i);
    if (spring_g > 0) {
      const std::string xt = "xt_" + std::to_string(i);
      map_.spring_resistors.push_back(c_.elements.size());
      c_.elements.push_back(make_two_terminal(ElementKind::resistor, "RS_" + x, x, xt, 1 / spring_g));
      map_.spring_sources.push_back(c_.elements.size());
      c_.elements.push_back(make_two_terminal(ElementKind::vsource, "VT_" + x, xt, "0", spring_target(i) * dm_.v_unit_V));
    }
    if (opt_.nudge_g == 0) return;
    const std::string t = "nt_" + std::to_string(i);
    auto g = make_two_terminal(ElementKind::vccs, "GN_" + x, x, t, opt_.nudge_g * dm_.g_unit_siemens * f_.nudge(i));
    g.c_plus = x;
    g.c_minus = t;
    map_.nudge_elements.push_back(c_.elements.size());
    c_.elements.push_back(g);
    map_.nudge_sources.push_back(c_.elements.size());
    c_.elements.push_back(make_two_terminal(ElementKind::vsource, "VN_" + x, t, "0", opt_.nudge_target(i) * dm_.v_unit_V));
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
  DeviceFactors f_;
  Circuit c_;
  CircuitMap map_;
};

}  // namespace

std::string unit_node(const model::Network& net, int m, int i) {
  return lower_case(net.spec().modules[m].name) + "_" + std::to_string(i);
}

DeviceFactors ideal_factors(const model::Network& net) {
  DeviceFactors f;
  for (int m = 0; m < net.module_count(); ++m)
    f.modules.push_back({Eigen::VectorXd::Ones(net.size(m)), Eigen::VectorXd::Ones(net.size(m))});
  for (const auto& c : net.spec().couplings) {
    const int np = net.size(c.p), nq = net.size(c.q), r = c.kind == model::CouplingKind::dense ? 0 : c.rank;
    const Eigen::VectorXd ones_r = Eigen::VectorXd::Ones(r);
    DeviceFactors::Coupling k;
    if (c.kind == model::CouplingKind::dense) {
      k.gain_into_p = Eigen::MatrixXd::Ones(np, nq), k.offset_into_p = Eigen::MatrixXd::Zero(np, nq);
      if (c.p != c.q) k.gain_into_q = Eigen::MatrixXd::Ones(nq, np), k.offset_into_q = Eigen::MatrixXd::Zero(nq, np);
    }
    k.cap_pu = k.leak_pu = k.cap_pv = k.leak_pv = ones_r;
    k.gain_to_pu = Eigen::MatrixXd::Ones(np, r), k.offset_to_pu = Eigen::MatrixXd::Zero(np, r);
    k.gain_pu_to_q = Eigen::MatrixXd::Ones(nq, r), k.offset_pu_to_q = Eigen::MatrixXd::Zero(nq, r);
    k.gain_to_pv = Eigen::MatrixXd::Ones(nq, r), k.offset_to_pv = Eigen::MatrixXd::Zero(nq, r);
    k.gain_pv_to_p = Eigen::MatrixXd::Ones(np, r), k.offset_pv_to_p = Eigen::MatrixXd::Zero(np, r);
    f.couplings.push_back(std::move(k));
  }
  const int nv = net.size(net.spec().visible);
  f.spring = Eigen::VectorXd::Ones(nv);
  f.nudge = Eigen::VectorXd::Ones(nv);
  return f;
}

DeviceFactors draw_factors(const model::Network& net, const DeviceModel& dm, unsigned long long seed) {
  validate(dm);
  return Drawer(net, dm, seed).draw();
}

Netlist netlist_network(const model::Network& net, const DeviceModel& dm, const NetlistOptions& opt) {
  validate(dm);
  return Netlister(net, dm, opt).build();
}

Circuit build_circuit(const model::Network& net, const DeviceModel& dm, const NetlistOptions& opt) {
  return netlist_network(net, dm, opt).circuit;
}

}  // namespace eqsim::circuit
