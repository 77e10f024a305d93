#pragma once
// The in-memory circuit: the supported ngspice subset (R, C, V, I, G, B with a
// current expression), initial conditions and the transient request. Node names
// are lower-case; "0" is ground. Parsed netlists keep each element's line
// number so every later complaint can name it.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "circuit/expression.hpp"

namespace eqsim::circuit {

enum class ElementKind { resistor, capacitor, vsource, isource, vccs, bsource };

struct Element {
  ElementKind kind = ElementKind::resistor;
  std::string name;              // as written, first letter gives the kind
  std::string n_plus, n_minus;   // current flows from n_plus through the element to n_minus
  std::string c_plus, c_minus;   // vccs controlling nodes
  double value = 0;              // ohm, farad, volt, ampere or siemens
  std::optional<double> ic_V;    // capacitor IC=
  std::string expression;        // bsource: the current expression text
  Expr expr;                     // bsource: parsed expression
  int line = 0;                  // source line (0 when built in memory)
};

struct Circuit {
  std::string title;                         // first netlist line
  std::vector<std::string> header;           // comment lines written after the title
  std::vector<Element> elements;
  std::map<std::string, double> initial_V;   // .ic V(node)=value
  std::map<std::string, int> initial_line;   // .ic line per node
  std::vector<std::string> options;          // .options lines, passed through to ngspice
  double tran_step_s = 0, tran_stop_s = 0;   // .tran (0: absent)
  double noise_gamma = 2.0 / 3.0;            // transconductor noise factor ("* eqsim: noise_gamma=")
  std::string supply = "vdd";                // name of the supply V source, lower-case
  std::string source;                        // file name for messages ("" when in memory)
};

// True for the ground node ("0" or "gnd").
bool is_ground(const std::string& node);

// Every node an element connects or reads, ground excluded, sorted, unique.
std::vector<std::string> node_names(const Circuit& c);

// A B-source element injecting expression current into node `into` (from ground).
Element make_bsource(const std::string& name, const std::string& into, const std::string& expression);

}  // namespace eqsim::circuit
