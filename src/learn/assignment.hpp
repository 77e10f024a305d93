#pragma once
// Exact linear assignment (minibatch optimal transport pairing).
#include <Eigen/Core>
#include <vector>

namespace eqsim::learn {

// Candidate columns per row of the sparse first pass (see solve_assignment).
inline constexpr int kDefaultCandidates = 24;

// A cost matrix with its rows contiguous (the solver reads rows).
using CostMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// For an n x n cost matrix, the permutation p minimising sum_i cost(i, p[i]).
// Jonker-Volgenant shortest augmenting paths (exact), O(n^3) worst case. When
// candidates < n, first on the sparse graph of each row's `candidates` cheapest
// columns (under the prices), started by JV's augmenting row reduction on that graph and
// made exact by a dual-certificate check on the full matrix; the dense solver runs only
// when that graph has no perfect matching.
// column_prices (optional): column dual potentials to warm-start from, replaced by the
// final ones; the result is the same optimum with or without them.
std::vector<int> solve_assignment(const CostMatrix& cost, std::vector<double>* column_prices = nullptr,
                                  int candidates = 0);

// Squared Euclidean distances between the columns of a (rows) and b (columns), by one
// GEMM of the columns extended with their squared norms.
CostMatrix squared_distances(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b);

}  // namespace eqsim::learn
