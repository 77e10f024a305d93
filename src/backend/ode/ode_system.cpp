#include "backend/ode/ode_system.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "backend/analysis.hpp"
#include "circuit/topology.hpp"
#include "data/error.hpp"

namespace eqsim::backend::ode {

using circuit::ElementKind;
using Triplets = std::vector<Eigen::Triplet<double>>;

// Offset devices beyond this many input scales go to the expression evaluator: there
// tanh(offset / scale) nears 1 and (a - t) / (1 - a t) loses digits.
constexpr double max_offset_scales = 0.5;

void LinearMap::build(Eigen::Index rows, Eigen::Index cols, const Triplets& t) {
  is_dense = rows * cols <= 2048 * 2048;
  Eigen::SparseMatrix<double, Eigen::RowMajor> m(rows, cols);
  m.setFromTriplets(t.begin(), t.end());
  if (is_dense) dense = Eigen::MatrixXd(m);
  else sparse = std::move(m);
}

void LinearMap::apply(Eigen::Index first, const Eigen::MatrixXd& x, Eigen::Ref<Eigen::MatrixXd> y) const {
  if (is_dense) y.noalias() += dense.middleRows(first, y.rows()) * x;
  else y += sparse.middleRows(first, y.rows()) * x;
}

namespace {

Eigen::RowVectorXd evaluate(const CompiledExpr& e, const Eigen::MatrixXd& v) {
  using Op = circuit::Expr::Op;
  const auto B = v.cols();
  auto volt = [&](int i) -> Eigen::RowVectorXd { return i < 0 ? Eigen::RowVectorXd::Zero(B) : Eigen::RowVectorXd(v.row(i)); };
  switch (e.op) {
    case Op::constant: return Eigen::RowVectorXd::Constant(B, e.value);
    case Op::voltage: return volt(e.a) - volt(e.b);
    case Op::neg: return -evaluate(e.args[0], v);
    case Op::tanh: return evaluate(e.args[0], v).array().tanh().matrix();
    case Op::add: return evaluate(e.args[0], v) + evaluate(e.args[1], v);
    case Op::sub: return evaluate(e.args[0], v) - evaluate(e.args[1], v);
    case Op::mul: return (evaluate(e.args[0], v).array() * evaluate(e.args[1], v).array()).matrix();
    case Op::div: return (evaluate(e.args[0], v).array() / evaluate(e.args[1], v).array()).matrix();
  }
  return Eigen::RowVectorXd::Zero(B);
}

}  // namespace

// Stamps every element of a circuit into the system's matrices.
class OdeSystem::Builder {
 public:
  Builder(OdeSystem& s, const circuit::Circuit& c) : s_(s), c_(c) {}

  void run() {
    index_nodes();
    const auto n = static_cast<Eigen::Index>(s_.names_.size());
    s_.constant_ = Eigen::VectorXd::Zero(n);
    for (const auto& e : c_.elements) stamp(e);
    s_.lin_.build(n, n, lin_);
    for (auto& [scale, t] : tanh_) {
      s_.tanh_.push_back({scale, {}});
      s_.tanh_.back().k.build(n, n, t);
    }
    offset_groups();
    capacitance();
    initial_state();
  }

 private:
  [[noreturn]] void fail(int line, const std::string& what) const {
    throw InputError(c_.source, line > 0 ? "line " + std::to_string(line) : "", what);
  }

  void index_nodes() {
    const auto driven = circuit::driven_nodes(c_);
    std::vector<std::string> fixed;
    for (const auto& n : circuit::node_names(c_)) (driven.count(n) ? fixed : s_.names_).push_back(n);
    s_.n_state_ = static_cast<int>(s_.names_.size());
    s_.v_fixed_.resize(static_cast<Eigen::Index>(fixed.size()));
    for (size_t i = 0; i < fixed.size(); ++i) {
      s_.v_fixed_(static_cast<Eigen::Index>(i)) = driven.at(fixed[i]).value_V;
      s_.names_.push_back(fixed[i]);
    }
    for (size_t i = 0; i < s_.names_.size(); ++i) s_.index_[s_.names_[i]] = static_cast<int>(i);
    for (const auto& e : c_.elements)
      if (e.kind == ElementKind::vsource) {
        const bool plus_ground = circuit::is_ground(e.n_plus);
        s_.source_row_.push_back(idx(plus_ground ? e.n_minus : e.n_plus) - s_.n_state_);
        s_.source_sign_.push_back(plus_ground ? -1 : 1);
      }
  }
  int idx(const std::string& n) const { return circuit::is_ground(n) ? -1 : s_.index_.at(n); }

