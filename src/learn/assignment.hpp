#pragma once
// Exact linear assignment (minibatch optimal transport pairing).
#include <Eigen/Core>
#include <vector>

namespace eqsim::learn {

// For an n x n cost matrix, the permutation p minimising sum_i cost(i, p[i]).
// Jonker-Volgenant shortest augmenting paths (exact), O(n^3) worst case.
// column_prices (optional): column dual potentials to warm-start from, replaced by the
// final ones; the result is the same optimum with or without them.
std::vector<int> solve_assignment(const Eigen::MatrixXd& cost, std::vector<double>* column_prices = nullptr);

// Squared Euclidean distances between the columns of a and b.
Eigen::MatrixXd squared_distances(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b);

}  // namespace eqsim::learn
