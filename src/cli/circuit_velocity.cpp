#include "cli/circuit_velocity.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "backend/backend.hpp"
#include "backend/ode/ode_backend.hpp"
#include "backend/spice/spice_backend.hpp"
#include "circuit/netlister.hpp"
#include "cli/outcome.hpp"
#include "data/error.hpp"

namespace eqsim::cli {

namespace {

// A well-mixed stream number for (seed, index) (splitmix64 finaliser).
unsigned long long sub_seed(unsigned long long seed, unsigned long long index) {
  unsigned long long z = seed + 0x9e3779b97f4a7c15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The netlister holds spring target i on node "xt_<i>" by a source to ground.
std::string spring_source_node(int i) { return "xt_" + std::to_string(i); }

}  // namespace

// One backend's way of relaxing every sample: keeps the warm state (one column
// per sample) between calls and resets it when the number of samples changes.
class CircuitVelocity::Loop {
 public:
  explicit Loop(std::vector<std::string> visible_nodes) : visible_nodes_(std::move(visible_nodes)) {}
  virtual ~Loop() = default;
  // Relaxes c from now on; the warm state carries over when c has the same nodes.
  virtual void set_circuit(circuit::Circuit c) = 0;
  // One relaxation per column of spring source voltages targets_V (n_visible x B);
  // each summary's final_V is in this loop's node order.
  virtual std::vector<backend::RelaxSummary> relax(const Eigen::MatrixXd& targets_V, const backend::RelaxOptions& opt,
                                                   const std::function<void(long)>& on_relaxed) = 0;
  // Index into final_V of each visible unit's node.
  const std::vector<Eigen::Index>& visible() const { return visible_; }

 protected:
  std::vector<std::string> visible_nodes_;
  std::vector<Eigen::Index> visible_;
  Eigen::MatrixXd warm_;  // per column: the state the next relaxation starts from
};

namespace {

// Index of name in names; throws std::logic_error when the circuit lacks it (a netlister bug).
Eigen::Index index_of(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) throw std::logic_error("circuit in the loop: the circuit has no node " + name);
  return it - names.begin();
}

// All samples as one batch on the ode backend: warm_ holds the free node voltages.
class OdeLoop : public CircuitVelocity::Loop {
 public:
  using Loop::Loop;

  void set_circuit(circuit::Circuit c) override {
    c_ = std::move(c);
    auto sys = std::make_unique<backend::ode::OdeSystem>(c_);
    if (sys_ && sys->node_names() != sys_->node_names()) warm_.resize(0, 0);
    sys_ = std::move(sys);
    const auto& names = sys_->node_names();
    visible_.clear();
    source_rows_.clear();
    for (size_t i = 0; i < visible_nodes_.size(); ++i) {
      visible_.push_back(index_of(names, visible_nodes_[i]));
      source_rows_.push_back(index_of(names, spring_source_node(static_cast<int>(i))) - sys_->state_count());
    }
  }

  std::vector<backend::RelaxSummary> relax(const Eigen::MatrixXd& targets_V, const backend::RelaxOptions& opt,
                                           const std::function<void(long)>& on_relaxed) override {
    const Eigen::Index B = targets_V.cols();
    Eigen::MatrixXd vf = sys_->fixed_voltages().replicate(1, B);
    for (size_t i = 0; i < source_rows_.size(); ++i) vf.row(source_rows_[i]) = targets_V.row(static_cast<Eigen::Index>(i));
    if (warm_.cols() != B) {
      warm_ = sys_->initial_state().replicate(1, B);
      for (size_t i = 0; i < visible_.size(); ++i) warm_.row(visible_[i]) = targets_V.row(static_cast<Eigen::Index>(i));
    }
    auto out = backend::ode::relax_batch(*sys_, c_, warm_, vf, opt);
    for (Eigen::Index j = 0; j < B; ++j) warm_.col(j) = out[j].final_V.head(sys_->state_count());
    if (on_relaxed) on_relaxed(B);
    return out;
  }

