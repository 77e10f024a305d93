#pragma once
// The circuits of a batch request column by column, for backends that relax
// one circuit per run (the default batch relaxer; spice on its workers).
#include <string>
#include <vector>

#include "backend/backend.hpp"

namespace eqsim::backend {

class BatchColumns {
 public:
  explicit BatchColumns(const circuit::Circuit& c);
  // circuit::node_names(c): the row order of a request's start_V and of final_V.
  const std::vector<std::string>& nodes() const { return nodes_; }
  // InputError unless req fits the circuit (check_batch_request).
  void check(const BatchRequest& req) const { check_batch_request(c_, nodes_, req); }
  // c with column j of req: the listed sources at source_V.col(j), every grounded
  // capacitor's IC (and .ic) at start_V.col(j) or, without start_V, c's own. The
  // reference stays valid until the next call.
  const circuit::Circuit& column(const BatchRequest& req, Eigen::Index j);
  // Copies run's final voltages into column j of final_V (rows in nodes() order).
  void gather(const RelaxSummary& run, Eigen::MatrixXd& final_V, Eigen::Index j) const;

 private:
  circuit::Circuit c_, original_;
  std::vector<std::string> nodes_;
  std::vector<long> cap_;  // per node: its grounded capacitor element, or -1
};

}  // namespace eqsim::backend
