#pragma once
// The network IR (DESIGN.md §2): modules of units with one activation each,
// dense and bilinear low-rank couplings between modules, per-unit biases, a
// spring on the visible module. The energy it defines is the circuit-realisable
// Hopfield co-content form
//   E(a) = sum_i G * int_0^{a_i} rho^{-1}(y) dy - sum_c coupling_c(a) - b^T a - T[:, level]^T a,
// with coupling_c = a_p^T W a_q (dense, W is n_p x n_q), (U^T a_p).(V^T a_q)
// (bilinear, U is n_p x r, V is n_q x r), or 1/2 a_p^T W a_p for a dense coupling of a
// module with itself (W symmetric, zero diagonal). T is an optional per-module table of
// biases indexed by a per-sample level (digital noise-level conditioning).
#include <Eigen/Core>
#include <string>
#include <vector>

namespace eqsim::model {

enum class Activation { identity, tanh };
enum class CouplingKind { dense, bilinear };

struct ModuleSpec {
  std::string name;
  int size = 0;
  Activation activation = Activation::identity;
  int condition_levels = 0;  // > 0: a bias table T (size x levels), one column per level
};

struct CouplingSpec {
  std::string name;
  int p = 0, q = 0;  // module indices; p == q: intra-module (dense only)
  CouplingKind kind = CouplingKind::dense;
  int rank = 0;      // bilinear only
};

struct NetworkSpec {
  std::vector<ModuleSpec> modules;
  std::vector<CouplingSpec> couplings;
  int visible = 0;            // the module the spring and nudge act on (identity)
  double leak = 1.0;          // G, the unit leak conductance in model units
  double spring_lambda = 15;  // spring stiffness, in units of G
  double alpha = 2;           // velocity readout gain v = alpha*lambda*(x* - x_t)
};

// The largest network eqsim builds, in parameters (every one a double, held several times
// over in training: gradients, Adam's two moments, the chip's device draws): 4e8 bytes a
// copy. A larger spec is refused before anything is allocated (a model.yaml claiming a
// module of 5e8 units would otherwise ask for gigabytes it cannot fill).
inline constexpr double kMaxParameters = 5e7;

// The parameter count Network(spec) will have, without allocating (module and coupling
// indices must be valid).
double parameter_count(const NetworkSpec& spec);

// Checks the spec's invariants, kMaxParameters among them; throws InputError(source, key, ...) when broken.
void validate(const NetworkSpec& spec, const std::string& source);

// Parameters as a flat list of named arrays: bias of each module (n x 1), then
// per coupling W (dense) or U and V (bilinear), then the bias tables of modules
// that have one. Gradients share this layout.
using ParamList = std::vector<Eigen::MatrixXd>;

class Network {
 public:
  explicit Network(NetworkSpec spec);  // zero parameters

  const NetworkSpec& spec() const { return spec_; }
  int module_count() const { return static_cast<int>(spec_.modules.size()); }
  int size(int m) const { return spec_.modules[m].size; }

  ParamList& params() { return params_; }
  const ParamList& params() const { return params_; }
  const std::vector<std::string>& param_names() const { return names_; }
  long parameter_count() const;

  int bias_index(int m) const { return m; }
  int w_index(int c) const { return first_w_[c]; }      // W or U
  int v_index(int c) const { return first_w_[c] + 1; }  // V (bilinear only)
  const Eigen::MatrixXd& bias(int m) const { return params_[m]; }
  const Eigen::MatrixXd& w(int c) const { return params_[first_w_[c]]; }
  const Eigen::MatrixXd& v(int c) const { return params_[first_w_[c] + 1]; }
  int table_index(int m) const { return table_[m]; }  // -1: the module has no table
  bool is_self(int c) const { return spec_.couplings[c].p == spec_.couplings[c].q; }

  // Xavier-normal init (std = gain*sqrt(2/(fan_in+fan_out))), zero biases and tables;
// intra-module couplings symmetric with zero diagonal.
  void init_xavier(double gain, unsigned long long seed);

  // A zero ParamList of the same layout.
  ParamList zeros_like() const;

 private:
  NetworkSpec spec_;
  ParamList params_;
  std::vector<std::string> names_;
  std::vector<int> first_w_;
  std::vector<int> table_;
};

// The FlowEqProp network of DESIGN.md §3: x(64, identity) - h1(128, tanh) - h2(128, tanh).
NetworkSpec floweqprop_spec();

// ParamList arithmetic.
void axpy(double a, const ParamList& x, ParamList& y);  // y += a x
double dot(const ParamList& x, const ParamList& y);
double norm(const ParamList& x);
double cosine(const ParamList& x, const ParamList& y);

}  // namespace eqsim::model
