#pragma once
// The gradient checker (DESIGN.md §4): EP estimates against the exact implicit
// gradient at the converged free equilibrium, over estimator, beta and the
// relaxation budget K, averaged over repeats (independent flow batches).
#include <Eigen/Core>
#include <string>
#include <vector>

#include "learn/trainer.hpp"

namespace eqsim::learn {

struct GradcheckOptions {
  std::vector<Estimator> estimators{Estimator::symmetric, Estimator::one_sided};
  std::vector<double> betas{1e-4, 1e-3, 1e-2};
  std::vector<int> relax_steps{5, 20, 100};  // K; 0 means "relaxed to convergence"
  int batch_size = 64;
  int repeats = 3;
  unsigned long long seed = 12345;
  model::RelaxMethod method = model::RelaxMethod::block;
  double dt = 0.1;
};

struct GradcheckRow {
  Estimator estimator;
  double beta = 0;
  int relax_steps = 0;        // 0: converged
  bool free_converged = true; // free phase converged, or cut at K like the nudged phases
  double cosine = 0, cosine_std = 0;
  double rel_error = 0, rel_error_std = 0;
  int repeats = 0;
};

// Progress: (done, total).
std::vector<GradcheckRow> gradcheck(const model::Network& net, const Eigen::MatrixXd& data,
                                    const GradcheckOptions& opt, const std::function<void(int, int)>& progress = {});

// CSV with header estimator,beta,relax_steps,free_phase,temperature_K,mismatch_sigma,repeats,
// cosine,cosine_std,rel_error,rel_error_std.
std::string gradcheck_csv(const std::vector<GradcheckRow>& rows);

// Least-squares slope of log10(rel_error) against log10(beta) for one estimator, over rows
// with converged relaxation (the bias order: ~1 one-sided, ~2 symmetric).
double bias_slope(const std::vector<GradcheckRow>& rows, Estimator e);

}  // namespace eqsim::learn
