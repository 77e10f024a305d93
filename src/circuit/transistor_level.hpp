#pragma once
// Transistor-level netlists (DESIGN.md §13): the behavioural circuit with every
// transconductor B-source (I = k f((V(in) - offset) / scale) into a node) replaced by
// an instance of a transistor-level cell with pins (out in ref vdd vss bias) whose
// output current is I_tail tanh((V(in) - V(ref)) / v_unit) into `out`:
//   sign       k > 0: in = the input node, ref = ground; k < 0: the two swapped;
//   magnitude  I_tail = |k| / scale * v_unit_V (the behavioural small-signal gm times
//              v_unit), fed into the bias pin by its own current source from vdd;
//   identity   inputs get the cell's tanh too (equal to the linear device for |V| << v_unit);
//   trim       with offset_trim_V = the cell's systematic offset V_os (I = 0 at
//              V(in) - V(ref) = V_os, from eqsim characterize), the grounded pins go to two
//              shared sources instead, vtrim_p = -V_os (ref of positive cells) and
//              vtrim_n = +V_os (in of negative cells): one chip-wide trim DAC pair;
//   supplies   vdd at +VDD_V/2 and vss at -VDD_V/2 around the unit nodes' ground; the
//              behavioural supply draws (ISUP_) are dropped, the cells draw their own.
// The cell's models and .subckt go into Circuit::library, so the netlist is
// self-contained; only the spice backend relaxes it.
#include <string>
#include <vector>

#include "circuit/circuit.hpp"
#include "circuit/device_model.hpp"

namespace eqsim::circuit {

struct TransistorCell {
  std::string name;                  // .subckt name
  std::string description;           // for the netlist header (file, node)
  std::vector<std::string> library;  // .model/.include lines and the .subckt block
  double offset_trim_V = 0;          // systematic offset to trim out; 0: pins at ground
};

// Throws InputError for a transconductor with an input offset (mismatch draws belong to
// the cell's transistors, not to the behavioural devices) or one not driven from ground.
Circuit with_transistor_cells(const Circuit& behavioural, const TransistorCell& cell, const DeviceModel& dm);

}  // namespace eqsim::circuit
