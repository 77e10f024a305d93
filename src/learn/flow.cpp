#include "learn/flow.hpp"

#include <cmath>
#include <stdexcept>

namespace eqsim::learn {

std::string to_string(Estimator e) {
  switch (e) {
    case Estimator::symmetric: return "symmetric";
    case Estimator::one_sided: return "one_sided";
    case Estimator::exact: return "exact";
  }
  return "?";
}

Estimator estimator_from_string(const std::string& s) {
  if (s == "symmetric") return Estimator::symmetric;
  if (s == "one_sided") return Estimator::one_sided;
  if (s == "exact") return Estimator::exact;
  throw std::invalid_argument("unknown estimator '" + s + "' (symmetric, one_sided, exact)");
}

model::Clamp free_clamp(const model::Network& net, const Eigen::MatrixXd& x_t, const std::vector<int>& levels) {
  model::Clamp c;
  c.spring_target = x_t;
  c.levels = levels;
  c.spring_g = net.spec().spring_lambda * net.spec().leak;
  return c;
}

model::Clamp nudged_clamp(const model::Network& net, const FlowBatch& b, double beta) {
  const double al = net.spec().alpha * net.spec().spring_lambda;
  model::Clamp c = free_clamp(net, b.x_t, b.levels);
  c.nudge_g = beta * al * al * net.spec().leak;
  c.nudge_target = b.x_t + b.u_t / al;
  return c;
}

double max_stable_beta(const model::NetworkSpec& spec) {
  const double al = spec.alpha * spec.spring_lambda;
  return (1.0 + spec.spring_lambda) / (al * al);
}

Eigen::MatrixXd spring_velocity(const model::Network& net, const model::State& s, const Eigen::MatrixXd& x_t) {
  return net.spec().alpha * net.spec().spring_lambda * (s.u[net.spec().visible] - x_t);
}

Eigen::RowVectorXd flow_loss(const Eigen::MatrixXd& v, const Eigen::MatrixXd& u_t) {
  return 0.5 * (v - u_t).colwise().squaredNorm();
}

GradientResult flow_gradient(const model::Network& net, const FlowBatch& b, const GradientOptions& opt,
                             const model::State* start) {
  GradientResult r;
  const auto free = free_clamp(net, b.x_t, b.levels);
  r.free_state = start ? *start : model::initial_state(net, b.x_t);
  model::RelaxOptions free_relax = opt.free_relax;
  free_relax.noise_seed = b.noise_seed;
  r.free_summary = model::relax_with(opt.relaxer, net, free, r.free_state, free_relax);
  const Eigen::MatrixXd v = spring_velocity(net, r.free_state, b.x_t);
  r.loss = flow_loss(v, b.u_t).mean();

  if (opt.estimator == Estimator::exact) {
    const double al = net.spec().alpha * net.spec().spring_lambda;
    std::vector<Eigen::MatrixXd> g(net.module_count()), lambda;
    for (int m = 0; m < net.module_count(); ++m) g[m] = Eigen::MatrixXd::Zero(net.size(m), b.x_t.cols());
    g[net.spec().visible] = al * (v - b.u_t);  // dL/dx per sample
    model::solve_adjoint(net, free, r.free_state, g, lambda, opt.adjoint);
    r.grad = model::implicit_param_grad(net, free, r.free_state, lambda);
    return r;
  }
  auto nudged_state = [&](double beta) {
    model::State s = r.free_state;
    model::RelaxOptions ro = opt.nudged_relax;
    ro.noise_seed = b.noise_seed + (beta > 0 ? 1 : 2);
    model::relax_with(opt.relaxer, net, nudged_clamp(net, b, beta), s, ro);
    return s;
  };
  // The estimators' differences of local products are formed from state differences
  // (model::energy_param_grad_difference), accurate in float32 relaxations too.
  const double beta = opt.beta;
  const model::State plus = nudged_state(beta);
  if (opt.estimator == Estimator::symmetric) {
    r.grad = model::energy_param_grad_difference(net, free, plus, nudged_state(-beta));
    for (auto& p : r.grad) p /= 2 * beta;
  } else {
    r.grad = model::energy_param_grad_difference(net, free, plus, r.free_state);
    for (auto& p : r.grad) p /= beta;
  }
  return r;
}

double flow_batch_loss(const model::Network& net, const FlowBatch& b, const model::RelaxOptions& relax) {
  model::State s = model::initial_state(net, b.x_t);
  model::relax(net, free_clamp(net, b.x_t, b.levels), s, relax);
  return flow_loss(spring_velocity(net, s, b.x_t), b.u_t).mean();
}

}  // namespace eqsim::learn
