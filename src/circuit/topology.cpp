#include "circuit/topology.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "data/error.hpp"

namespace eqsim::circuit {

namespace {

[[noreturn]] void fail(const Circuit& c, int line, const std::string& what) {
  throw InputError(c.source, line > 0 ? "line " + std::to_string(line) : "", what);
}

}  // namespace

std::map<std::string, DrivenNode> driven_nodes(const Circuit& c) {
  std::map<std::string, DrivenNode> out;
  for (const auto& e : c.elements) {
    if (e.kind != ElementKind::vsource) continue;
    const bool plus_ground = is_ground(e.n_plus), minus_ground = is_ground(e.n_minus);
    if (plus_ground == minus_ground)
      fail(c, e.line, "voltage source " + e.name + " must have exactly one terminal at ground");
    const std::string node = plus_ground ? e.n_minus : e.n_plus;
    if (out.count(node)) fail(c, e.line, "node " + node + " is held by two voltage sources");
    out[node] = {plus_ground ? -e.value : e.value, e.line, e.name};
  }
  return out;
}

void check_topology(const Circuit& c) {
  std::map<std::string, int> terminals, first_line;
  for (const auto& e : c.elements) {
    std::vector<std::string> nodes{e.n_plus, e.n_minus};
    if (e.kind == ElementKind::subckt) nodes = e.pins;
    for (const auto& n : nodes) {
      if (is_ground(n)) continue;
      ++terminals[n];
      first_line.emplace(n, e.line);
    }
  }
  for (const auto& e : c.elements) {
    std::vector<std::string> read;
    if (e.kind == ElementKind::bsource) collect_nodes(e.expr, read);
    if (e.kind == ElementKind::vccs) read = {e.c_plus, e.c_minus};
    for (const auto& n : read)
      if (!is_ground(n) && !terminals.count(n))
        fail(c, e.line, e.name + " reads node " + n + ", which no element connects");
  }
  const auto held = driven_nodes(c);  // a node a voltage source holds may feed only a control input
  for (const auto& [node, count] : terminals)
    if (count < 2 && !held.count(node)) fail(c, first_line[node], "dangling node " + node + " (only one element terminal on it)");
}

NodeScales node_scales(const Circuit& c) {
  NodeScales s;
  const auto driven = driven_nodes(c);
  auto add = [&](std::map<std::string, double>& m, const Element& e, double v) {
    for (const auto* n : {&e.n_plus, &e.n_minus})
      if (!is_ground(*n)) m[*n] += v;
  };
  for (const auto& e : c.elements) {
    if (e.kind == ElementKind::capacitor) add(s.c_F, e, e.value);
    if (e.kind == ElementKind::resistor) add(s.g_siemens, e, 1.0 / e.value);
    if (e.kind == ElementKind::vccs && e.n_plus == e.c_plus) add(s.g_siemens, e, std::abs(e.value));
  }
  s.tau_min_s = std::numeric_limits<double>::infinity();
  for (const auto& [node, cap] : s.c_F) {
    if (driven.count(node)) continue;
    const double g = s.g_siemens.count(node) ? s.g_siemens.at(node) : 0.0;
    const double tau = g > 0 ? cap / g : std::numeric_limits<double>::infinity();
    s.tau_min_s = std::min(s.tau_min_s, tau);
    s.tau_max_s = std::max(s.tau_max_s, tau);
  }
  return s;
}

}  // namespace eqsim::circuit
