#include "backend/chip/chip_backend.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include <fmt/format.h>

#include "backend/analysis.hpp"
#include "circuit/equivalent.hpp"
#include "circuit/netlister.hpp"
#include "data/error.hpp"
#include "model/relax.hpp"

namespace eqsim::backend::chip {

namespace {

constexpr double sweep_tol_fraction = 1e-3;  // sweeps stop once no unit moves by this fraction of settle_tol
constexpr int max_sweeps = 20000;
constexpr double euler_tol_fraction = 1e-4;  // Euler steps (intra-module couplings) stop once no unit moves by this fraction of settle_tol
constexpr int max_euler_steps = 2000000;
constexpr double max_euler_dt_tau = 0.1;     // settling dynamics: Euler step at most this (and half the fastest node)

// Half the fastest node time constant c / g_restore (in tau), at most max_euler_dt_tau:
// Euler steps of the node dynamics stable for every node.
double euler_dt(const model::Network& net, const circuit::DeviceFactors& f, const model::Clamp& clamp) {
  double fastest = std::numeric_limits<double>::infinity();
  const int visible = net.spec().visible;
  for (int m = 0; m < net.module_count(); ++m) {
    Eigen::ArrayXd g = net.spec().leak * f.modules[m].leak.array();
    if (m == visible) g += clamp.spring_g * f.spring.array() + std::abs(clamp.nudge_g) * f.nudge.array();
    fastest = std::min(fastest, (f.modules[m].cap.array() / g).minCoeff());
  }
  return std::min(max_euler_dt_tau, 0.5 * fastest);
}

// A chip of a network relaxed on its node equations.
class EquationChipRelaxer : public ChipRelaxer {
 public:
  explicit EquationChipRelaxer(const ChipSpec& spec)
      : spec_(spec),
        f_(spec.mismatch_seed ? circuit::draw_factors(*spec.net, spec.device_model, *spec.mismatch_seed)
                              : circuit::ideal_factors(*spec.net)),
        eq_(*spec.net, f_, spec.device_model.noise_gamma, spec.readout) {}

  model::RelaxSummary relax(const model::Clamp& clamp, model::State& s, const model::RelaxOptions& opt) override {
    return eq_.relax(clamp, s, opt);
  }

  Eigen::RowVectorXd settle_time_s(const model::Clamp& clamp, const model::State& start, double tol,
                                   double max_time_s) override {
    const double tau = circuit::tau_s(spec_.device_model);
    return tau * eq_.settle_time_tau(clamp, start, tol, euler_dt(*spec_.net, f_, clamp), max_time_s / tau);
  }

 private:
  ChipSpec spec_;
  circuit::DeviceFactors f_;
  circuit::EquivalentCircuit eq_;
};

// A voltage source of the generated circuit that a request may set.
struct Held {
  enum Kind { spring, nudge, supply } kind;
  size_t element = 0;
  int unit = 0;  // spring, nudge: the visible unit it ties
};

// Where a node's voltage comes from: unit `index` of module `module`, or (module < 0)
// held source `index`.
struct NodeSource {
  int module = -1, index = 0;
};

const circuit::CircuitOrigin& origin_of(const circuit::Circuit& c) {
  if (!c.origin)
    throw InputError(c.source, "",
                     "the chip backend relaxes circuits eqsim generated from a model; " +
                         (c.source.empty() ? std::string("this circuit") : c.source) +
                         " was read from a file: relax it with a circuit-level backend (see --backend in --help)");
  if (c.origin->element_count != c.elements.size())
    throw InputError(c.source, "", "the chip backend relaxes circuits as eqsim generated them; this one has " +
                                       std::to_string(c.elements.size()) + " elements instead of " +
                                       std::to_string(c.origin->element_count));
  return *c.origin;
}

class ChipBatchRelaxer : public BatchRelaxer {
 public:
  explicit ChipBatchRelaxer(const circuit::Circuit& c)
      : c_(c), o_(origin_of(c_)), eq_(make_equations(o_)), nodes_(circuit::node_names(c_)) {
    for (int k = 0; k < static_cast<int>(o_.net.spec().couplings.size()); ++k)
      self_coupled_ = self_coupled_ || o_.net.is_self(k);
    hold_sources();
    map_nodes();
    supply_current_A_ = supply_current();
  }