  void add(Triplets& t, int r, int col, double v) {
    if (r >= 0 && col >= 0) t.emplace_back(r, col, v);
  }
  // Current g*(V(a) - V(b)) leaves a, enters b.
  void conductance(int a, int b, double g) {
    add(lin_, a, a, -g), add(lin_, a, b, g), add(lin_, b, b, -g), add(lin_, b, a, g);
  }
  // Current gm*(V(cp) - V(cm)) leaves p, enters m.
  void vccs(Triplets& t, int p, int m, int cp, int cm, double gm) {
    add(t, p, cp, -gm), add(t, p, cm, gm), add(t, m, cp, gm), add(t, m, cm, -gm);
  }
  // Constant current i leaves p, enters m.
  void current(int p, int m, double i) {
    if (p >= 0) s_.constant_(p) -= i;
    if (m >= 0) s_.constant_(m) += i;
  }

  void stamp(const circuit::Element& e) {
    const int p = idx(e.n_plus), m = idx(e.n_minus);
    switch (e.kind) {
      case ElementKind::resistor: conductance(p, m, 1.0 / e.value); break;
      case ElementKind::capacitor: caps_.push_back({p, m, e.value, e.line}); break;
      case ElementKind::vsource: break;
      case ElementKind::isource: current(p, m, e.value); break;
      case ElementKind::vccs: vccs(lin_, p, m, idx(e.c_plus), idx(e.c_minus), e.value); break;
      case ElementKind::bsource: bsource(e, p, m); break;
      case ElementKind::subckt: break;  // refused by the constructor
    }
  }

  void bsource(const circuit::Element& e, int p, int m) {
    circuit::Transconductance t;
    if (!circuit::match_transconductance(e.expr, t)) {
      s_.generic_.push_back({p, m, compile(e.expr)});
      return;
    }
    const int in = idx(t.input);
    if (!t.tanh_input) {
      vccs(lin_, p, m, in, -1, t.gain);
      current(p, m, -t.gain * t.offset_V);
    } else if (t.offset_V == 0) {
      vccs(tanh_[t.scale_V], p, m, in, -1, t.gain);
    } else if (std::abs(t.offset_V) <= max_offset_scales * t.scale_V) {
      const double tanh_offset = std::tanh(t.offset_V / t.scale_V);
      if (p >= 0) offset_entries_[t.scale_V].push_back({p, in, tanh_offset, -t.gain});
      if (m >= 0) offset_entries_[t.scale_V].push_back({m, in, tanh_offset, t.gain});
    } else {
      s_.generic_.push_back({p, m, compile(e.expr)});
    }
  }

  CompiledExpr compile(const circuit::Expr& e) const {
    CompiledExpr c{e.op, e.value, -1, -1, {}};
    if (e.op == circuit::Expr::Op::voltage) {
      c.a = idx(e.node_a);
      c.b = e.node_b.empty() ? -1 : idx(e.node_b);
    }
    for (const auto& a : e.args) c.args.push_back(compile(a));
    return c;
  }

  // One terminal of an offset device: current coeff * tanh((v[input] - offset) / scale) into row.
  struct OffsetEntry {
    int row, input;
    double tanh_offset, coeff;
  };

  // Per scale: the entries sorted by (row, input), cut into runs of consecutive inputs.
  void offset_groups() {
    for (auto& [scale, entries] : offset_entries_) {
      std::sort(entries.begin(), entries.end(),
                [](const OffsetEntry& a, const OffsetEntry& b) { return std::tie(a.row, a.input) < std::tie(b.row, b.input); });
      OffsetGroup g;
      g.inv_scale = 1 / scale;
      const auto E = static_cast<Eigen::Index>(entries.size());
      g.t.resize(E), g.coeff.resize(E);
      for (Eigen::Index k = 0; k < E; ++k) {
        const auto& e = entries[static_cast<size_t>(k)];
        g.t(k) = e.tanh_offset, g.coeff(k) = e.coeff;
        const bool continues = k > 0 && e.row == g.run_row.back() && e.input == entries[static_cast<size_t>(k) - 1].input + 1;
        if (continues) continue;
        g.run_row.push_back(e.row), g.run_input.push_back(e.input), g.run_first.push_back(static_cast<int>(k));
      }
      g.run_first.push_back(static_cast<int>(E));
      s_.offset_.push_back(std::move(g));
    }
  }

  struct Cap {
    int a, b;
    double c_F;
    int line;
  };

  int first_line(const std::string& node) const {
    for (const auto& e : c_.elements)
      if (e.n_plus == node || e.n_minus == node) return e.line;
    return 0;
  }

