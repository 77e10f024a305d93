#pragma once
// The ODE backend (DESIGN.md §6): adaptive Dormand-Prince (Boost.Odeint) for
// deterministic runs, Euler-Maruyama for thermal noise; batched over columns.
#include <Eigen/Core>
#include <vector>

#include "backend/backend.hpp"
#include "backend/ode/ode_system.hpp"

namespace eqsim::backend::ode {

// Relaxes B copies of the circuit at once: column j starts from x0.col(j)
// (free nodes, OdeSystem order) with held voltages vf.col(j). All columns share
// the time grid; the run stops early only when every column has settled. One
// summary per column (nodes in OdeSystem order). For large batches the output
// grid is coarsened to keep the stored samples under about 4e7 values.
std::vector<RelaxSummary> relax_batch(const OdeSystem& sys, const circuit::Circuit& c, const Eigen::MatrixXd& x0,
                                      const Eigen::MatrixXd& vf, const RelaxOptions& opt);

class OdeBackend : public Backend {
 public:
  std::string name() const override;
  std::string version() const override;
  bool batched() const override { return true; }
  RelaxSummary relax(const circuit::Circuit& c, const RelaxOptions& opt) override;
  // All columns as one relax_batch on the circuit compiled once.
  std::unique_ptr<BatchRelaxer> batch_relaxer(const circuit::Circuit& c) override;
};

}  // namespace eqsim::backend::ode