  BatchSummary relax(const BatchRequest& req, const RelaxOptions& opt, const std::function<void(long)>& on_relaxed) override {
    check_batch_request(c_, nodes_, req);
    const Eigen::Index B = req.source_V.cols();
    const Eigen::MatrixXd held = held_voltages(req);
    const model::Clamp clamp = make_clamp(held);
    const model::State start = start_state(req);
    model::State s = start;
    const double tol = opt.settle_tol_V / o_.device_model.v_unit_V;
    const double dt = euler_dt(o_.net, o_.factors, clamp);
    const auto sum = eq_->relax(clamp, s, self_coupled_ ? model::RelaxOptions{model::RelaxMethod::euler, max_euler_steps, dt,
                                                                              euler_tol_fraction * tol}
                                                        : model::RelaxOptions{model::RelaxMethod::block, max_sweeps, 0.1,
                                                                              sweep_tol_fraction * tol});
    const double tau = circuit::tau_s(o_.device_model), window_s = make_plan(c_, opt).t_stop_s;
    const Eigen::RowVectorXd settle_tau = eq_->settle_time_tau(clamp, start, tol, dt, window_s / tau);
    BatchSummary out{nodes_, voltages(clamp, s, held), {}};
    const bool noisy = opt.temperature_K > 0;
    const Eigen::MatrixXd exact_V = out.final_V;
    Eigen::VectorXd var_V2;
    if (noisy) {
      const double T = circuit::model_temperature(o_.device_model, opt.temperature_K);
      var_V2 = reading_variance(clamp, s, T);
      read_noisy(clamp, s, T, opt.seed);
      out.final_V = voltages(clamp, s, held);
    }
    for (Eigen::Index j = 0; j < B; ++j) {
      RelaxSummary r;
      r.backend = "chip (" + ChipBackend().version() + ")";
      r.noisy = noisy;
      r.t_end_s = window_s;
      r.nodes = nodes_;
      r.final_V = out.final_V.col(j);
      if (noisy) r.mean_V = exact_V.col(j), r.var_V2 = var_V2;
      settle(sum, settle_tau(j) * tau, r);
      sources(exact_V.col(j), held.col(j), r);
      out.runs.push_back(std::move(r));
    }
    if (on_relaxed) on_relaxed(B);
    return out;
  }

 private:
  std::unique_ptr<circuit::EquivalentCircuit> make_equations(const circuit::CircuitOrigin& o) const {
    try {
      return std::make_unique<circuit::EquivalentCircuit>(o.net, o.factors, o.device_model.noise_gamma);
    } catch (const InputError& e) {
      throw InputError(c_.source, "", std::string("the chip backend cannot relax this circuit: ") + e.what());
    }
  }

  int visible() const { return o_.net.spec().visible; }
  double v_unit() const { return o_.device_model.v_unit_V; }

  // The sources a request may set: springs, nudges, the supply (rows of held_voltages).
  void hold_sources() {
    const auto& m = o_.map;
    for (size_t i = 0; i < m.spring_sources.size(); ++i) held_.push_back({Held::spring, m.spring_sources[i], static_cast<int>(i)});
    for (size_t i = 0; i < m.nudge_sources.size(); ++i) held_.push_back({Held::nudge, m.nudge_sources[i], static_cast<int>(i)});
    held_.push_back({Held::supply, m.supply, 0});
    const auto n = std::count_if(c_.elements.begin(), c_.elements.end(),
                                 [](const circuit::Element& e) { return e.kind == circuit::ElementKind::vsource; });
    if (static_cast<size_t>(n) != held_.size())
      throw InputError(c_.source, "", "the chip backend expects only spring, nudge and supply voltage sources");
  }

