#include "study/circuit_velocity.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "backend/registry.hpp"
#include "circuit/netlister.hpp"
#include "study/outcome.hpp"
#include "data/error.hpp"

namespace eqsim::study {

namespace {

bool has_bias_tables(const model::Network& net) {
  for (int m = 0; m < net.module_count(); ++m)
    if (net.table_index(m) >= 0) return true;
  return false;
}

}  // namespace

CircuitVelocity::CircuitVelocity(const model::Network& net, CircuitVelocityOptions opt)
    : net_(net), opt_(std::move(opt)), backend_(backend::make_backend(opt_.backend)) {
  level_ = has_bias_tables(net) ? 0 : -1;
  const double tau = circuit::tau_s(opt_.device_model);
  relax_time_s_ = opt_.relax_time_s > 0 ? opt_.relax_time_s : default_relax_tau * tau;
  settle_tol_V_ = opt_.settle_tol_V > 0 ? opt_.settle_tol_V : 1e-4 * opt_.device_model.v_unit_V;
  set_circuit(level_);
}

CircuitVelocity::~CircuitVelocity() = default;

void CircuitVelocity::set_circuit(int level) {
  circuit::NetlistOptions nopt;
  nopt.mismatch_seed = opt_.mismatch_seed;
  nopt.condition_level = level;
  const circuit::Netlist nl = circuit::netlist_network(net_, opt_.device_model, nopt);
  element_count_ = static_cast<long>(nl.circuit.elements.size());
  const auto nodes = circuit::node_names(nl.circuit);
  if (nodes != nodes_) warm_V_.resize(0, 0);  // another circuit: start afresh
  nodes_ = nodes;
  spring_sources_ = nl.map.spring_sources;
  visible_rows_.clear();
  for (const auto& n : nl.map.unit_nodes[net_.spec().visible])
    visible_rows_.push_back(std::lower_bound(nodes_.begin(), nodes_.end(), n) - nodes_.begin());
  relaxer_ = backend_->batch_relaxer(nl.circuit);
  level_ = level;
}

Eigen::MatrixXd CircuitVelocity::operator()(const Eigen::MatrixXd& x, int level) {
  if (level != level_) set_circuit(level);
  const double v_unit = opt_.device_model.v_unit_V;
  backend::RelaxOptions ropt;
  ropt.t_stop_s = relax_time_s_;
  ropt.settle_tol_V = settle_tol_V_;
  ropt.temperature_K = opt_.temperature_K;
  ropt.seed = backend::sub_seed(opt_.noise_seed, static_cast<unsigned long long>(calls_++));
  ropt.sample_dt_s = circuit::tau_s(opt_.device_model) / 4;
  ropt.max_trajectory_points = 0;
  backend::BatchRequest req{spring_sources_, v_unit * x, warm_V_};
  if (warm_V_.cols() != x.cols()) {  // from x, every other node at 0 (the netlister's initial conditions)
    req.start_V = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(nodes_.size()), x.cols());
    for (size_t i = 0; i < visible_rows_.size(); ++i) req.start_V.row(visible_rows_[i]) = req.source_V.row(i);
  }
  const auto out = relaxer_->relax(req, ropt, [this](long n) {
    relaxed_ += n;
    if (opt_.on_relaxed) opt_.on_relaxed(relaxed_, stats_);
  });
  record(out.runs);
  warm_V_ = out.final_V;
  Eigen::MatrixXd x_star(x.rows(), x.cols());
  for (Eigen::Index i = 0; i < x.rows(); ++i) x_star.row(i) = out.final_V.row(visible_rows_[i]) / v_unit;
  return net_.spec().alpha * net_.spec().spring_lambda * (x_star - x);
}

void CircuitVelocity::record(const std::vector<backend::RelaxSummary>& out) {
  long not_settled = 0;
  double slowest_s = 0;
  for (size_t j = 0; j < out.size(); ++j) {
    const auto& s = out[j];
    if (backend_version_.empty()) backend_version_ = s.backend;
    if (!s.lost_attempt.empty() && stats_.backend_errors++ == 0) stats_.first_backend_error = s.lost_attempt;
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

}  // namespace eqsim::study
