#include "learn/gradcheck.hpp"

#include <cmath>
#include <sstream>

namespace eqsim::learn {
namespace {

const model::RelaxOptions kConverged{model::RelaxMethod::block, 20000, 0.1, 1e-12};

struct Stats {
  double sum = 0, sum2 = 0;
  int n = 0;
  void add(double x) { sum += x, sum2 += x * x, ++n; }
  double mean() const { return n ? sum / n : 0; }
  double std() const { return n > 1 ? std::sqrt(std::max(0.0, (sum2 - sum * sum / n) / (n - 1))) : 0; }
};

}  // namespace

std::vector<GradcheckRow> gradcheck(const model::Network& net, const Eigen::MatrixXd& data,
                                    const GradcheckOptions& opt, const std::function<void(int, int)>& progress) {
  struct Key {
    Estimator e;
    double beta;
    int k;
    bool free_conv;
  };
  std::vector<Key> keys;
  for (auto e : opt.estimators)
    for (double beta : opt.betas)
      for (int k : opt.relax_steps)
        for (bool fc : {true, false})
          if (!(k == 0 && !fc)) keys.push_back({e, beta, k, fc});
  std::vector<Stats> cos(keys.size()), err(keys.size());
  TrainOptions batch_opt;
  batch_opt.batch_size = opt.batch_size;
  batch_opt.seed = opt.seed;
  batch_opt.pairing = Pairing::random;
  FlowBatchSampler sampler(data, batch_opt);
  const int total = opt.repeats * static_cast<int>(keys.size());
  int done = 0;
  for (int rep = 0; rep < opt.repeats; ++rep) {
    const FlowBatch batch = sampler.draw(rep + 1);
    GradientOptions exact_opt;
    exact_opt.estimator = Estimator::exact;
    exact_opt.free_relax = kConverged;
    exact_opt.adjoint.rel_tol = 1e-12;
    const GradientResult exact = flow_gradient(net, batch, exact_opt);
    const double exact_norm = model::norm(exact.grad);
    for (size_t i = 0; i < keys.size(); ++i) {
      const Key& key = keys[i];
      GradientOptions g;
      g.estimator = key.e;
      g.beta = key.beta;
      const model::RelaxOptions budget{opt.method, key.k, opt.dt, 0};
      g.nudged_relax = key.k == 0 ? kConverged : budget;
      g.free_relax = key.free_conv ? kConverged : budget;
      model::ParamList est = flow_gradient(net, batch, g, key.free_conv ? &exact.free_state : nullptr).grad;
      cos[i].add(model::cosine(est, exact.grad));
      model::axpy(-1.0, exact.grad, est);
      err[i].add(model::norm(est) / exact_norm);
      if (progress) progress(++done, total);
    }
  }
  std::vector<GradcheckRow> rows;
  for (size_t i = 0; i < keys.size(); ++i)
    rows.push_back({keys[i].e, keys[i].beta, keys[i].k, keys[i].free_conv, cos[i].mean(), cos[i].std(), err[i].mean(),
                    err[i].std(), cos[i].n});
  return rows;
}

std::string gradcheck_csv(const std::vector<GradcheckRow>& rows) {
  std::ostringstream out;
  out.precision(8);
  out << "estimator,beta,relax_steps,free_phase,temperature_K,mismatch_sigma,repeats,cosine,cosine_std,rel_error,"
         "rel_error_std\n";
  for (const auto& r : rows)
    out << to_string(r.estimator) << ',' << r.beta << ',' << (r.relax_steps == 0 ? std::string("converged") : std::to_string(r.relax_steps))
        << ',' << (r.free_converged ? "converged" : "cut") << ",0,0," << r.repeats << ',' << r.cosine << ','
        << r.cosine_std << ',' << r.rel_error << ',' << r.rel_error_std << '\n';
  return out.str();
}

double bias_slope(const std::vector<GradcheckRow>& rows, Estimator e) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int n = 0;
  for (const auto& r : rows) {
    if (r.estimator != e || r.relax_steps != 0 || r.rel_error <= 0) continue;
    const double x = std::log10(r.beta), y = std::log10(r.rel_error);
    sx += x, sy += y, sxx += x * x, sxy += x * y, ++n;
  }
  return n >= 2 ? (n * sxy - sx * sy) / (n * sxx - sx * sx) : std::nan("");
}

}  // namespace eqsim::learn