 private:
  circuit::Circuit c_;
  std::unique_ptr<backend::ode::OdeSystem> sys_;
  std::vector<Eigen::Index> source_rows_;  // rows of the spring sources among the held voltages
};

// One ngspice run per sample: the spring sources' values and the node capacitors'
// IC= are rewritten in place before each run; warm_ holds every node voltage.
class SpiceLoop : public CircuitVelocity::Loop {
 public:
  using Loop::Loop;

  void set_circuit(circuit::Circuit c) override {
    c_ = std::move(c);
    auto nodes = circuit::node_names(c_);
    if (nodes != nodes_) warm_.resize(0, 0);
    nodes_ = std::move(nodes);
    cap_.assign(nodes_.size(), -1);
    visible_.clear();
    sources_.clear();
    for (const auto& n : visible_nodes_) visible_.push_back(index_of(nodes_, n));
    for (size_t k = 0; k < c_.elements.size(); ++k) {
      const auto& e = c_.elements[k];
      if (e.kind == circuit::ElementKind::capacitor && circuit::is_ground(e.n_minus) && e.ic_V)
        cap_[index_of(nodes_, e.n_plus)] = static_cast<long>(k);
      if (e.kind == circuit::ElementKind::vsource && e.n_plus.rfind("xt_", 0) == 0)
        sources_.emplace_back(std::stoi(e.n_plus.substr(3)), k);
    }
  }

  std::vector<backend::RelaxSummary> relax(const Eigen::MatrixXd& targets_V, const backend::RelaxOptions& opt,
                                           const std::function<void(long)>& on_relaxed) override {
    const Eigen::Index B = targets_V.cols();
    if (warm_.cols() != B) reset_warm(targets_V);
    std::vector<backend::RelaxSummary> out;
    for (Eigen::Index j = 0; j < B; ++j) {
      prepare(targets_V.col(j), warm_.col(j));
      backend::RelaxOptions o = opt;
      o.seed = sub_seed(opt.seed, static_cast<unsigned long long>(j));
      out.push_back(spice_.relax(c_, o));
      if (out.back().final_V.size() == warm_.rows()) warm_.col(j) = out.back().final_V;
      if (on_relaxed) on_relaxed(1);
    }
    return out;
  }

 private:
  void reset_warm(const Eigen::MatrixXd& targets_V) {
    warm_ = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(nodes_.size()), targets_V.cols());
    for (size_t k = 0; k < nodes_.size(); ++k)
      if (cap_[k] >= 0) warm_.row(static_cast<Eigen::Index>(k)).setConstant(*c_.elements[cap_[k]].ic_V);
    for (size_t i = 0; i < visible_.size(); ++i) warm_.row(visible_[i]) = targets_V.row(static_cast<Eigen::Index>(i));
  }

  void prepare(const Eigen::VectorXd& target_V, const Eigen::VectorXd& start_V) {
    for (const auto& [i, k] : sources_) c_.elements[k].value = target_V(i);
    for (size_t k = 0; k < nodes_.size(); ++k)
      if (cap_[k] >= 0) c_.elements[cap_[k]].ic_V = start_V(static_cast<Eigen::Index>(k));
  }

  circuit::Circuit c_;
  std::vector<std::string> nodes_;             // the spice backend's node order
  std::vector<long> cap_;                      // per node: its grounded capacitor element, or -1
  std::vector<std::pair<int, size_t>> sources_;  // (visible unit, spring source element)
  backend::spice::SpiceBackend spice_;
};

std::vector<std::string> visible_nodes(const model::Network& net) {
  std::vector<std::string> out;
  for (int i = 0; i < net.size(net.spec().visible); ++i) out.push_back(circuit::unit_node(net, net.spec().visible, i));
  return out;
}

bool has_bias_tables(const model::Network& net) {
  for (int m = 0; m < net.module_count(); ++m)
    if (net.table_index(m) >= 0) return true;
  return false;
}

}  // namespace