  long row_of(const std::string& node) const {
    const auto it = std::lower_bound(nodes_.begin(), nodes_.end(), node);
    return it != nodes_.end() && *it == node ? it - nodes_.begin() : -1;
  }

  // Every node is a unit, a projection node or a held source's node; InputError for any other.
  void map_nodes() {
    node_source_.assign(nodes_.size(), {-2, 0});
    auto groups = o_.map.unit_nodes;  // EquivalentCircuit::with_projections' groups
    groups.insert(groups.end(), o_.map.projection_nodes.begin(), o_.map.projection_nodes.end());
    for (size_t g = 0; g < groups.size(); ++g) {
      if (g < o_.map.unit_nodes.size()) unit_row_.emplace_back();
      for (size_t i = 0; i < groups[g].size(); ++i) {
        const long r = row_of(groups[g][i]);
        if (g < o_.map.unit_nodes.size()) unit_row_[g].push_back(r);
        node_source_[r] = {static_cast<int>(g), static_cast<int>(i)};
      }
    }
    for (size_t h = 0; h < held_.size(); ++h) node_source_[row_of(c_.elements[held_[h].element].n_plus)] = {-1, static_cast<int>(h)};
    for (size_t k = 0; k < nodes_.size(); ++k)
      if (node_source_[k].module == -2)
        throw InputError(c_.source, "", "node '" + nodes_[k] + "' has no counterpart in the chip backend's node equations");
  }

  // Current the supply delivers: the transconductors' bias draws (current sources out of it).
  double supply_current() const {
    const std::string& vdd = c_.elements[o_.map.supply].n_plus;
    double i_A = 0;
    for (size_t k = 0; k < c_.elements.size(); ++k) {
      const auto& e = c_.elements[k];
      if (k == o_.map.supply || (e.n_plus != vdd && e.n_minus != vdd)) continue;
      if (e.kind != circuit::ElementKind::isource)
        throw InputError(c_.source, e.name, "the chip backend expects only bias current sources on the supply");
      i_A += e.n_plus == vdd ? e.value : -e.value;
    }
    return i_A;
  }

  // held_.size() x B: every held source at its circuit value, the requested ones per column.
  Eigen::MatrixXd held_voltages(const BatchRequest& req) const {
    Eigen::MatrixXd v(static_cast<Eigen::Index>(held_.size()), req.source_V.cols());
    for (size_t h = 0; h < held_.size(); ++h) v.row(h).setConstant(c_.elements[held_[h].element].value);
    for (size_t s = 0; s < req.sources.size(); ++s) {
      const auto it = std::find_if(held_.begin(), held_.end(), [&](const Held& h) { return h.element == req.sources[s]; });
      if (it == held_.end())
        throw InputError(c_.source, "sources", "element " + std::to_string(req.sources[s]) +
                                                   " is not a spring, nudge or supply source of the generated circuit");
      v.row(it - held_.begin()) = req.source_V.row(s);
    }
    return v;
  }

  model::Clamp make_clamp(const Eigen::MatrixXd& held) const {
    const auto& spec = o_.net.spec();
    const Eigen::Index nv = o_.net.size(visible()), B = held.cols();
    const auto ns = static_cast<Eigen::Index>(o_.map.spring_sources.size());
    model::Clamp c;
    c.spring_g = spec.spring_lambda * spec.leak;
    c.spring_target = ns ? Eigen::MatrixXd(held.topRows(nv) / v_unit()) : Eigen::MatrixXd(Eigen::MatrixXd::Zero(nv, B));
    c.nudge_g = o_.nudge_g;
    if (c.nudge_g != 0) c.nudge_target = held.middleRows(ns, nv) / v_unit();
    if (o_.condition_level >= 0) c.levels.assign(static_cast<size_t>(B), o_.condition_level);
    return c;
  }

