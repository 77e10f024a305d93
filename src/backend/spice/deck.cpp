#include "backend/spice/deck.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "backend/analysis.hpp"
#include "circuit/netlist.hpp"

namespace eqsim::backend::spice {

namespace {

using circuit::ElementKind;

// Names not taken yet (case-insensitive): the wish, or the wish with '_' appended until free.
class FreshNames {
 public:
  explicit FreshNames(std::set<std::string> taken) : taken_(std::move(taken)) {}
  std::string operator()(std::string wish) {
    while (!taken_.insert(circuit::lower_case(wish)).second) wish += '_';
    return wish;
  }

 private:
  std::set<std::string> taken_;
};

// The elements of c as DeckForm::compiled writes them.
class Compiler {
 public:
  explicit Compiler(const circuit::Circuit& c) : nodes_(taken_nodes(c)), elements_(taken_elements(c)) {}

  std::vector<std::string> lines(const circuit::Circuit& c) {
    std::vector<std::string> out;
    for (const auto& e : c.elements) element(e, out);
    return out;
  }

 private:
  static std::set<std::string> taken_nodes(const circuit::Circuit& c) {
    const auto n = circuit::node_names(c);
    return {n.begin(), n.end()};
  }
  static std::set<std::string> taken_elements(const circuit::Circuit& c) {
    std::set<std::string> names;
    for (const auto& e : c.elements) names.insert(circuit::lower_case(e.name));
    return names;
  }

  void element(const circuit::Element& e, std::vector<std::string>& out) {
    circuit::Transconductance t;
    if (e.kind != ElementKind::bsource || !circuit::match_transconductance(e.expr, t) ||
        (t.tanh_input && t.offset_V != 0)) {
      out.push_back(circuit::element_line(e));
      return;
    }
    const std::string base = e.name.substr(1);
    circuit::Element g = circuit::make_two_terminal(ElementKind::vccs, elements_("G" + base), e.n_plus, e.n_minus, t.gain);
    g.c_plus = t.tanh_input ? shared_tanh(t.input, t.scale_V, out) : t.input;
    g.c_minus = "0";
    if (t.tanh_input) g.value = t.gain / t.scale_V;
    out.push_back(circuit::element_line(g));
    if (t.offset_V != 0)
      out.push_back(circuit::element_line(
          circuit::make_two_terminal(ElementKind::isource, elements_("I" + base), e.n_plus, e.n_minus, -t.gain * t.offset_V)));
  }

  // The node holding scale * tanh(V(input) / scale): a B-source into 1 ohm, written at first use.
  std::string shared_tanh(const std::string& input, double scale_V, std::vector<std::string>& out) {
    const auto [it, fresh] = shared_.try_emplace({input, scale_V});
    if (!fresh) return it->second;
    it->second = nodes_("tanh_" + input);
    const std::string s = circuit::format_number(scale_V);
    out.push_back(circuit::element_line(circuit::make_bsource(elements_("B" + it->second), it->second,
                                                              s + "*tanh(V(" + input + ")/" + s + ")")));
    out.push_back(circuit::element_line(circuit::make_two_terminal(ElementKind::resistor, elements_("R" + it->second),
                                                                   it->second, "0", 1.0)));
    return it->second;
  }

  FreshNames nodes_, elements_;
  std::map<std::pair<std::string, double>, std::string> shared_;
};

}  // namespace

std::vector<std::string> spice_deck(const circuit::Circuit& c, const RelaxOptions& opt, DeckForm form) {
  const Plan plan = make_plan(c, opt);
  std::vector<std::string> deck{"* " + c.title};
  deck.push_back(fmt::format(".options reltol={:g} vntol={:g} abstol=1e-15", std::max(opt.rel_tol, 1e-6),
                             std::max(opt.abs_tol_V, 1e-9)));
  for (const auto& o : c.options) deck.push_back(o);
  for (const auto& l : c.library) deck.push_back(l);
  if (form == DeckForm::compiled) {
    for (auto& l : Compiler(c).lines(c)) deck.push_back(std::move(l));
  } else {
    for (const auto& e : c.elements) deck.push_back(circuit::element_line(e));
  }
  if (opt.temperature_K > 0) {
    int k = 0;
    for (const auto& n : thermal_noise(c, opt.temperature_K))
      deck.push_back(fmt::format("Inoise{} {} {} DC 0 trrandom(2 {:.17g} 0 {:.17g} 0)", k++, n.a, n.b, plan.noise_dt_s,
                                 std::sqrt(n.psd_A2_per_Hz / (2 * plan.noise_dt_s))));
  }
  std::string ic;
  for (const auto& [node, v] : c.initial_V) ic += " V(" + node + ")=" + circuit::format_number(v);
  if (!ic.empty()) deck.push_back(".ic" + ic);
  deck.push_back(".end");
  return deck;
}

}  // namespace eqsim::backend::spice
