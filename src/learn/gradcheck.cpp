#include "learn/gradcheck.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace eqsim::learn {
namespace {

struct Stats {
  double sum = 0, sum2 = 0;
  int n = 0;
  void add(double x) { sum += x, sum2 += x * x, ++n; }
  double mean() const { return n ? sum / n : 0; }
  double std() const { return n > 1 ? std::sqrt(std::max(0.0, (sum2 - sum * sum / n) / (n - 1))) : 0; }
};

struct Key {
  Estimator e;
  double beta;
  int k;
  bool free_conv;
  double temperature;
};

// |a - b| / |b| over the parameters whose names do (uv) or do not (!uv) start with U_ / V_.
double part_error(const model::Network& net, const model::ParamList& a, const model::ParamList& b, bool uv) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& n = net.param_names()[i];
    if ((n.rfind("U_", 0) == 0 || n.rfind("V_", 0) == 0) != uv) continue;
    num += (a[i] - b[i]).squaredNorm();
    den += b[i].squaredNorm();
  }
  return den > 0 ? std::sqrt(num / den) : std::nan("");
}

std::vector<Key> grid(const GradcheckOptions& opt) {
  std::vector<Key> keys;
  for (double T : opt.temperatures)
    for (auto e : opt.estimators)
      for (double beta : opt.betas)
        for (int k : opt.relax_steps)
          for (bool fc : {true, false})
            if (!(k == 0 && (!fc || T > 0))) keys.push_back({e, beta, k, fc, T});
  return keys;
}

}  // namespace

std::vector<GradcheckRow> gradcheck(const model::Network& net, const BatchSource& batches, const GradcheckOptions& opt,
                                    const std::function<void(int, int)>& progress) {
  const std::vector<Key> keys = grid(opt);
  const model::RelaxOptions converged = model::converged_options(net, opt.budget.dt);
  std::vector<Stats> cos(keys.size()), err(keys.size()), err_uv(keys.size()), err_rest(keys.size());
  const int total = opt.repeats * static_cast<int>(keys.size());
  int done = 0;
  for (int rep = 0; rep < opt.repeats; ++rep) {
    const FlowBatch batch = batches(rep + 1);
    GradientOptions exact_opt;
    exact_opt.estimator = Estimator::exact;
    exact_opt.free_relax = converged;
    exact_opt.adjoint.rel_tol = 1e-12;
    const GradientResult exact = flow_gradient(net, batch, exact_opt);
    if (!exact.free_summary.converged) throw std::runtime_error("gradcheck: the reference free phase did not converge");
    const double exact_norm = model::norm(exact.grad);
    for (size_t i = 0; i < keys.size(); ++i) {
      const Key& key = keys[i];
      GradientOptions g;
      g.estimator = key.e;
      g.beta = key.beta;
      model::RelaxOptions budget = opt.budget;
      budget.max_steps = key.k;
      budget.tol = 0;
      budget.temperature = key.temperature;
      g.nudged_relax = key.k == 0 ? converged : budget;
      g.free_relax = key.free_conv ? converged : budget;
      const model::ParamList est = flow_gradient(net, batch, g, key.free_conv ? &exact.free_state : nullptr).grad;
      cos[i].add(model::cosine(est, exact.grad));
      model::ParamList diff = est;
      model::axpy(-1.0, exact.grad, diff);
      err[i].add(model::norm(diff) / exact_norm);
      err_uv[i].add(part_error(net, est, exact.grad, true));
      err_rest[i].add(part_error(net, est, exact.grad, false));
      if (progress) progress(++done, total);
    }
  }
  std::vector<GradcheckRow> rows;
  for (size_t i = 0; i < keys.size(); ++i)
    rows.push_back({keys[i].e, keys[i].beta, keys[i].k, keys[i].free_conv, keys[i].temperature,
                    keys[i].temperature * opt.kelvin_per_unit, cos[i].mean(), cos[i].std(), err[i].mean(), err[i].std(),
                    err_uv[i].mean(), err_rest[i].mean(), cos[i].n});
  return rows;
}

std::string gradcheck_csv(const std::vector<GradcheckRow>& rows) {
  std::ostringstream out;
  out.precision(8);
  out << "estimator,beta,relax_steps,free_phase,temperature,temperature_K,mismatch_sigma,repeats,cosine,cosine_std,"
         "rel_error,rel_error_std,rel_error_uv,rel_error_rest\n";
  for (const auto& r : rows)
    out << to_string(r.estimator) << ',' << r.beta << ','
        << (r.relax_steps == 0 ? std::string("converged") : std::to_string(r.relax_steps)) << ','
        << (r.free_converged ? "converged" : "cut") << ',' << r.temperature << ',' << r.temperature_K << ",0,"
        << r.repeats << ',' << r.cosine << ',' << r.cosine_std << ',' << r.rel_error << ',' << r.rel_error_std << ','
        << r.rel_error_uv << ',' << r.rel_error_rest << '\n';
  return out.str();
}

double bias_slope(const std::vector<GradcheckRow>& rows, Estimator e, const std::string& part, double beta_max) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int n = 0;
  for (const auto& r : rows) {
    const double err = part == "uv" ? r.rel_error_uv : part == "rest" ? r.rel_error_rest : r.rel_error;
    if (r.estimator != e || r.relax_steps != 0 || r.temperature != 0 || r.beta > beta_max || !(err > 0)) continue;
    const double x = std::log10(r.beta), y = std::log10(err);
    sx += x, sy += y, sxx += x * x, sxy += x * y, ++n;
  }
  return n >= 2 ? (n * sxy - sx * sy) / (n * sxx - sx * sx) : std::nan("");
}

}  // namespace eqsim::learn
