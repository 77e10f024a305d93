#include "learn/mlp.hpp"

#include <cmath>
#include <random>

namespace eqsim::learn {

const char* const Mlp::kNames[6] = {"W1", "b1", "W2", "b2", "W3", "b3"};

Mlp::Mlp(int dim, int hidden) {
  p_ = {Eigen::MatrixXd::Zero(hidden, dim + 1), Eigen::MatrixXd::Zero(hidden, 1),
        Eigen::MatrixXd::Zero(hidden, hidden),  Eigen::MatrixXd::Zero(hidden, 1),
        Eigen::MatrixXd::Zero(dim, hidden),     Eigen::MatrixXd::Zero(dim, 1)};
}

void Mlp::init_xavier(double gain, unsigned long long seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int i = 0; i < 6; i += 2) {
    auto& w = p_[i];
    const double sd = gain * std::sqrt(2.0 / static_cast<double>(w.rows() + w.cols()));
    for (Eigen::Index k = 0; k < w.size(); ++k) w.data()[k] = sd * normal(rng);
    p_[i + 1].setZero();
  }
}

long Mlp::parameter_count() const {
  long n = 0;
  for (const auto& p : p_) n += p.size();
  return n;
}

namespace {

struct Forward {
  Eigen::MatrixXd in, h1, h2, out;
};

Forward forward(const model::ParamList& p, const Eigen::MatrixXd& x, const Eigen::RowVectorXd& t) {
  Forward f;
  f.in.resize(x.rows() + 1, x.cols());
  f.in.topRows(x.rows()) = x;
  f.in.bottomRows(1) = t;
  f.h1 = ((p[0] * f.in).colwise() + p[1].col(0)).array().tanh();
  f.h2 = ((p[2] * f.h1).colwise() + p[3].col(0)).array().tanh();
  f.out = (p[4] * f.h2).colwise() + p[5].col(0);
  return f;
}

}  // namespace

Eigen::MatrixXd Mlp::velocity(const Eigen::MatrixXd& x, double t) const {
  return forward(p_, x, Eigen::RowVectorXd::Constant(x.cols(), t)).out;
}

double Mlp::loss_and_grad(const Eigen::MatrixXd& x, const Eigen::RowVectorXd& t, const Eigen::MatrixXd& u_t,
                          model::ParamList& grad) const {
  const Forward f = forward(p_, x, t);
  const double inv_b = 1.0 / static_cast<double>(x.cols());
  const Eigen::MatrixXd d_out = (f.out - u_t) * inv_b;
  const Eigen::MatrixXd d_h2 = ((p_[4].transpose() * d_out).array() * (1.0 - f.h2.array().square())).matrix();
  const Eigen::MatrixXd d_h1 = ((p_[2].transpose() * d_h2).array() * (1.0 - f.h1.array().square())).matrix();
  grad = {d_h1 * f.in.transpose(), d_h1.rowwise().sum(), d_h2 * f.h1.transpose(),
          d_h2.rowwise().sum(),    d_out * f.h2.transpose(), d_out.rowwise().sum()};
  return 0.5 * (f.out - u_t).colwise().squaredNorm().mean();
}

StepRecord MlpLearner::learn(const FlowBatch& batch) {
  model::ParamList grad;
  StepRecord rec;
  rec.loss = mlp_.loss_and_grad(batch.x_t, batch.t, batch.u_t, grad);
  rec.grad_norm = adam_update(adam_opt_, adam_, grad, mlp_.params());
  return rec;
}

}  // namespace eqsim::learn