  void capacitance() {
    const int n = s_.n_state_;
    Eigen::MatrixXd C = Eigen::MatrixXd::Zero(n, n);
    auto free_node = [&](int i) { return i >= 0 && i < n; };
    for (const auto& k : caps_) {
      if (free_node(k.a)) C(k.a, k.a) += k.c_F;
      if (free_node(k.b)) C(k.b, k.b) += k.c_F;
      if (free_node(k.a) && free_node(k.b)) C(k.a, k.b) -= k.c_F, C(k.b, k.a) -= k.c_F;
    }
    for (int i = 0; i < n; ++i)
      if (C(i, i) <= 0)
        fail(first_line(s_.names_[i]), "node " + s_.names_[i] +
                                           " has no capacitor: the ode backend needs a capacitor on every node not "
                                           "held by a voltage source");
    held_capacitance();
    s_.cap_diagonal_ = (C - Eigen::MatrixXd(C.diagonal().asDiagonal())).cwiseAbs().maxCoeff() == 0;
    if (s_.cap_diagonal_) {
      s_.inv_cap_diag_ = C.diagonal().cwiseInverse();
      return;
    }
    s_.cap_llt_.compute(C);
    if (s_.cap_llt_.info() != Eigen::Success)
      fail(0, "the capacitance matrix is singular: every floating capacitor group needs a path to ground");
  }

  // Capacitors between a held node and a free node carry C dV_free/dt into the held node.
  void held_capacitance() {
    const int n = s_.n_state_;
    Triplets t;
    for (const auto& k : caps_) {
      if (k.a >= n && k.b >= 0 && k.b < n) t.emplace_back(k.a - n, k.b, k.c_F);
      if (k.b >= n && k.a >= 0 && k.a < n) t.emplace_back(k.b - n, k.a, k.c_F);
    }
    s_.held_cap_.resize(static_cast<Eigen::Index>(s_.names_.size()) - n, n);
    s_.held_cap_.setFromTriplets(t.begin(), t.end());
  }

  void initial_state() {
    s_.x0_ = Eigen::VectorXd::Zero(s_.n_state_);
    for (const auto& e : c_.elements) {
      if (e.kind != ElementKind::capacitor || !e.ic_V) continue;
      const int p = idx(e.n_plus), m = idx(e.n_minus);
      if (p >= 0 && p < s_.n_state_ && m < 0) s_.x0_(p) = *e.ic_V;
      if (m >= 0 && m < s_.n_state_ && p < 0) s_.x0_(m) = -*e.ic_V;
    }
    for (const auto& [node, v] : c_.initial_V) {
      const auto it = s_.index_.find(node);
      if (it == s_.index_.end()) fail(c_.initial_line.at(node), ".ic names unknown node " + node);
      if (it->second < s_.n_state_) s_.x0_(it->second) = v;
    }
    held_node_jump();
  }

  // As ngspice with uic: a capacitor between a held and a free node starts at the difference of their initial
  // values, the held node's being its .ic value or 0, not its source's value. When the source then holds the node,
  // the free node jumps with it, keeping its capacitors' charge: x0 += C^{-1} C_held^T (v_source - v_initial).
  void held_node_jump() {
    if (s_.held_cap_.nonZeros() == 0) return;
    Eigen::VectorXd jump = s_.v_fixed_;
    for (const auto& [node, v] : c_.initial_V)
      if (const int i = s_.index_.at(node); i >= s_.n_state_) jump(i - s_.n_state_) -= v;
    Eigen::MatrixXd dx = s_.held_cap_.transpose() * jump;
    s_.apply_inverse_capacitance(dx);
    s_.x0_ += dx;
  }

