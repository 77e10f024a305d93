#include "circuit/circuit.hpp"

#include <cctype>

#include <algorithm>

namespace eqsim::circuit {

bool is_ground(const std::string& node) { return node == "0" || node == "gnd"; }

std::vector<std::string> node_names(const Circuit& c) {
  std::vector<std::string> all;
  for (const auto& e : c.elements) {
    for (const auto* n : {&e.n_plus, &e.n_minus, &e.c_plus, &e.c_minus})
      if (!n->empty()) all.push_back(*n);
    all.insert(all.end(), e.pins.begin(), e.pins.end());
    if (e.kind == ElementKind::bsource) collect_nodes(e.expr, all);
  }
  std::erase_if(all, is_ground);
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

bool has_subcircuits(const Circuit& c) {
  if (!c.library.empty()) return true;
  return std::any_of(c.elements.begin(), c.elements.end(), [](const Element& e) { return e.kind == ElementKind::subckt; });
}

Element make_two_terminal(ElementKind k, const std::string& name, const std::string& a, const std::string& b, double v) {
  Element e;
  e.kind = k;
  e.name = name;
  e.n_plus = a;
  e.n_minus = b;
  e.value = v;
  return e;
}

std::string lower_case(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Element make_bsource(const std::string& name, const std::string& into, const std::string& expression) {
  Element e;
  e.kind = ElementKind::bsource;
  e.name = name;
  e.n_plus = "0";
  e.n_minus = into;
  e.expression = expression;
  e.expr = parse_expression(expression);
  return e;
}

}  // namespace eqsim::circuit