CircuitVelocity::CircuitVelocity(const model::Network& net, CircuitVelocityOptions opt) : net_(net), opt_(std::move(opt)) {
  if (opt_.backend != "ode" && opt_.backend != "spice")
    throw InputError("command line", "--backend", "unknown circuit backend '" + opt_.backend + "' (ode, spice)");
  level_ = has_bias_tables(net) ? 0 : -1;
  circuit::Circuit c = build(level_);
  const double tau = circuit::tau_s(opt_.device_model);
  relax_time_s_ = opt_.relax_time_s > 0 ? opt_.relax_time_s : default_relax_tau * tau;
  settle_tol_V_ = opt_.settle_tol_V > 0 ? opt_.settle_tol_V : 1e-4 * opt_.device_model.v_unit_V;
  element_count_ = static_cast<long>(c.elements.size());
  if (opt_.backend == "ode") loop_ = std::make_unique<OdeLoop>(visible_nodes(net));
  else loop_ = std::make_unique<SpiceLoop>(visible_nodes(net));
  loop_->set_circuit(std::move(c));
}

CircuitVelocity::~CircuitVelocity() = default;

circuit::Circuit CircuitVelocity::build(int level) const {
  circuit::NetlistOptions nopt;
  nopt.mismatch_seed = opt_.mismatch_seed;
  nopt.condition_level = level;
  return circuit::build_circuit(net_, opt_.device_model, nopt);
}

Eigen::MatrixXd CircuitVelocity::operator()(const Eigen::MatrixXd& x, int level) {
  if (level != level_) {
    loop_->set_circuit(build(level));
    level_ = level;
  }
  const double v_unit = opt_.device_model.v_unit_V;
  backend::RelaxOptions ropt;
  ropt.t_stop_s = relax_time_s_;
  ropt.settle_tol_V = settle_tol_V_;
  ropt.temperature_K = opt_.temperature_K;
  ropt.seed = sub_seed(opt_.noise_seed, static_cast<unsigned long long>(calls_++));
  ropt.sample_dt_s = circuit::tau_s(opt_.device_model) / 4;
  ropt.max_trajectory_points = 0;
  const auto out = loop_->relax(v_unit * x, ropt, [this](long n) {
    relaxed_ += n;
    if (opt_.on_relaxed) opt_.on_relaxed(relaxed_, stats_);
  });
  record(out);
  Eigen::MatrixXd x_star(x.rows(), x.cols());
  for (Eigen::Index j = 0; j < x.cols(); ++j)
    for (Eigen::Index i = 0; i < x.rows(); ++i) x_star(i, j) = out[j].final_V(loop_->visible()[i]) / v_unit;
  return net_.spec().alpha * net_.spec().spring_lambda * (x_star - x);
}

void CircuitVelocity::record(const std::vector<backend::RelaxSummary>& out) {
  long not_settled = 0;
  double slowest_s = 0;
  for (size_t j = 0; j < out.size(); ++j) {
    const auto& s = out[j];
    if (backend_version_.empty()) backend_version_ = s.backend;
    if (s.status != backend::Status::settled && s.status != backend::Status::not_settled)
      throw SimulationOutcome(fmt::format("circuit in the loop ({}): sample {} at Euler step {}: {}: {}", opt_.backend, j,
                                          calls_ - 1, backend::to_string(s.status), s.message));
    ++stats_.relaxations;
    const bool late = !s.noisy && s.status == backend::Status::settled && s.settle_time_s > late_settle_fraction * relax_time_s_;
    stats_.settled_late += late;
    if (s.status == backend::Status::not_settled || late) {
      ++not_settled;
      continue;
    }
    ++stats_.settled;
    stats_.settle_time_sum_s += s.settle_time_s;
    slowest_s = std::max(slowest_s, s.settle_time_s);
  }
  stats_.not_settled += not_settled;
  stats_.settle_time_max_s = std::max(stats_.settle_time_max_s, slowest_s);
  stats_.not_settled_per_step.push_back(not_settled);
  stats_.settle_time_max_per_step_s.push_back(slowest_s);
}

learn::VelocityField CircuitVelocity::field() {
  return [this](const Eigen::MatrixXd& x, double) { return (*this)(x); };
}

learn::LevelVelocity CircuitVelocity::level_field() {
  return [this](const Eigen::MatrixXd& x, int level) { return (*this)(x, level); };
}

}  // namespace eqsim::cli
