#include "circuit/transistor_level.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "circuit/netlist.hpp"
#include "data/error.hpp"

namespace eqsim::circuit {

Circuit with_transistor_cells(const Circuit& behavioural, const TransistorCell& cell, const DeviceModel& dm) {
  Circuit c = behavioural;
  c.elements.clear();
  c.library.insert(c.library.end(), cell.library.begin(), cell.library.end());
  const bool trim = cell.offset_trim_V != 0;
  std::set<std::string> replaced;  // names of the replaced devices, for their supply draws
  for (const auto& e : behavioural.elements) {
    Transconductance t;
    if (e.kind != ElementKind::bsource || !match_transconductance(e.expr, t)) {
      c.elements.push_back(e);
      continue;
    }
    if (!is_ground(e.n_plus))
      throw InputError(behavioural.source, e.name, "a transistor cell sources current into one node from the supplies");
    if (t.offset_V != 0)
      throw InputError(behavioural.source, e.name,
                       "has an input offset: transistor-level mismatch is drawn per transistor, not per behavioural device");
    const std::string base = e.name.substr(1);
    const std::string bias_node = "nb_" + lower_case(base);
    const double tail_A = std::abs(t.gain) / t.scale_V * dm.v_unit_V;
    c.elements.push_back(make_two_terminal(ElementKind::isource, "IB_" + base, "vdd", bias_node, tail_A));
    Element x;
    x.kind = ElementKind::subckt;
    x.name = "X" + base;
    const std::string p_ref = trim ? "vtrim_p" : "0", n_in = trim ? "vtrim_n" : "0";
    x.pins = {e.n_minus, t.gain > 0 ? t.input : n_in, t.gain > 0 ? p_ref : t.input, "vdd", "vss", bias_node};
    x.subckt_name = cell.name;
    c.elements.push_back(std::move(x));
    replaced.insert("isup_" + lower_case(base));
  }
  std::erase_if(c.elements, [&](const Element& e) {
    return e.kind == ElementKind::isource && replaced.count(lower_case(e.name));
  });
  for (auto& e : c.elements)
    if (e.kind == ElementKind::vsource && lower_case(e.name) == c.supply) e.value = dm.VDD_V / 2;
  c.elements.push_back(make_two_terminal(ElementKind::vsource, "VSS", "vss", "0", -dm.VDD_V / 2));
  if (trim) {
    c.elements.push_back(make_two_terminal(ElementKind::vsource, "VTRIM_P", "vtrim_p", "0", -cell.offset_trim_V));
    c.elements.push_back(make_two_terminal(ElementKind::vsource, "VTRIM_N", "vtrim_n", "0", cell.offset_trim_V));
  }
  c.header.push_back("transistor level: every transconductor is an instance X* of " + cell.name + " (" + cell.description +
                     "): weight sign by the input pins (negative: in = ground, ref = the input node), magnitude by its "
                     "tail current I_tail = |gm| v_unit_V fed into its bias pin by IB_* from vdd; identity-input couplings "
                     "get the cell's tanh (exact only for |V| << v_unit); supplies vdd = +VDD/2, vss = -VDD/2 around ground" +
                     (trim ? "; systematic offset " + format_number(cell.offset_trim_V) +
                                 " V trimmed by VTRIM_P (ref of positive cells) and VTRIM_N (in of negative cells)"
                           : std::string()));
  return c;
}

}  // namespace eqsim::circuit
