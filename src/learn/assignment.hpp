#pragma once
// Exact linear assignment (minibatch optimal transport pairing).
#include <Eigen/Core>
#include <vector>

namespace eqsim::learn {

// For an n x n cost matrix, the permutation p minimising sum_i cost(i, p[i]).
// Shortest augmenting paths with dual potentials (Hungarian / Jonker-Volgenant), O(n^3) worst case.
std::vector<int> solve_assignment(const Eigen::MatrixXd& cost);

// Squared Euclidean distances between the columns of a and b.
Eigen::MatrixXd squared_distances(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b);

}  // namespace eqsim::learn