  OdeSystem& s_;
  const circuit::Circuit& c_;
  Triplets lin_;
  std::map<double, Triplets> tanh_;
  std::vector<Cap> caps_;
  std::map<double, std::vector<OffsetEntry>> offset_entries_;
};

OdeSystem::OdeSystem(const circuit::Circuit& c) {
  if (circuit::has_subcircuits(c)) {
    int line = 0;
    for (const auto& e : c.elements)
      if (e.kind == ElementKind::subckt && !line) line = e.line;
    throw InputError(c.source, line > 0 ? "line " + std::to_string(line) : "",
                     "subcircuits and device models (X, .subckt, .model, .include) need a SPICE engine: "
                     "the ode backend relaxes R C V I G B only; use --backend spice");
  }
  circuit::check_topology(c);
  Builder(*this, c).run();
}

int OdeSystem::node_index(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? -1 : it->second;
}

Eigen::MatrixXd OdeSystem::stack(const Eigen::Ref<const Eigen::MatrixXd>& x, const Eigen::MatrixXd& vf) const {
  Eigen::MatrixXd v(names_.size(), x.cols());
  v.topRows(n_state_) = x;
  v.bottomRows(vf.rows()) = vf;
  return v;
}

Eigen::MatrixXd OdeSystem::injection(Eigen::Index first, Eigen::Index count, const Eigen::MatrixXd& v) const {
  Eigen::MatrixXd i = constant_.segment(first, count).replicate(1, v.cols());
  lin_.apply(first, v, i);
  for (const auto& g : tanh_) g.k.apply(first, (v / g.scale_V).array().tanh().matrix(), i);
  add_offset_devices(first, v, i);
  auto deposit = [&](int row, double sign, const Eigen::RowVectorXd& cur) {
    if (row >= first && row < first + count) i.row(row - first) += sign * cur;
  };
  for (const auto& g : generic_) {
    const Eigen::RowVectorXd cur = evaluate(g.expr, v);
    deposit(g.plus, -1, cur), deposit(g.minus, 1, cur);
  }
  return i;
}

void OdeSystem::add_offset_devices(Eigen::Index first, const Eigen::MatrixXd& v, Eigen::Ref<Eigen::MatrixXd> i) const {
  const Eigen::Index end = first + i.rows();
  for (const auto& g : offset_) {
    if (g.run_row.empty() || g.run_row.back() < first || g.run_row.front() >= end) continue;  // rows sorted
    const Eigen::MatrixXd a = (v * g.inv_scale).array().tanh().matrix();
    for (Eigen::Index b = 0; b < v.cols(); ++b)
      for (size_t r = 0; r + 1 < g.run_first.size(); ++r) {
        const int row = g.run_row[r];
        if (row < first || row >= end) continue;
        const int k0 = g.run_first[r], len = g.run_first[r + 1] - k0;
        const double *x = a.col(b).data() + g.run_input[r], *t = g.t.data() + k0, *c = g.coeff.data() + k0;
        double sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int k = 0; k < len; ++k) sum += c[k] * (x[k] - t[k]) / (1 - x[k] * t[k]);
        i(row - first, b) += sum;
      }
  }
}

void OdeSystem::derivative(const Eigen::Ref<const Eigen::MatrixXd>& x, const Eigen::MatrixXd& vf,
                           Eigen::Ref<Eigen::MatrixXd> dxdt) const {
  dxdt = injection(0, n_state_, stack(x, vf));
  apply_inverse_capacitance(dxdt);
}

Eigen::MatrixXd OdeSystem::source_currents(const Eigen::MatrixXd& x, const Eigen::MatrixXd& vf) const {
  Eigen::MatrixXd out(static_cast<Eigen::Index>(source_row_.size()), x.cols());
  if (source_row_.empty()) return out;
  Eigen::MatrixXd drawn = injection(n_state_, vf.rows(), stack(x, vf));
  if (held_cap_.nonZeros() > 0) {
    Eigen::MatrixXd dxdt(x.rows(), x.cols());
    derivative(x, vf, dxdt);
    drawn += held_cap_ * dxdt;
  }
  for (size_t j = 0; j < source_row_.size(); ++j)
    out.row(static_cast<Eigen::Index>(j)) = -source_sign_[j] * drawn.row(source_row_[j]);
  return out;
}

void OdeSystem::apply_inverse_capacitance(Eigen::Ref<Eigen::MatrixXd> y) const {
  if (cap_diagonal_) y = inv_cap_diag_.asDiagonal() * y;
  else y = cap_llt_.solve(y);
}

Eigen::SparseMatrix<double> OdeSystem::noise_map(const circuit::Circuit& c, double temperature_K) const {
  const auto sources = thermal_noise(c, temperature_K);
  Triplets t;
  for (size_t j = 0; j < sources.size(); ++j) {
    const double amp = std::sqrt(sources[j].psd_A2_per_Hz / 2);
    const int a = circuit::is_ground(sources[j].a) ? -1 : index_.at(sources[j].a);
    const int b = circuit::is_ground(sources[j].b) ? -1 : index_.at(sources[j].b);
    if (a >= 0 && a < n_state_) t.emplace_back(a, static_cast<int>(j), amp);
    if (b >= 0 && b < n_state_) t.emplace_back(b, static_cast<int>(j), -amp);
  }
  Eigen::SparseMatrix<double> m(n_state_, static_cast<Eigen::Index>(sources.size()));
  m.setFromTriplets(t.begin(), t.end());
  return m;
}

}  // namespace eqsim::backend::ode
