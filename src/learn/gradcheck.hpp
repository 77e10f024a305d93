#pragma once
// The gradient checker (DESIGN.md §4): EP estimates against the exact implicit
// gradient at the converged free equilibrium (temperature 0), over estimator, beta,
// relaxation budget K (free phase converged, or cut at K like the nudged phases) and
// Langevin temperature, averaged over repeats (independent batches).
#include <Eigen/Core>
#include <functional>
#include <string>
#include <vector>

#include "learn/trainer.hpp"

namespace eqsim::learn {

struct GradcheckOptions {
  std::vector<Estimator> estimators{Estimator::symmetric, Estimator::one_sided};
  std::vector<double> betas{1e-4, 1e-3, 1e-2};
  std::vector<int> relax_steps{5, 20, 100};  // K; 0 means "relaxed to convergence" (temperature 0 only)
  std::vector<double> temperatures{0.0};     // model energy units
  double kelvin_per_unit = 0;                // for the temperature_K column (0: unknown scale)
  int repeats = 3;
  model::RelaxOptions budget;                // method and dt of the K-step phases
};

struct GradcheckRow {
  Estimator estimator;
  double beta = 0;
  int relax_steps = 0;         // 0: converged
  bool free_converged = true;  // free phase converged, or cut at K like the nudged phases
  double temperature = 0, temperature_K = 0;
  double cosine = 0, cosine_std = 0;
  double rel_error = 0, rel_error_std = 0;
  double rel_error_uv = 0, rel_error_rest = 0;  // bilinear U, V parameters vs all others (NaN if none)
  int repeats = 0;
};

std::vector<GradcheckRow> gradcheck(const model::Network& net, const BatchSource& batches, const GradcheckOptions& opt,
                                    const std::function<void(int, int)>& progress = {});

// CSV with header estimator,beta,relax_steps,free_phase,temperature,temperature_K,mismatch_sigma,repeats,
// cosine,cosine_std,rel_error,rel_error_std,rel_error_uv,rel_error_rest.
std::string gradcheck_csv(const std::vector<GradcheckRow>& rows);

// Least-squares slope of log10(error) against log10(beta) for one estimator, over rows
// with converged relaxation at temperature 0 and beta <= beta_max (the asymptotic regime;
// the bias order: ~1 one-sided, ~2 symmetric). part: "all", "uv" or "rest".
double bias_slope(const std::vector<GradcheckRow>& rows, Estimator e, const std::string& part = "all",
                  double beta_max = 0.1);

}  // namespace eqsim::learn