  // The circuit's initial voltage of node k: its grounded capacitor's IC, else its .ic, else 0.
  double initial_V(size_t k) const {
    for (const auto& e : c_.elements)
      if (e.kind == circuit::ElementKind::capacitor && e.n_plus == nodes_[k] && circuit::is_ground(e.n_minus) && e.ic_V)
        return *e.ic_V;
    const auto it = c_.initial_V.find(nodes_[k]);
    return it == c_.initial_V.end() ? 0.0 : it->second;
  }

  model::State start_state(const BatchRequest& req) const {
    const Eigen::Index B = req.source_V.cols();
    model::State s;
    for (size_t m = 0; m < unit_row_.size(); ++m) {
      Eigen::MatrixXd u(static_cast<Eigen::Index>(unit_row_[m].size()), B);
      for (size_t i = 0; i < unit_row_[m].size(); ++i) {
        const long r = unit_row_[m][i];
        if (req.start_V.size()) u.row(i) = req.start_V.row(r) / v_unit();
        else u.row(i).setConstant(initial_V(r) / v_unit());
      }
      s.u.push_back(u);
      s.a.push_back(u);
      model::update_output(o_.net, s, static_cast<int>(m));
    }
    return s;
  }

  // nodes x B: unit nodes from s, projection nodes at their steady values given s, source
  // nodes at their sources.
  Eigen::MatrixXd voltages(const model::Clamp& clamp, const model::State& s, const Eigen::MatrixXd& held) const {
    const model::State ext = eq_->with_projections(clamp, s);
    Eigen::MatrixXd v(static_cast<Eigen::Index>(nodes_.size()), held.cols());
    for (size_t k = 0; k < nodes_.size(); ++k) {
      const auto [m, i] = node_source_[k];
      v.row(k) = m >= 0 ? Eigen::MatrixXd(ext.u[m].row(i) * v_unit()) : Eigen::MatrixXd(held.row(i));
    }
    return v;
  }

  // Column j read with its own noise stream sub_seed(seed, j): the readout alone (no
  // sweep), each column by a chip of its own (EquivalentCircuit carries one noise process
  // per object), so a column's reading does not depend on the batch it came in.
  void read_noisy(const model::Clamp& clamp, model::State& s, double T, unsigned long long seed) const {
    for (Eigen::Index j = 0; j < s.batch(); ++j) {
      model::State col = model::slice(s, j, 1);
      const auto method = self_coupled_ ? model::RelaxMethod::euler : model::RelaxMethod::block;
      make_equations(o_)->relax(model::slice(clamp, j, 1), col,
                                {method, 0, 0.1, 0, T, sub_seed(seed, static_cast<unsigned long long>(j))});
      for (size_t m = 0; m < s.u.size(); ++m) s.u[m].col(j) = col.u[m], s.a[m].col(j) = col.a[m];
    }
  }

  // Per node (V^2): the variance of a unit node's reading about column 0's relaxed state s
  // (the diagonal of the exact linear-noise covariance), 0 for source nodes.
  Eigen::VectorXd reading_variance(const model::Clamp& clamp, const model::State& s, double T) const {
    const model::Clamp c0 = model::slice(clamp, 0, 1);
    const Eigen::MatrixXd P = eq_->noise_covariance(c0, model::slice(s, 0, 1), T, 0);
    const model::State ext = eq_->with_projections(c0, model::slice(s, 0, 1));
    std::vector<Eigen::Index> first(ext.u.size(), -1);  // each free group's first row in P
    Eigen::Index n = 0;
    for (size_t m = 0; m < ext.u.size(); ++m)
      if (!(c0.hold_visible && static_cast<int>(m) == visible())) first[m] = n, n += ext.u[m].rows();
    Eigen::VectorXd v = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(nodes_.size()));
    for (size_t k = 0; k < nodes_.size(); ++k)
      if (const auto [m, i] = node_source_[k]; m >= 0 && first[static_cast<size_t>(m)] >= 0) {
        const Eigen::Index r = first[static_cast<size_t>(m)] + i;
        v(k) = P(r, r) * v_unit() * v_unit();
      }
    return v;
  }

