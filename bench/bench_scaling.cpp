// Relaxation cost per step against module width n, for a dense coupling and a
// rank-r bilinear coupling between two n-unit modules (issue: dense ~ n^2,
// bilinear ~ n at fixed r). Prints a table and the least-squares exponents.
// Usage: bench_scaling [rank=16] [batch=64]
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "learn/flow.hpp"
#include "model/relax.hpp"

using namespace eqsim;

namespace {

double seconds_per_step(model::CouplingKind kind, int n, int rank, int batch) {
  model::NetworkSpec spec;
  spec.modules = {{"x", n, model::Activation::identity, 0}, {"h", n, model::Activation::tanh, 0}};
  spec.couplings = {{"x_h", 0, 1, kind, rank}};
  model::Network net(spec);
  net.init_xavier(0.5, 1);
  const Eigen::MatrixXd x_t = Eigen::MatrixXd::Random(n, batch);
  const auto clamp = learn::free_clamp(net, x_t);
  model::State s = model::initial_state(net, x_t);
  const model::RelaxOptions one{model::RelaxMethod::euler, 1, 0.1, 0};
  std::vector<double> t;
  int steps = 1;
  for (int rep = 0; rep < 7; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < steps; ++k) model::relax(net, clamp, s, one);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (dt < 0.02 && rep == 0) {  // too short to time: repeat more steps
      steps = std::max(2, static_cast<int>(0.05 / std::max(dt, 1e-7)));
      --rep;
      continue;
    }
    t.push_back(dt / steps);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double slope(const std::vector<double>& x, const std::vector<double>& y) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double m = static_cast<double>(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double lx = std::log(x[i]), ly = std::log(y[i]);
    sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
  }
  return (m * sxy - sx * sy) / (m * sxx - sx * sx);
}

}  // namespace

int main(int argc, char** argv) {
  const int rank = argc > 1 ? std::atoi(argv[1]) : 16;
  const int batch = argc > 2 ? std::atoi(argv[2]) : 64;
  std::printf("eqsim bench_scaling: one Euler relaxation step, batch %d, bilinear rank %d (median of 7)\n", batch, rank);
  std::printf("%6s %14s %14s %8s\n", "n", "dense_s", "bilinear_s", "ratio");
  std::vector<double> ns, dense, bilinear;
  for (int n = 64; n <= 4096; n *= 2) {
    ns.push_back(n);
    dense.push_back(seconds_per_step(model::CouplingKind::dense, n, rank, batch));
    bilinear.push_back(seconds_per_step(model::CouplingKind::bilinear, n, rank, batch));
    std::printf("%6d %14.3e %14.3e %8.1f\n", n, dense.back(), bilinear.back(), dense.back() / bilinear.back());
  }
  // Fit over the upper half, where the coupling products dominate fixed per-step costs.
  const size_t h = ns.size() / 2;
  const std::vector<double> n_hi(ns.begin() + h, ns.end()), d_hi(dense.begin() + h, dense.end()),
      b_hi(bilinear.begin() + h, bilinear.end());
  std::printf("fitted exponent (n >= %.0f): dense %.2f, bilinear %.2f (expected ~2 and ~1)\n", n_hi.front(),
              slope(n_hi, d_hi), slope(n_hi, b_hi));
  std::printf("fitted exponent (all n):     dense %.2f, bilinear %.2f\n", slope(ns, dense), slope(ns, bilinear));
  return 0;
}
