#pragma once
// The backprop baseline: an MLP velocity field v(x, t) = W3 tanh(W2 tanh(W1 [x; t] + b1) + b2) + b3
// trained on the same conditional flow-matching loss by ordinary backpropagation.
// With hidden = 105 it has 24,844 parameters, within 0.3 % of FlowEqProp's 24,896.
#include <Eigen/Core>

#include "learn/trainer.hpp"

namespace eqsim::learn {

class Mlp {
 public:
  Mlp(int dim, int hidden);
  void init_xavier(double gain, unsigned long long seed);
  long parameter_count() const;
  // Velocity at points x (dim x B), all at time t.
  Eigen::MatrixXd velocity(const Eigen::MatrixXd& x, double t) const;
  // Mean loss 1/2|v - u_t|^2 and its gradient, at per-sample times t.
  double loss_and_grad(const Eigen::MatrixXd& x, const Eigen::RowVectorXd& t, const Eigen::MatrixXd& u_t,
                       model::ParamList& grad) const;
  model::ParamList& params() { return p_; }
  const model::ParamList& params() const { return p_; }
  static const char* const kNames[6];

 private:
  model::ParamList p_;  // W1, b1, W2, b2, W3, b3
};

class MlpLearner : public Learner {
 public:
  MlpLearner(Mlp& mlp, AdamOptions adam) : mlp_(mlp), adam_opt_(adam) {}
  StepRecord learn(const FlowBatch& batch) override;
  AdamState& adam() override { return adam_; }
  model::ParamList& params() override { return mlp_.params(); }

 private:
  Mlp& mlp_;
  AdamOptions adam_opt_;
  AdamState adam_;
};

}  // namespace eqsim::learn
