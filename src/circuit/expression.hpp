#pragma once
// B-source current expressions of the supported ngspice subset: numbers (with
// SPICE scale suffixes), V(node), V(a,b), tanh(...), unary minus, + - * / and
// parentheses. Parsed once into a small tree that backends evaluate or match.
#include <string>
#include <vector>

namespace eqsim::circuit {

struct Expr {
  enum class Op { constant, voltage, neg, add, sub, mul, div, tanh };
  Op op = Op::constant;
  double value = 0;              // constant
  std::string node_a, node_b;    // voltage: V(node_a) or V(node_a, node_b); names lower-case
  std::vector<Expr> args;        // operands (1 for neg/tanh, 2 for binary ops)
};

// Parses text; throws std::invalid_argument naming the offending position.
Expr parse_expression(const std::string& text);

// The canonical transconductor forms the netlister writes and fast backends
// assemble into matrices: I = gain * f((V(input) - offset_V) / scale_V) with
// f = tanh (scale_V > 0) or f = identity (tanh_input false, scale_V = 1).
struct Transconductance {
  double gain = 0;       // A (tanh) or siemens (identity)
  std::string input;     // controlling node, lower-case
  double offset_V = 0;
  double scale_V = 1;
  bool tanh_input = false;
};

// Matches k*tanh(V(n)/s), k*tanh((V(n)-o)/s), k*V(n), k*(V(n)-o); false otherwise.
bool match_transconductance(const Expr& e, Transconductance& out);

// Parses a SPICE number with optional scale suffix (f p n u m k meg g t) and
// trailing unit letters ("1.5pF"); throws std::invalid_argument if malformed.
double parse_spice_number(const std::string& text);

// Every node name the expression reads (may repeat).
void collect_nodes(const Expr& e, std::vector<std::string>& out);

}  // namespace eqsim::circuit
