#include "study/characterize/cell.hpp"

#include <fmt/format.h>

#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "circuit/expression.hpp"
#include "circuit/netlist.hpp"
#include "data/error.hpp"

namespace eqsim::study {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Whitespace-separated tokens with "k = v" glued into "k=v".
std::vector<std::string> tokens(const std::string& line) {
  std::string glued;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '=') {
      while (!glued.empty() && glued.back() == ' ') glued.pop_back();
      glued += '=';
      while (i + 1 < line.size() && std::isspace(static_cast<unsigned char>(line[i + 1]))) ++i;
    } else {
      glued += std::isspace(static_cast<unsigned char>(line[i])) ? ' ' : line[i];
    }
  }
  std::istringstream in(glued);
  std::vector<std::string> t;
  for (std::string w; in >> w;) t.push_back(w);
  return t;
}

CellTransistor transistor(const Cell& cell, const std::string& line) {
  const auto t = tokens(line);
  auto fail = [&](const std::string& what) { throw InputError(cell.path, t.empty() ? line : t[0], what); };
  if (t.size() < 6) fail("expected MNAME D G S B MODEL W=.. L=..");
  CellTransistor m;
  m.name = t[0];
  m.gate = lower(t[2]);
  for (size_t i = 6; i < t.size(); ++i) {
    const std::string w = lower(t[i]);
    try {
      if (w.rfind("w=", 0) == 0) m.W_m = circuit::parse_spice_number(w.substr(2));
      if (w.rfind("l=", 0) == 0) m.L_m = circuit::parse_spice_number(w.substr(2));
    } catch (const std::invalid_argument&) {
      fail("bad number in '" + t[i] + "'");
    }
  }
  if (!(m.W_m > 0) || !(m.L_m > 0)) fail("needs positive w= and l= (the Pelgrom areas)");
  return m;
}

std::string read_text(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "cannot read " + what);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The .model lines of a .include'd file (one level: the card files of device_models/cells/).
std::vector<std::string> included_models(const std::string& include_line) {
  const auto t = tokens(include_line);
  const std::string file = t.size() > 1 ? t[1] : "";
  const circuit::Circuit lib = circuit::parse_netlist("* " + file + "\n" + read_text(file, "included model file"), file);
  for (const auto& l : lib.library)
    if (lower(tokens(l)[0]) != ".model") throw InputError(file, tokens(l)[0], "an included model file holds .model lines only");
  return lib.library;
}

}  // namespace

Cell read_cell(const std::string& path) {
  const circuit::Circuit parsed = circuit::parse_netlist(read_text(path, "cell file"), path);
  Cell cell;
  cell.path = path;
  bool inside = false;
  for (const auto& line : parsed.library) {
    const auto t = tokens(line);
    const std::string d = lower(t[0]);
    if (d == ".subckt") {
      if (!cell.name.empty()) throw InputError(path, ".subckt " + t[1], "a cell file holds one .subckt");
      cell.name = lower(t.size() > 1 ? t[1] : "");
      std::vector<std::string> pins;
      for (size_t i = 2; i < t.size(); ++i) pins.push_back(lower(t[i]));
      if (pins != cell_pins)
        throw InputError(path, ".subckt " + cell.name, "pins must be 'out in ref vdd vss bias' (device_models/cells/README.md)");
      inside = true;
    } else if (d == ".ends") {
      inside = false;
    } else if (inside) {
      cell.body.push_back(line);
      if (std::tolower(static_cast<unsigned char>(d[0])) == 'm') cell.transistors.push_back(transistor(cell, line));
    } else if (d == ".include" || d == ".inc") {
      const auto lines = included_models(line);
      cell.model_files.push_back(tokens(line).at(1));
      cell.models.insert(cell.models.end(), lines.begin(), lines.end());
    } else {
      cell.models.push_back(line);
    }
  }
  if (cell.name.empty()) throw InputError(path, "", "no .subckt in the cell file");
  if (cell.transistors.empty()) throw InputError(path, ".subckt " + cell.name, "has no transistors (M lines)");
  if (input_pair(cell).size() != 2) throw InputError(path, ".subckt " + cell.name, "needs one transistor gated by 'in' and one by 'ref'");
  return cell;
}

std::vector<std::string> cell_variant(const Cell& cell, const std::string& name, const std::vector<TransistorDraw>& draws) {
  std::string head = ".subckt " + name;
  for (const auto& p : cell_pins) head += " " + p;
  std::vector<std::string> out{head};
  size_t k = 0;
  for (const auto& line : cell.body) {
    const bool mos = std::tolower(static_cast<unsigned char>(line[0])) == 'm';
    if (mos && !draws.empty()) {
      out.push_back(fmt::format("{} delvto={:.17g} mulu0={:.17g}", line, draws[k].delvto_V, draws[k].mulu0));
      ++k;
    } else {
      out.push_back(line);
    }
  }
  out.push_back(".ends " + name);
  return out;
}

circuit::TransistorCell transistor_cell(const Cell& cell) {
  circuit::TransistorCell t{cell.name, cell.path, cell.models};
  const auto sub = cell_variant(cell, cell.name, {});
  t.library.insert(t.library.end(), sub.begin(), sub.end());
  return t;
}

std::vector<int> input_pair(const Cell& cell) {
  std::vector<int> pair;
  for (int k = 0; k < static_cast<int>(cell.transistors.size()); ++k)
    if (cell.transistors[k].gate == "in" || cell.transistors[k].gate == "ref") pair.push_back(k);
  return pair;
}

}  // namespace eqsim::study
