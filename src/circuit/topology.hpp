#pragma once
// Structural facts about a circuit that both backends need: which nodes are
// held by voltage sources, whether every node is properly connected, and the
// RC time constants that set sensible time steps.
#include <map>
#include <string>

#include "circuit/circuit.hpp"

namespace eqsim::circuit {

struct DrivenNode {
  double value_V = 0;
  int line = 0;
  std::string source;  // element name
};

// Nodes held by a V source whose other terminal is ground. Throws InputError
// naming the line for a V source between two non-ground nodes or a node held twice.
std::map<std::string, DrivenNode> driven_nodes(const Circuit& c);

// Throws InputError naming the line for a dangling node (a single element
// terminal on it, unless a voltage source holds it) or a node an expression or G
// element reads but nothing connects.
void check_topology(const Circuit& c);

// Capacitance to anything and conductance (resistors, self-controlled G) per
// node, and the fastest and slowest C/G time constants over the free nodes
// (tau_max_s is +inf when some free node has no conductance).
struct NodeScales {
  std::map<std::string, double> c_F, g_siemens;
  double tau_min_s = 0, tau_max_s = 0;
};
NodeScales node_scales(const Circuit& c);

}  // namespace eqsim::circuit
