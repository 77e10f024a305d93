#include "learn/assignment.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <queue>
#include <utility>

namespace eqsim::learn {

CostMatrix squared_distances(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  const Eigen::Index d = a.rows();
  Eigen::MatrixXd ea(d + 2, a.cols()), eb(d + 2, b.cols());  // |a|^2 + |b|^2 - 2 a.b as one product
  ea << a, a.colwise().squaredNorm(), Eigen::RowVectorXd::Ones(a.cols());
  eb << -2.0 * b, Eigen::RowVectorXd::Ones(b.cols()), b.colwise().squaredNorm();
  CostMatrix c(a.cols(), b.cols());
  c.noalias() = ea.transpose() * eb;
  return c;
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Jonker & Volgenant (1987), "A shortest augmenting path algorithm for dense and
// sparse linear assignment problems": column reduction with reduction transfer,
// two rounds of augmenting row reduction, then Dijkstra augmentation for the rest.
// x[i]: column of row i; y[j]: row of column j; v: column dual potentials.
class Lapjv {
 public:
  explicit Lapjv(const CostMatrix& cost) : n_(static_cast<int>(cost.rows())), c_(cost) {}

  // Any column potentials v are dual feasible with row potentials u_i = min_j c_ij - v_j,
  // so a warm start (the previous minibatch's prices) is exact and saves most of the work.
  std::vector<int> solve(std::vector<double>* prices) {
    x_.assign(n_, -1);
    y_.assign(n_, -1);
    std::vector<int> free_rows;
    if (prices && static_cast<int>(prices->size()) == n_) {
      v_ = *prices;
      free_rows = greedy_tight_assignment();
    } else {
      v_.assign(n_, 0.0);
      free_rows = column_reduction();
      for (int round = 0; round < 2 && !free_rows.empty(); ++round) free_rows = augmenting_row_reduction(free_rows);
    }
    for (int f : free_rows) augment(f);
    if (prices) *prices = v_;
    return x_;
  }

 private:
  double cost(int i, int j) const { return c_(i, j); }

  // Each row takes its cheapest reduced-cost column if that column is still free.
  std::vector<int> greedy_tight_assignment() {
    std::vector<int> free_rows;
    for (int i = 0; i < n_; ++i) {
      int best = 0;
      double best_cost = kInf;
      for (int j = 0; j < n_; ++j)
        if (cost(i, j) - v_[j] < best_cost) best_cost = cost(i, j) - v_[j], best = j;
      if (y_[best] < 0) x_[i] = best, y_[best] = i;
      else free_rows.push_back(i);
    }
    return free_rows;
  }

  std::vector<int> column_reduction() {
    std::vector<double>& v = v_;
    std::fill(v.begin(), v.end(), kInf);
    std::vector<int> argmin(n_, 0);
    for (int i = 0; i < n_; ++i)
      for (int j = 0; j < n_; ++j)
        if (cost(i, j) < v[j]) v[j] = cost(i, j), argmin[j] = i;
    std::vector<char> unique(n_, 1);
    for (int j = n_ - 1; j >= 0; --j) {
      const int i = argmin[j];
      if (x_[i] < 0) x_[i] = j, y_[j] = i;
      else unique[i] = 0;
    }
    std::vector<int> free_rows;
    for (int i = 0; i < n_; ++i) {
      if (x_[i] < 0) {
        free_rows.push_back(i);
      } else if (unique[i]) {  // reduction transfer
        const int j = x_[i];
        double m = kInf;
        for (int j2 = 0; j2 < n_; ++j2)
          if (j2 != j) m = std::min(m, cost(i, j2) - v[j2]);
        v[j] -= m;
      }
    }
    return free_rows;
  }

  std::vector<int> augmenting_row_reduction(std::vector<int> free_rows) {
    size_t current = 0, new_free = 0, n_free = free_rows.size();
    long rr_count = 0;
    while (current < n_free) {
      ++rr_count;
      const int i = free_rows[current++];
      int j1 = 0, j2 = -1;
      double u1 = cost(i, 0) - v_[0], u2 = kInf;
      for (int j = 1; j < n_; ++j) {
        const double h = cost(i, j) - v_[j];
        if (h < u2) {
          if (h >= u1) u2 = h, j2 = j;
          else u2 = u1, u1 = h, j2 = j1, j1 = j;
        }
      }
      int i0 = y_[j1];
      const double v1_new = v_[j1] - (u2 - u1);
      const bool lowers = v1_new < v_[j1];
      if (rr_count < static_cast<long>(current) * n_) {
        if (lowers) v_[j1] = v1_new;
        else if (i0 >= 0 && j2 >= 0) j1 = j2, i0 = y_[j2];
        if (i0 >= 0) {
          if (lowers) free_rows[--current] = i0;
          else free_rows[new_free++] = i0;
        }
      } else if (i0 >= 0) {
        free_rows[new_free++] = i0;
      }
      x_[i] = j1;
      y_[j1] = i;
    }
    free_rows.resize(new_free);
    return free_rows;
  }

  // Dijkstra from free row f over reduced costs; flips the path and updates duals.
  // Branch-free passes over all columns (scanned ones are masked by +inf) so the
  // compiler vectorises them: this is where the time goes.
  void augment(int f) {
    const double* row = c_.row(f).data();
    for (int j = 0; j < n_; ++j) d_[j] = row[j] - v_[j], pred_[j] = f, mask_[j] = 0.0;
    ready_.clear();
    int end = -1;
    double mind = 0;
    while (end < 0) {
      int j = argmin_unscanned(mind);
      mask_[j] = kInf;
      if (y_[j] < 0) {
        end = j;
        break;
      }
      ready_.push_back(j);
      const int i = y_[j];
      const double* ci = c_.row(i).data();
      const double h = ci[j] - v_[j] - mind;
      for (int k = 0; k < n_; ++k) {
        const double r = ci[k] - v_[k] - h + mask_[k];
        const bool better = r < d_[k];
        d_[k] = better ? r : d_[k];
        pred_[k] = better ? i : pred_[k];
      }
    }
    for (int j : ready_) v_[j] += d_[j] - mind;
    for (int i = -1, j = end; i != f;) {
      i = pred_[j];
      y_[j] = i;
      std::swap(j, x_[i]);
    }
  }

  // The unscanned column with the smallest distance (first on ties); sets mind.
  int argmin_unscanned(double& mind) const {
    const double m = (Eigen::Map<const Eigen::ArrayXd>(d_.data(), n_) + Eigen::Map<const Eigen::ArrayXd>(mask_.data(), n_)).minCoeff();
    mind = m;
    for (int k = 0;; ++k)
      if (d_[k] + mask_[k] == m) return k;
  }

  int n_;
  const CostMatrix& c_;
  std::vector<int> x_, y_;
  std::vector<double> v_;
  std::vector<double> d_ = std::vector<double>(n_), mask_ = std::vector<double>(n_);  // Dijkstra scratch
  std::vector<int> pred_ = std::vector<int>(n_), ready_;
};

// The same shortest augmenting paths on a sparse graph: each row keeps only its
// `k` columns of smallest reduced cost c_ij - v_j (under the warm prices), which
// holds the optimum nearly always. Optimality on the full matrix is then checked
// by the dual certificate: with u_i = c(i, x_i) - v(x_i), every c_ij - u_i - v_j
// must be >= 0. A row that violates it gets its cheaper columns as new edges and
// is augmented again, until the certificate holds, so the result is exact.
class CandidateLap {
  struct Edge {
    int j;
    double cost;
  };

 public:
  CandidateLap(const CostMatrix& cost, std::vector<double> prices, int k)
      : n_(static_cast<int>(cost.rows())), c_(cost), v_(std::move(prices)), cand_(n_), reduced_(n_) {
    // Each column also gets an edge from the row it is least far above the row's minimum
    // in (reduced cost minus that minimum): a column in no row's k cheapest (~2 per
    // digits batch at k = 24) would leave the graph without a perfect matching.
    std::vector<double> col_slack(n_, kInf);
    std::vector<int> col_row(n_, 0);
    for (int i = 0; i < n_; ++i) {
      const double lowest = reduce_row(i);
      cand_[i] = cheapest_columns(i, k);
      for (int j = 0; j < n_; ++j) {
        const double slack = reduced_[j] - lowest;
        const bool closer = slack < col_slack[j];
        col_slack[j] = closer ? slack : col_slack[j];
        col_row[j] = closer ? i : col_row[j];
      }
    }
    std::vector<char> covered(n_, 0);
    for (const auto& edges : cand_)
      for (const auto& e : edges) covered[e.j] = 1;
    for (int j = 0; j < n_; ++j)
      if (!covered[j]) cand_[col_row[j]].push_back({j, c_(col_row[j], j)});
  }

  // The optimal assignment, or none when the sparse graph has no augmenting path.
  std::optional<std::vector<int>> solve() {
    x_.assign(n_, -1);
    y_.assign(n_, -1);
    std::vector<int> free_rows = greedy();
    for (int round = 0; round < 2 && !free_rows.empty(); ++round) free_rows = augmenting_row_reduction(free_rows);
    for (; !free_rows.empty(); free_rows = free_violating_rows())
      for (int f : free_rows)
        if (!augment(f)) return std::nullopt;
    return x_;
  }
  const std::vector<double>& prices() const { return v_; }

 private:
  double reduced(int i, int j) const { return c_(i, j) - v_[j]; }

  // reduced_ = row i's reduced costs c_ij - v_j; returns their minimum.
  double reduce_row(int i) {
    auto r = Eigen::Map<Eigen::ArrayXd>(reduced_.data(), n_);
    r = c_.row(i).transpose().array() - Eigen::Map<const Eigen::ArrayXd>(v_.data(), n_);
    return r.minCoeff();
  }

  // The k columns of row i with the smallest reduced cost (reduced_ holds the row),
  // cheapest first: one pass keeping a sorted list, the bar (the list's last cost once
  // full) tested on eight columns at a time so that runs above it cost one vector compare.
  std::vector<Edge> cheapest_columns(int i, int k) {
    k = std::min(k, n_);
    std::vector<double> cost;  // sorted, at most k, with their columns
    std::vector<int> cols;
    cost.reserve(k + 1), cols.reserve(k + 1);
    double bar = kInf;
    auto offer = [&](int j) {
      const double r = reduced_[j];
      if (!(r < bar)) return;
      int at = static_cast<int>(cost.size());
      cost.push_back(r), cols.push_back(j);
      for (; at > 0 && cost[at - 1] > r; --at) cost[at] = cost[at - 1], cols[at] = cols[at - 1];
      cost[at] = r, cols[at] = j;
      if (static_cast<int>(cost.size()) > k) cost.pop_back(), cols.pop_back();
      if (static_cast<int>(cost.size()) == k) bar = cost.back();
    };
    constexpr int kLanes = 8;
    int j0 = 0;
    for (; j0 + kLanes <= n_; j0 += kLanes) {
      bool any = false;
      for (int t = 0; t < kLanes; ++t) any |= reduced_[j0 + t] < bar;
      if (any)
        for (int t = 0; t < kLanes; ++t) offer(j0 + t);
    }
    for (; j0 < n_; ++j0) offer(j0);
    std::vector<Edge> edges;
    edges.reserve(cols.size() + 1);
    for (int j : cols) edges.push_back({j, c_(i, j)});
    return edges;
  }

  std::vector<int> greedy() {
    std::vector<int> free_rows;
    for (int i = 0; i < n_; ++i) {
      const int j = std::min_element(cand_[i].begin(), cand_[i].end(), [&](const Edge& a, const Edge& b) {
                      return a.cost - v_[a.j] < b.cost - v_[b.j];
                    })->j;
      if (y_[j] < 0) x_[i] = j, y_[j] = i;
      else free_rows.push_back(i);
    }
    return free_rows;
  }

  // Jonker-Volgenant's augmenting row reduction on the candidate edges: a free row takes
  // its cheapest column, whose price drops until the row's second choice is as cheap
  // (its owner, if any, becomes free). Every assigned row keeps its cheapest candidate,
  // as the augmentations need. Cuts the free rows left by greedy() about 7-fold on
  // digits batches; rows with a single candidate are left to augment().
  std::vector<int> augmenting_row_reduction(std::vector<int> free_rows) {
    size_t current = 0, new_free = 0;
    const size_t n_free = free_rows.size();
    long count = 0;
    while (current < n_free) {
      ++count;
      const int i = free_rows[current++];
      int j1 = -1, j2 = -1;
      double u1 = kInf, u2 = kInf;
      for (const auto& [j, cost] : cand_[i]) {
        const double h = cost - v_[j];
        if (h >= u2) continue;
        if (h >= u1) u2 = h, j2 = j;
        else u2 = u1, u1 = h, j2 = j1, j1 = j;
      }
      if (j2 < 0) {
        free_rows[new_free++] = i;
        continue;
      }
      int i0 = y_[j1];
      const double v1_lowered = v_[j1] - (u2 - u1);
      const bool lowers = v1_lowered < v_[j1];
      if (count < static_cast<long>(current) * static_cast<long>(cand_[i].size())) {
        if (lowers) v_[j1] = v1_lowered;
        else if (i0 >= 0) j1 = j2, i0 = y_[j2];
        if (i0 >= 0) {
          if (lowers) free_rows[--current] = i0;
          else free_rows[new_free++] = i0;
        }
      } else if (i0 >= 0) {
        free_rows[new_free++] = i0;
      }
      if (i0 >= 0) x_[i0] = -1;
      x_[i] = j1;
      y_[j1] = i;
    }
    free_rows.resize(new_free);
    return free_rows;
  }

  // Dijkstra from free row f over the candidate edges (distances kept only for the
  // columns reached, a heap with stale entries skipped); false when every reachable
  // column is taken.
  bool augment(int f) {
    if (d_.empty()) d_.assign(n_, kInf), pred_.assign(n_, -1), scanned_.assign(n_, 0);
    reached_.clear();
    ready_.clear();
    heap_ = {};
    relax_row(f, 0.0);
    int end = -1;
    double mind = 0;
    while (!heap_.empty()) {
      const auto [dist, j] = heap_.top();
      heap_.pop();
      if (scanned_[j] || dist > d_[j]) continue;
      mind = dist;
      scanned_[j] = 1;
      if (y_[j] < 0) {
        end = j;
        break;
      }
      ready_.push_back(j);
      relax_row(y_[j], reduced(y_[j], j) - mind);
    }
    if (end >= 0) {
      for (int j : ready_) v_[j] += d_[j] - mind;
      for (int i = -1, j = end; i != f;) {
        i = pred_[j];
        y_[j] = i;
        std::swap(j, x_[i]);
      }
      for (int j : ready_) unchecked_.push_back(y_[j]);  // their column's price moved
      unchecked_.push_back(f);
    }
    for (int j : reached_) d_[j] = kInf, scanned_[j] = 0;
    return end >= 0;
  }

  // Distances through row i (reached at offset h) to its unscanned candidate columns.
  void relax_row(int i, double h) {
    for (const auto [j, cost] : cand_[i]) {
      if (scanned_[j]) continue;
      const double r = cost - v_[j] - h;
      if (r >= d_[j]) continue;
      if (d_[j] == kInf) reached_.push_back(j);
      d_[j] = r;
      pred_[j] = i;
      heap_.emplace(r, j);
    }
  }

  // Rows whose assigned column is not their cheapest on the full row: each gets
  // the cheaper columns as new edges and is freed. Differences within rounding of
  // an existing edge are not violations. The first call checks every row; later ones
  // only the rows an augmentation touched since: elsewhere the assigned column and its
  // price stayed and the other prices only fell (raising those reduced costs), so a row
  // that passed still does.
  std::vector<int> free_violating_rows() {
    std::vector<int> rows = std::move(unchecked_);
    unchecked_.clear();
    if (!checked_all_) {
      rows.resize(n_);
      std::iota(rows.begin(), rows.end(), 0);
      checked_all_ = true;
    } else {
      std::sort(rows.begin(), rows.end());
      rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    }
    std::vector<int> freed;
    for (int i : rows)
      if (take_cheaper_columns(i)) freed.push_back(i);
    return freed;
  }

  // If row i's assigned column is not its cheapest (beyond rounding), adds the cheaper
  // columns to its candidates and frees it; true when freed.
  bool take_cheaper_columns(int i) {
    const double assigned = reduced(i, x_[i]);
    const double tol = 1e-12 * (std::abs(c_(i, x_[i])) + std::abs(v_[x_[i]]) + 1.0);
    if (reduce_row(i) >= assigned - tol) return false;
    bool added = false;
    for (int j = 0; j < n_; ++j)
      if (reduced_[j] < assigned - tol &&
          std::none_of(cand_[i].begin(), cand_[i].end(), [j](const Edge& e) { return e.j == j; }))
        cand_[i].push_back({j, c_(i, j)}), added = true;
    if (!added) return false;
    y_[x_[i]] = -1;
    x_[i] = -1;
    return true;
  }

  int n_;
  const CostMatrix& c_;
  std::vector<double> v_;
  std::vector<std::vector<Edge>> cand_;  // per row, with its costs (no scattered reads of c_)
  std::vector<double> reduced_;          // one row's reduced costs
  std::vector<int> unchecked_;           // rows touched by augmentations since the last certificate
  bool checked_all_ = false;
  std::vector<int> x_, y_;
  std::vector<double> d_;
  std::vector<int> pred_, reached_, ready_;
  std::vector<char> scanned_;
  std::priority_queue<std::pair<double, int>, std::vector<std::pair<double, int>>, std::greater<>> heap_;
};

}  // namespace

std::vector<int> solve_assignment(const CostMatrix& c, std::vector<double>* column_prices, int candidates) {
  const int n = static_cast<int>(c.rows());
  const bool warm = column_prices && static_cast<int>(column_prices->size()) == n;
  std::vector<double> prices = warm ? *column_prices : std::vector<double>(n, 0.0);
  // A sparse graph without a perfect matching: again with twice the candidates,
  // from the prices reached so far (still dual feasible), then dense.
  for (int k = candidates > 0 ? candidates : kDefaultCandidates; 4 * k <= n; k *= 2) {
    CandidateLap sparse(c, std::move(prices), k);
    auto p = sparse.solve();
    prices = sparse.prices();
    if (!p) continue;
    if (column_prices) *column_prices = prices;
    return *p;
  }
  if (column_prices) *column_prices = prices;
  return Lapjv(c).solve(column_prices);
}

}  // namespace eqsim::learn
