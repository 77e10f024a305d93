#pragma once
// Transistor-level cells (DESIGN.md §13): a cell file is an ngspice netlist whose
// .subckt has the pins (out in ref vdd vss bias) of device_models/cells/README.md
// and whose models come with it (.model lines or .include files). A cell is kept
// as text; copies with per-transistor mismatch draws (BSIM4 instance parameters
// delvto and mulu0) are what Monte-Carlo studies and mismatched netlists use.
#include <string>
#include <vector>

#include "circuit/transistor_level.hpp"

namespace eqsim::study {

struct CellTransistor {
  std::string name;   // as written in the .subckt (e.g. "MI")
  std::string gate;   // gate node inside the subcircuit, lower-case
  double W_m = 0, L_m = 0;
};

struct Cell {
  std::string path;                       // the cell file
  std::string name;                       // the .subckt's name, lower-case
  std::vector<std::string> models;        // .model lines, those of .include'd files inlined (self-contained decks)
  std::vector<std::string> model_files;   // the .include'd files (for provenance notes)
  std::vector<std::string> body;          // the lines between .subckt and .ends
  std::vector<CellTransistor> transistors;  // the M lines in order
};

// The pins every cell has, in order.
inline const std::vector<std::string> cell_pins{"out", "in", "ref", "vdd", "vss", "bias"};

// Reads a cell file. Throws InputError naming the file and line for a missing or
// second .subckt, pins other than cell_pins, or an M line without positive w= and l=.
Cell read_cell(const std::string& path);

// Per-transistor draws: threshold shift and mobility (current-factor) multiplier.
struct TransistorDraw {
  double delvto_V = 0;
  double mulu0 = 1;
};

// The .subckt block of a copy of the cell named `name`, with draws[k] appended to the
// k-th M line (draws.size() == transistors.size(); an empty vector: no draws).
std::vector<std::string> cell_variant(const Cell& cell, const std::string& name, const std::vector<TransistorDraw>& draws);

// The cell as the transistor-level netlister instantiates it: its models and nominal .subckt.
circuit::TransistorCell transistor_cell(const Cell& cell);

// Input-pair transistors: those whose gate is the "in" or "ref" pin.
std::vector<int> input_pair(const Cell& cell);

}  // namespace eqsim::study
