#pragma once
// Reading and writing the supported ngspice subset (see circuit.hpp). The
// writer emits plain text that stock `ngspice -b` runs: C locale, %.17g numbers,
// so both backends see identical values.
#include <string>

#include "circuit/circuit.hpp"

namespace eqsim::circuit {

// Parses netlist text. The first line is the title (SPICE rule); '*' lines are
// comments, '+' lines continue the previous one, ';' starts an inline comment.
// Throws InputError(source, "line N", ...) for an unknown element or directive,
// a malformed value, a non-positive R or C, a duplicate name.
Circuit parse_netlist(const std::string& text, const std::string& source);

// Reads and parses a file; throws InputError if it cannot be read.
Circuit read_netlist(const std::string& path);

// Netlist text of c (title, header comments, elements, .ic, .tran ... uic, .end).
std::string write_netlist(const Circuit& c);

// One element as a netlist line (no newline).
std::string element_line(const Element& e);

// %.17g in the C locale.
std::string format_number(double v);

}  // namespace eqsim::circuit
