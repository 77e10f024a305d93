#pragma once
// The in-memory circuit: the supported ngspice subset (R, C, V, I, G, B with a
// current expression, X subcircuit instances), initial conditions and the
// transient request. Subcircuits and device models (.subckt ... .ends, .model,
// .include, .lib) are kept as text for the spice backend; the ode backend
// refuses a circuit that has them. Node names
// are lower-case; "0" is ground. Parsed netlists keep each element's line
// number so every later complaint can name it.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "circuit/expression.hpp"

namespace eqsim::circuit {

struct CircuitOrigin;  // circuit/netlister.hpp

enum class ElementKind { resistor, capacitor, vsource, isource, vccs, bsource, subckt };

struct Element {
  ElementKind kind = ElementKind::resistor;
  std::string name;              // as written, first letter gives the kind
  std::string n_plus, n_minus;   // current flows from n_plus through the element to n_minus
  std::string c_plus, c_minus;   // vccs controlling nodes
  double value = 0;              // ohm, farad, volt, ampere or siemens
  std::optional<double> ic_V;    // capacitor IC=
  std::string expression;        // bsource: the current expression text
  Expr expr;                     // bsource: parsed expression
  std::vector<std::string> pins; // subckt: the instance's nodes, in the subcircuit's pin order
  std::string subckt_name;       // subckt: name of the .subckt it instantiates
  int line = 0;                  // source line (0 when built in memory)
};

struct Circuit {
  std::string title;                         // first netlist line
  std::vector<std::string> header;           // comment lines written after the title
  std::vector<Element> elements;
  std::map<std::string, double> initial_V;   // .ic V(node)=value
  std::map<std::string, int> initial_line;   // .ic line per node
  std::vector<std::string> options;          // .options lines, passed through to ngspice
  std::vector<std::string> library;          // .subckt blocks, .model, .include, .lib lines, as written
  double tran_step_s = 0, tran_stop_s = 0;   // .tran (0: absent)
  double noise_gamma = 2.0 / 3.0;            // transconductor noise factor ("* eqsim: noise_gamma=")
  std::string supply = "vdd";                // name of the supply V source, lower-case
  std::string source;                        // file name for messages ("" when in memory)
  // What a circuit eqsim generated was built from (set by netlist_network; shared, so
  // copies are cheap); none for a netlist read from a file. The chip backend relaxes it.
  std::shared_ptr<const CircuitOrigin> origin;
};

// True for the ground node ("0" or "gnd").
bool is_ground(const std::string& node);

// Every node an element connects or reads, ground excluded, sorted, unique.
std::vector<std::string> node_names(const Circuit& c);

// True when c needs a SPICE engine: subcircuit instances or library text.
bool has_subcircuits(const Circuit& c);

// A two-terminal element of kind k from a to b with value v (R, C, V, I).
Element make_two_terminal(ElementKind k, const std::string& name, const std::string& a, const std::string& b, double v);

// s in lower case (node names are).
std::string lower_case(std::string s);

// A B-source element injecting expression current into node `into` (from ground).
Element make_bsource(const std::string& name, const std::string& into, const std::string& expression);

}  // namespace eqsim::circuit
