// The default Backend::chip_relaxer: the chip's netlist relaxed through the
// backend's batch relaxer (ode, spice), one netlist per parameter set, nudge and
// bias-table level.
#include <algorithm>
#include <limits>
#include <map>
#include <stdexcept>
#include <utility>

#include "backend/backend.hpp"
#include "circuit/netlister.hpp"
#include "data/error.hpp"

namespace eqsim::backend {

model::Relaxer as_relaxer(ChipRelaxer& r) {
  return [&r](const model::Clamp& c, model::State& s, const model::RelaxOptions& o) { return r.relax(c, s, o); };
}

namespace {

constexpr double window_tau = 400;        // per relaxation; noiseless runs stop once settled
constexpr double settle_tol_model = 1e-6;  // what "settled" means for the window's early stop

// Columns of m (every row) at the listed indices.
Eigen::MatrixXd columns(const Eigen::MatrixXd& m, const std::vector<Eigen::Index>& cols) {
  return m.size() ? Eigen::MatrixXd(m(Eigen::all, cols)) : m;
}

// The netlist of one (parameters, nudge, level) prepared on the backend.
struct Prepared {
  circuit::Netlist netlist;
  std::vector<std::string> nodes;               // circuit::node_names: rows of start_V and final_V
  std::vector<std::vector<Eigen::Index>> rows;  // per module, per unit: its node's row
  std::vector<size_t> sources;                  // springs, then nudges (with a nudge)
  std::unique_ptr<BatchRelaxer> relaxer;
};

class NetlistChipRelaxer : public ChipRelaxer {
 public:
  NetlistChipRelaxer(Backend& b, const ChipSpec& spec) : backend_(b), spec_(spec), params_(spec.net->params()) {}

  model::RelaxSummary relax(const model::Clamp& clamp, model::State& s, const model::RelaxOptions& opt) override {
    check(clamp);
    const double T_K = opt.temperature > 0 ? opt.temperature / circuit::model_temperature(spec_.device_model, 1.0) : 0;
    model::RelaxSummary sum{1, 0, true};
    for (const auto& [level, cols] : columns_by_level(clamp, s.batch())) {
      Prepared& p = prepared(clamp.nudge_g, level);
      BatchRequest req{p.sources, source_voltages(clamp, cols), start_voltages(p, s, cols)};
      RelaxOptions ro = options(window_tau, true, T_K, sub_seed(opt.noise_seed, static_cast<unsigned long long>(level + 1)));
      BatchSummary out = p.relaxer->relax(req, ro);
      for (const auto& r : out.runs) sum.converged = sum.converged && check_run(r) == Status::settled;
      Eigen::MatrixXd read = reading(p, out.final_V);
      for (int rep = 1; rep < spec_.readout.repeats; ++rep) {  // further readings, each a window later
        req.start_V = out.final_V;
        ro = options(spec_.readout.repeat_interval_tau, false, T_K, sub_seed(ro.seed, static_cast<unsigned long long>(rep)));
        out = p.relaxer->relax(req, ro);
        for (const auto& r : out.runs) check_run(r);
        read += reading(p, out.final_V);
      }
      store(p, read / spec_.readout.repeats, cols, s);
    }
    return sum;
  }

  Eigen::RowVectorXd settle_time_s(const model::Clamp& clamp, const model::State& start, double tol,
                                   double max_time_s) override {
    check(clamp);
    Eigen::RowVectorXd t(start.batch());
    const double tau = circuit::tau_s(spec_.device_model);
    for (const auto& [level, cols] : columns_by_level(clamp, start.batch())) {
      Prepared& p = prepared(clamp.nudge_g, level);
      RelaxOptions ro = options(max_time_s / tau, true, 0, 1);
      ro.settle_tol_V = tol * spec_.device_model.v_unit_V;
      const BatchSummary out = p.relaxer->relax({p.sources, source_voltages(clamp, cols), start_voltages(p, start, cols)}, ro);
      for (size_t j = 0; j < cols.size(); ++j)
        t(cols[j]) = check_run(out.runs[j]) == Status::settled ? out.runs[j].settle_time_s
                                                                : std::numeric_limits<double>::infinity();
    }
    return t;
  }

 private:
  void check(const model::Clamp& clamp) {
    const auto& spec = spec_.net->spec();
    if (clamp.hold_visible)
      throw InputError(spec_.device_model.source, "",
                       "a chip relaxed as a netlist cannot hold its visible units (only springs and nudges tie them)");
    if (clamp.spring_g != spec.spring_lambda * spec.leak)
      throw std::invalid_argument("a chip's spring conductance is the network's spring_lambda * leak");
    const auto& now = spec_.net->params();
    for (size_t k = 0; k < now.size(); ++k)
      if (now[k] != params_[k]) {  // reprogrammed: every netlist is stale
        params_ = now, prepared_.clear();
        return;
      }
  }

  // Status of one relaxation; throws for one that failed (there is no state to read).
  static Status check_run(const RelaxSummary& r) {
    if (r.status == Status::numerical_failure || r.status == Status::backend_error)
      throw std::runtime_error("chip relaxation failed (" + r.backend + "): " + r.message);
    return r.status;
  }