  static void settle(const model::RelaxSummary& sum, double settle_s, RelaxSummary& r) {
    r.status = sum.converged && std::isfinite(settle_s) ? Status::settled : Status::not_settled;
    r.settle_time_s = std::isfinite(settle_s) ? settle_s : r.t_end_s;
    if (!sum.converged)
      r.message = fmt::format("block sweeps did not converge in {} sweeps (last change {:.3g} model units)", sum.steps,
                              sum.last_change);
    else if (!std::isfinite(settle_s))
      r.message = "the node dynamics did not settle within the window";
  }

  // Every voltage source's current at the relaxed state v (nodes) and held voltages h.
  void sources(const Eigen::VectorXd& v, const Eigen::VectorXd& h, RelaxSummary& r) const {
    r.sources = voltage_sources(c_);
    const auto& vis = unit_row_[visible()];
    for (size_t k = 0, s = 0; k < c_.elements.size(); ++k) {
      if (c_.elements[k].kind != circuit::ElementKind::vsource) continue;
      auto& out = r.sources[s++];
      const auto it = std::find_if(held_.begin(), held_.end(), [&](const Held& x) { return x.element == k; });
      const Eigen::Index row = it - held_.begin();
      out.value_V = h(row);
      if (it->kind == Held::spring)  // through the spring resistor into the unit node
        out.current_final_A = (h(row) - v(vis[it->unit])) / c_.elements[o_.map.spring_resistors[it->unit]].value;
      else if (it->kind == Held::nudge)  // the G element's current g (V_x - V_t) flows into the source's node
        out.current_final_A = -c_.elements[o_.map.nudge_elements[it->unit]].value * (v(vis[it->unit]) - h(row));
      else
        out.current_final_A = supply_current_A_;
      out.current_mean_A = out.current_final_A;
      out.energy_J = out.value_V * out.current_mean_A * r.t_end_s;
      if (out.supply) {
        r.supply_V = out.value_V;
        r.supply_current_final_A = r.supply_current_mean_A = out.current_final_A;
        r.supply_energy_J = out.energy_J;
      }
    }
  }

  circuit::Circuit c_;
  const circuit::CircuitOrigin& o_;
  std::unique_ptr<circuit::EquivalentCircuit> eq_;
  std::vector<std::string> nodes_;      // circuit::node_names(c_)
  std::vector<Held> held_;
  std::vector<NodeSource> node_source_;       // per node
  std::vector<std::vector<long>> unit_row_;   // per module, per unit: its node's row
  double supply_current_A_ = 0;
  bool self_coupled_ = false;                 // intra-module couplings: Euler steps instead of sweeps
};

}  // namespace

std::string ChipBackend::name() const { return "chip"; }

std::string ChipBackend::version() const { return "eqsim chip model (model level, Gauss-Seidel)"; }

std::unique_ptr<BatchRelaxer> ChipBackend::batch_relaxer(const circuit::Circuit& c) {
  return std::make_unique<ChipBatchRelaxer>(c);
}

std::unique_ptr<ChipRelaxer> ChipBackend::chip_relaxer(const ChipSpec& spec) {
  return std::make_unique<EquationChipRelaxer>(spec);
}

RelaxSummary ChipBackend::relax(const circuit::Circuit& c, const RelaxOptions& opt) {
  const BatchRequest one{{}, Eigen::MatrixXd(0, 1), {}};
  return ChipBatchRelaxer(c).relax(one, opt, {}).runs.front();
}

}  // namespace eqsim::backend::chip
