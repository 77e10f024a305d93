#include "metrics/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>

#include "metrics/quality.hpp"

namespace eqsim::metrics {

Interval bootstrap_mean(const std::vector<double>& x, unsigned long long seed, int resamples, double level) {
  Interval r;
  r.n = static_cast<long>(x.size());
  if (x.empty()) return r;
  r.mean = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
  r.lo = r.hi = r.mean;
  if (x.size() < 2) return r;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, x.size() - 1);
  std::vector<double> means(static_cast<size_t>(resamples));
  for (auto& m : means) {
    double s = 0;
    for (size_t i = 0; i < x.size(); ++i) s += x[pick(rng)];
    m = s / static_cast<double>(x.size());
  }
  std::sort(means.begin(), means.end());
  // Expanded percentile interval (Hesterberg 2015, "What teachers should know about the
  // bootstrap"): the plain percentile interval is too narrow by about sqrt((n-1)/n) and
  // uses z where t_{n-1} belongs; reading the bootstrap quantiles at
  // Phi(sqrt(n/(n-1)) t_{n-1, tail}) instead corrects both.
  const double n = static_cast<double>(x.size());
  const boost::math::students_t t_dist(n - 1);
  const double t_tail = boost::math::quantile(t_dist, (1 - level) / 2);
  const double tail = boost::math::cdf(boost::math::normal(), std::sqrt(n / (n - 1)) * t_tail);
  auto quantile = [&](double q) { return means[std::min(means.size() - 1, static_cast<size_t>(q * (means.size() - 1) + 0.5))]; };
  r.lo = quantile(tail);
  r.hi = quantile(1 - tail);
  return r;
}

Interval wilson(long k, long n, double z) {
  Interval r;
  r.n = n;
  if (n == 0) return {0, 0, 1, 0};
  const double p = static_cast<double>(k) / static_cast<double>(n), nn = static_cast<double>(n), z2 = z * z;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = z / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  return {p, std::max(0.0, centre - half), std::min(1.0, centre + half), n};
}

Interval t_interval(const std::vector<double>& x, double level) {
  Interval r;
  r.n = static_cast<long>(x.size());
  if (x.empty()) return r;
  const double n = static_cast<double>(x.size());
  r.mean = std::accumulate(x.begin(), x.end(), 0.0) / n;
  r.lo = r.hi = r.mean;
  if (x.size() < 2) return r;
  double ss = 0;
  for (double v : x) ss += (v - r.mean) * (v - r.mean);
  const double half = boost::math::quantile(boost::math::students_t(n - 1), 0.5 + level / 2) * std::sqrt(ss / (n - 1) / n);
  r.lo = r.mean - half;
  r.hi = r.mean + half;
  return r;
}

double frechet_extrapolated(const Eigen::MatrixXd& samples, const Eigen::MatrixXd& real, unsigned long long seed,
                            int repeats) {
  const Eigen::Index N = samples.cols();
  std::mt19937_64 rng(seed);
  std::vector<Eigen::Index> order(static_cast<size_t>(N));
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> inv_n, f;
  for (int q = 1; q <= 4; ++q) {
    const Eigen::Index n = N * q / 4;
    if (n < 2 * samples.rows()) continue;  // too few for a covariance of full rank
    for (int k = 0; k < (q == 4 ? 1 : repeats); ++k) {
      std::shuffle(order.begin(), order.end(), rng);
      Eigen::MatrixXd sub(samples.rows(), n);
      for (Eigen::Index j = 0; j < n; ++j) sub.col(j) = samples.col(order[static_cast<size_t>(j)]);
      inv_n.push_back(1.0 / static_cast<double>(n));
      f.push_back(frechet_distance(sub, real));
    }
  }
  if (inv_n.size() < 2) return frechet_distance(samples, real);
  const double mx = std::accumulate(inv_n.begin(), inv_n.end(), 0.0) / inv_n.size();
  const double my = std::accumulate(f.begin(), f.end(), 0.0) / f.size();
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < f.size(); ++i) sxy += (inv_n[i] - mx) * (f[i] - my), sxx += (inv_n[i] - mx) * (inv_n[i] - mx);
  return my - (sxx > 0 ? sxy / sxx : 0) * mx;
}

}  // namespace eqsim::metrics
