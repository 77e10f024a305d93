#pragma once
// A fixed-step Euler-Maruyama stepper for dX = f(X) dt + G dW (odeint has no
// stochastic stepper): X <- X + dt f(X) + sqrt(dt) G xi, xi ~ N(0, 1). Its own
// seeded stream, batched over columns.
#include <Eigen/Core>
#include <cmath>
#include <random>

namespace eqsim::backend::ode {

class EulerMaruyama {
 public:
  EulerMaruyama(double dt_s, unsigned long long seed) : dt_(dt_s), sqrt_dt_(std::sqrt(dt_s)), rng_(seed) {}

  double dt_s() const { return dt_; }

  // One step. drift(x, f) writes f(x) into f (same shape as x);
  // diffusion(xi) returns G xi (same shape as x) for xi of noise_dims x x.cols().
  template <class Drift, class Diffusion>
  void step(Eigen::MatrixXd& x, const Drift& drift, const Diffusion& diffusion, Eigen::Index noise_dims) {
    f_.resize(x.rows(), x.cols());
    drift(x, f_);
    xi_.resize(noise_dims, x.cols());
    for (Eigen::Index i = 0; i < xi_.size(); ++i) xi_.data()[i] = normal_(rng_);
    x += dt_ * f_ + sqrt_dt_ * diffusion(xi_);
  }

 private:
  double dt_, sqrt_dt_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_;
  Eigen::MatrixXd f_, xi_;
};

}  // namespace eqsim::backend::ode
