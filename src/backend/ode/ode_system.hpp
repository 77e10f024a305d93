#pragma once
// A circuit in the supported subset compiled into the ODE
//   C dx/dt = L v + c + sum_s K_s tanh(v / s) + (offset devices) + (generic B-sources),
// with v = [x; v_fixed]: x the free node voltages (each needs a capacitor path),
// v_fixed the nodes held by voltage sources. Canonical transconductors
// (k*tanh(V(n)/s), k*V(n), with or without an input offset) become matrix
// entries, except tanh devices with an input offset (a mismatched circuit's),
// which are evaluated per device through one shared tanh per node (OffsetGroup);
// any other B-source expression, and an offset beyond half the input scale, is
// evaluated as a tree. Every method is batched: one column per independent copy
// of the circuit.
#include <Eigen/Core>
#include <Eigen/Cholesky>
#include <Eigen/SparseCore>
#include <map>
#include <string>
#include <vector>

#include "circuit/circuit.hpp"

namespace eqsim::backend::ode {

// A matrix stored dense when small, sparse (row-major) when large.
struct LinearMap {
  bool is_dense = true;
  Eigen::MatrixXd dense;
  Eigen::SparseMatrix<double, Eigen::RowMajor> sparse;
  void build(Eigen::Index rows, Eigen::Index cols, const std::vector<Eigen::Triplet<double>>& t);
  // y += rows [first, first + y.rows()) of this map times x.
  void apply(Eigen::Index first, const Eigen::MatrixXd& x, Eigen::Ref<Eigen::MatrixXd> y) const;
};

// A B-source expression with node names resolved to indices into v (-1: ground).
struct CompiledExpr {
  circuit::Expr::Op op = circuit::Expr::Op::constant;
  double value = 0;
  int a = -1, b = -1;
  std::vector<CompiledExpr> args;
};

class OdeSystem {
 public:
  // Throws InputError naming the line for a free node without a capacitor
  // path, a singular capacitance matrix, or a topology error.
  explicit OdeSystem(const circuit::Circuit& c);

  int state_count() const { return n_state_; }
  int node_count() const { return static_cast<int>(names_.size()); }
  // Free nodes first, then source-held nodes.
  const std::vector<std::string>& node_names() const { return names_; }
  // -1 when the circuit has no such node.
  int node_index(const std::string& name) const;

  // From .ic lines, else capacitor IC= values, else 0 (n_state); a free node tied by a
  // capacitor to a source-held node moves with that node's step from its initial
  // value (.ic or 0) to the source's value, as in ngspice's uic start.
  const Eigen::VectorXd& initial_state() const { return x0_; }
  // Values of the holding voltage sources (n_fixed).
  const Eigen::VectorXd& fixed_voltages() const { return v_fixed_; }

  // dx/dt for free voltages x (n_state x B) and held voltages vf (n_fixed x B).
  void derivative(const Eigen::Ref<const Eigen::MatrixXd>& x, const Eigen::MatrixXd& vf,
                  Eigen::Ref<Eigen::MatrixXd> dxdt) const;

  // Current out of each voltage source's + terminal (rows in backend::voltage_sources
  // order), per column: minus what the other elements, capacitors included, draw
  // from the node it holds.
  Eigen::MatrixXd source_currents(const Eigen::MatrixXd& x, const Eigen::MatrixXd& vf) const;

  // Noise current map (n_state x sources): column j carries +-sqrt(PSD_j / 2)
  // (two-sided intensity, A/sqrt(Hz)) at the source's two nodes.
  Eigen::SparseMatrix<double> noise_map(const circuit::Circuit& c, double temperature_K) const;

  // y <- C^{-1} y for currents y (n_state x B).
  void apply_inverse_capacitance(Eigen::Ref<Eigen::MatrixXd> y) const;

 private:
  struct TanhGroup {
    double scale_V;
    LinearMap k;
  };
  // Transconductors with an input offset (mismatch) at one scale: gain * tanh((v[in] - offset_V) / scale_V)
  // = gain * (a - t) / (1 - a t), a = tanh(v[in] / scale_V) once per node, t = tanh(offset_V / scale_V) once
  // per device, so a device costs a division, not a tanh (exact identity; for |offset_V / scale_V| <= 0.5
  // its rounding error is a few ulp of the gain). One entry per device terminal off ground, sorted by
  // (row, input) into runs of consecutive inputs, so the inner loop reads contiguous memory.
  // Measured (bench_backends, FlowEqProp, 49,152 devices): a mismatched relaxation takes
  // 0.78x the ideal one's time, a batch of 64 1.09x (one libm tanh per device: about 20x).
  struct OffsetGroup {
    double inv_scale = 1;
    std::vector<int> run_row, run_input;  // per run: the row it feeds, its first input node
    std::vector<int> run_first;           // per run: its first entry (one more: the end)
    Eigen::ArrayXd t, coeff;              // per entry: tanh(offset_V / scale_V), -+gain
  };
  struct GenericSource {
    int plus, minus;
    CompiledExpr expr;
  };
  class Builder;

  // Currents into rows [first, first + count) for full node voltages v.
  Eigen::MatrixXd injection(Eigen::Index first, Eigen::Index count, const Eigen::MatrixXd& v) const;
  Eigen::MatrixXd stack(const Eigen::Ref<const Eigen::MatrixXd>& x, const Eigen::MatrixXd& vf) const;
  // Adds the offset devices' currents into rows [first, first + i.rows()).
  void add_offset_devices(Eigen::Index first, const Eigen::MatrixXd& v, Eigen::Ref<Eigen::MatrixXd> i) const;

  int n_state_ = 0;
  std::vector<std::string> names_;
  std::map<std::string, int> index_;
  Eigen::VectorXd x0_, v_fixed_;
  LinearMap lin_;
  Eigen::VectorXd constant_;
  std::vector<TanhGroup> tanh_;
  std::vector<OffsetGroup> offset_;
  std::vector<GenericSource> generic_;
  Eigen::VectorXd inv_cap_diag_;  // used when the capacitance matrix is diagonal
  Eigen::LLT<Eigen::MatrixXd> cap_llt_;
  bool cap_diagonal_ = true;
  std::vector<int> source_row_;        // per voltage source: its held node's row among the held nodes
  std::vector<double> source_sign_;    // +1 when the held node is its + terminal
  Eigen::SparseMatrix<double, Eigen::RowMajor> held_cap_;  // held nodes x free nodes: capacitance between them
};

}  // namespace eqsim::backend::ode
