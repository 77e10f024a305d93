#include "learn/assignment.hpp"

#include <limits>

namespace eqsim::learn {

Eigen::MatrixXd squared_distances(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  Eigen::MatrixXd d = -2.0 * a.transpose() * b;
  d.colwise() += a.colwise().squaredNorm().transpose();
  d.rowwise() += b.colwise().squaredNorm();
  return d;
}

std::vector<int> solve_assignment(const Eigen::MatrixXd& cost) {
  const int n = static_cast<int>(cost.rows());
  const double inf = std::numeric_limits<double>::infinity();
  // Rows 1..n, columns 1..n; column 0 is the virtual start. u, v dual potentials.
  std::vector<double> u(n + 1, 0.0), v(n + 1, 0.0), min_to(n + 1);
  std::vector<int> row_of(n + 1, 0), way(n + 1, 0);
  std::vector<char> used(n + 1);
  // cost is column-major: cost(i, j) with i the row. Walk rows contiguously via the transpose.
  const Eigen::MatrixXd ct = cost.transpose();
  // Feasible start: row then column reduction, and a greedy matching on tight edges.
  std::vector<char> row_done(n + 1, 0);
  for (int i = 1; i <= n; ++i) u[i] = ct.col(i - 1).minCoeff();
  for (int j = 1; j <= n; ++j) v[j] = (cost.col(j - 1) - Eigen::Map<Eigen::VectorXd>(u.data() + 1, n)).minCoeff();
  for (int i = 1; i <= n; ++i) {
    for (int j = 1; j <= n; ++j) {
      if (row_of[j] == 0 && ct(j - 1, i - 1) - u[i] - v[j] <= 0.0) {
        row_of[j] = i;
        row_done[i] = 1;
        break;
      }
    }
  }
  for (int i = 1; i <= n; ++i) {
    if (row_done[i]) continue;
    row_of[0] = i;
    int j0 = 0;
    std::fill(min_to.begin(), min_to.end(), inf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[j0] = 1;
      const int i0 = row_of[j0];
      const double* row = ct.col(i0 - 1).data();
      const double ui0 = u[i0];
      double delta = inf;
      int j1 = 0;
      for (int j = 1; j <= n; ++j) {
        if (used[j]) continue;
        const double cur = row[j - 1] - ui0 - v[j];
        if (cur < min_to[j]) {
          min_to[j] = cur;
          way[j] = j0;
        }
        if (min_to[j] < delta) {
          delta = min_to[j];
          j1 = j;
        }
      }
      for (int j = 0; j <= n; ++j) {
        if (used[j]) {
          u[row_of[j]] += delta;
          v[j] -= delta;
        } else {
          min_to[j] -= delta;
        }
      }
      j0 = j1;
    } while (row_of[j0] != 0);
    do {
      const int j1 = way[j0];
      row_of[j0] = row_of[j1];
      j0 = j1;
    } while (j0);
  }
  std::vector<int> p(n);
  for (int j = 1; j <= n; ++j) p[row_of[j] - 1] = j - 1;
  return p;
}

}  // namespace eqsim::learn