  static std::map<int, std::vector<Eigen::Index>> columns_by_level(const model::Clamp& clamp, Eigen::Index B) {
    std::map<int, std::vector<Eigen::Index>> by;
    for (Eigen::Index j = 0; j < B; ++j) by[clamp.levels.empty() ? -1 : clamp.levels.at(static_cast<size_t>(j))].push_back(j);
    return by;
  }

  RelaxOptions options(double window_tau_, bool stop_when_settled, double T_K, unsigned long long seed) const {
    const double tau = circuit::tau_s(spec_.device_model);
    RelaxOptions ro;
    ro.t_stop_s = window_tau_ * tau;
    ro.stop_when_settled = stop_when_settled;
    ro.settle_tol_V = settle_tol_model * spec_.device_model.v_unit_V;
    ro.temperature_K = T_K;
    ro.seed = seed;
    ro.sample_dt_s = tau / 4;
    ro.max_trajectory_points = 0;
    return ro;
  }

  Prepared& prepared(double nudge_g, int level) {
    auto& p = prepared_[{nudge_g, level}];
    if (p.relaxer) return p;
    const auto& spec = spec_.net->spec();
    circuit::NetlistOptions no;
    no.mismatch_seed = spec_.mismatch_seed;
    no.nudge_g = nudge_g;
    if (nudge_g != 0) no.nudge_target = Eigen::VectorXd::Zero(spec_.net->size(spec.visible));
    no.condition_level = level;
    p.netlist = circuit::netlist_network(*spec_.net, spec_.device_model, no);
    p.nodes = circuit::node_names(p.netlist.circuit);
    for (const auto& module : p.netlist.map.unit_nodes) {
      p.rows.emplace_back();
      for (const auto& n : module) p.rows.back().push_back(std::lower_bound(p.nodes.begin(), p.nodes.end(), n) - p.nodes.begin());
    }
    p.sources = p.netlist.map.spring_sources;
    p.sources.insert(p.sources.end(), p.netlist.map.nudge_sources.begin(), p.netlist.map.nudge_sources.end());
    p.relaxer = backend_.batch_relaxer(p.netlist.circuit);
    return p;
  }

  // Springs' then nudges' source voltages of the listed columns.
  Eigen::MatrixXd source_voltages(const model::Clamp& clamp, const std::vector<Eigen::Index>& cols) const {
    const double v_unit = spec_.device_model.v_unit_V;
    if (clamp.nudge_g == 0) return v_unit * columns(clamp.spring_target, cols);
    Eigen::MatrixXd v(2 * clamp.spring_target.rows(), static_cast<Eigen::Index>(cols.size()));
    v << v_unit * columns(clamp.spring_target, cols), v_unit * columns(clamp.nudge_target, cols);
    return v;
  }

  // Unit nodes at s's columns, every other node at 0.
  Eigen::MatrixXd start_voltages(const Prepared& p, const model::State& s, const std::vector<Eigen::Index>& cols) const {
    Eigen::MatrixXd v = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(p.nodes.size()), static_cast<Eigen::Index>(cols.size()));
    for (size_t m = 0; m < p.rows.size(); ++m)
      for (size_t i = 0; i < p.rows[m].size(); ++i)
        v.row(p.rows[m][i]) = spec_.device_model.v_unit_V * s.u[m](static_cast<Eigen::Index>(i), cols);
    return v;
  }

  // Unit nodes of final_V (nodes x B) as the ADC reads them, in model units, stacked module by module.
  Eigen::MatrixXd reading(const Prepared& p, const Eigen::MatrixXd& final_V) const {
    Eigen::Index n = 0;
    for (const auto& m : p.rows) n += static_cast<Eigen::Index>(m.size());
    Eigen::MatrixXd r(n, final_V.cols());
    Eigen::Index k = 0;
    for (const auto& m : p.rows)
      for (const Eigen::Index row : m) r.row(k++) = final_V.row(row) / spec_.device_model.v_unit_V;
    return r.unaryExpr([this](double u) { return spec_.readout.quantise(u); });
  }

  void store(const Prepared& p, const Eigen::MatrixXd& read, const std::vector<Eigen::Index>& cols, model::State& s) const {
    Eigen::Index k = 0;
    for (size_t m = 0; m < p.rows.size(); ++m) {
      for (size_t i = 0; i < p.rows[m].size(); ++i, ++k) s.u[m](static_cast<Eigen::Index>(i), cols) = read.row(k);
      model::update_output(*spec_.net, s, static_cast<int>(m));
    }
  }

  Backend& backend_;
  ChipSpec spec_;
  model::ParamList params_;  // the parameters the prepared netlists carry
  std::map<std::pair<double, int>, Prepared> prepared_;
};

}  // namespace

std::unique_ptr<ChipRelaxer> Backend::chip_relaxer(const ChipSpec& spec) {
  return std::make_unique<NetlistChipRelaxer>(*this, spec);
}

}  // namespace eqsim::backend
