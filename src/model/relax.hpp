#pragma once
// Relaxation of a Network to an equilibrium, batched over samples (one column
// per sample). Two ways that must agree (DESIGN.md §3):
//  * block: exact block-coordinate (Gauss-Seidel) minimisation, module by
//    module in listed order; exact per block because modules have no internal
//    couplings, so each sweep can only lower the energy.
//    (Networks with intra-module couplings need euler.)
//  * euler: the circuit dynamics C du/dt = -dE/da with C = 1, explicit Euler; with
//    temperature > 0 it is overdamped Langevin dynamics (Euler-Maruyama),
//    du = -dE/da dt + sqrt(2 T dt) xi, whose stationary law is exp(-E/T).
#include <Eigen/Core>
#include <functional>
#include <string>

#include "model/network.hpp"

namespace eqsim::model {

// Node voltages u (model units) and outputs a = rho(u), per module, n_m x B.
struct State {
  std::vector<Eigen::MatrixXd> u, a;
  int batch() const { return u.empty() ? 0 : static_cast<int>(u[0].cols()); }
};

// What ties the visible module during a phase: a spring of conductance
// spring_g to sources spring_target, plus a nudge of conductance nudge_g
// (negative in the -beta phase) to sources nudge_target. hold_visible clamps
// the visible units at spring_target instead (energy-gradient readout).
struct Clamp {
  Eigen::MatrixXd spring_target;  // n_visible x B
  double spring_g = 0;
  Eigen::MatrixXd nudge_target;   // n_visible x B (may be empty when nudge_g == 0)
  double nudge_g = 0;
  bool hold_visible = false;
  std::vector<int> levels;  // per-sample column of the bias tables (empty: no tables)
};

enum class RelaxMethod { block, euler };

// The arithmetic of model::relax. float32 runs the same sweeps in single precision (the
// state and the result stay double): twice the SIMD width and a vectorised tanh, about
// 2x the speed of float64 on FlowEqProp (bench/bench_train); rounding leaves max |du|
// at ~1e-7 of the unit scale, so a tol below ~1e-6 is never reached (converged_options
// is float64). Physical relaxers (model::Relaxer) ignore it.
enum class Precision { float64, float32 };
Precision precision_from_string(const std::string& s);  // throws std::invalid_argument
std::string to_string(Precision p);

struct RelaxOptions {
  RelaxMethod method = RelaxMethod::block;
  int max_steps = 20;   // sweeps (block) or Euler steps
  double dt = 0.1;      // Euler step, in units of tau = C/G
  double tol = 0;       // stop when max |du| of one step < tol (0: run max_steps)
  double temperature = 0;             // Langevin temperature in model energy units (euler only)
  unsigned long long noise_seed = 0;  // noise stream; callers vary it per call
  Precision precision = Precision::float64;
};

// Columns [c0, c0+n) of a state or clamp.
State slice(const State& s, Eigen::Index c0, Eigen::Index n);
Clamp slice(const Clamp& c, Eigen::Index c0, Eigen::Index n);

// Samples are independent, so batched work runs in column chunks in parallel: at
// most 192 columns (they stay in cache across sweeps), at least two from 64 columns
// on. The split depends only on B, so results do not depend on the thread count.
// Eigen runs single-threaded inside (the binaries set Eigen::setNbThreads(1): its
// own parallel GEMM spin-waits when another thread, such as the OT pairing, holds a core).
struct ColumnChunk {
  Eigen::Index begin, size;
};
std::vector<ColumnChunk> column_chunks(Eigen::Index B);

// Runs body(k) for every k < count concurrently: as tasks of the enclosing parallel
// region when called inside one (the trainer's, whose other thread draws the next batch
// meanwhile and then joins in), else in a parallel loop of its own. Any thread may run
// any k, so body(k) must depend on k alone; it must not throw.
void for_each_chunk(size_t count, const std::function<void(size_t)>& body);

struct RelaxSummary {
  int steps = 0;
  double last_change = 0;  // max |du| over the last step (block) or |dt du/dt| (euler)
  bool converged = false;
};

// A state with u_visible = visible_init and every hidden unit at 0.
State initial_state(const Network& net, const Eigen::MatrixXd& visible_init);

// Recomputes a = rho(u) for module m.
void update_output(const Network& net, State& s, int m);

// b_m (+ the table column of each sample) + coupling currents into module m.
Eigen::MatrixXd module_input(const Network& net, const Clamp& clamp, const State& s, int m);

// Coupling currents only (no bias) into module m, from arbitrary outputs x.
Eigen::MatrixXd coupling_input(const Network& net, const std::vector<Eigen::MatrixXd>& x, int m);

// Throws std::invalid_argument when the method cannot relax this network
// (block with intra-module couplings, or block with temperature > 0).
RelaxSummary relax(const Network& net, const Clamp& clamp, State& s, const RelaxOptions& opt);

// Relaxation to convergence at temperature 0 (the reference of the gradient check and
// the circuit check): block sweeps to 1e-12 when no module couples to itself, else
// Euler steps of euler_dt to 1e-13.
RelaxOptions converged_options(const Network& net, double euler_dt);

// Who relaxes a network's state: model::relax (the ideal network) by default, or a
// physical stand-in such as circuit::EquivalentCircuit (a mismatched circuit).
using Relaxer = std::function<RelaxSummary(const Clamp&, State&, const RelaxOptions&)>;

// relaxer if set, else model::relax on net.
RelaxSummary relax_with(const Relaxer& relaxer, const Network& net, const Clamp& clamp, State& s,
                        const RelaxOptions& opt);

// Total energy of each sample (1 x B), including the spring and nudge terms.
Eigen::RowVectorXd energy(const Network& net, const Clamp& clamp, const State& s);

// -dE/da for every module: the net current into each node (n_m x B).
std::vector<Eigen::MatrixXd> force(const Network& net, const Clamp& clamp, const State& s);

// Mean over the batch of dE/dtheta at state s (the local products EP measures).
ParamList energy_param_grad(const Network& net, const Clamp& clamp, const State& s);

// energy_param_grad at s1 minus at s0 (same clamp levels), formed from the output
// differences a1 - a0 (every term is linear or bilinear in the outputs:
// x1 y1^T - x0 y0^T = (x1 - x0) m_y^T + m_x (y1 - y0)^T with m the means), so the
// rounding error scales with the difference, not with the products it would cancel.
ParamList energy_param_grad_difference(const Network& net, const Clamp& clamp, const State& s1, const State& s0);

}  // namespace eqsim::model
