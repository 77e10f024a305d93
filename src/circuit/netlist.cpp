#include "circuit/netlist.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "data/error.hpp"

namespace eqsim::circuit {

namespace {

// The white space split() separates words by (std::isspace in the C locale).
constexpr const char* kSpace = " \t\n\v\f\r";

// Without surrounding white space (a line of only '\v' is empty).
std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(kSpace);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}

// What follows the first `words` words of s ("" if s has no more).
std::string after_words(const std::string& s, int words) {
  size_t pos = 0;
  for (int k = 0; k < words && pos != std::string::npos; ++k)
    pos = s.find_first_of(kSpace, s.find_first_not_of(kSpace, pos));
  return pos == std::string::npos ? std::string() : s.substr(pos);
}

// Removes spaces around '=' so "IC = 1" reads as one token "IC=1".
std::string glue_equals(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '=') {
      while (!out.empty() && out.back() == ' ') out.pop_back();
      out += '=';
      while (i + 1 < s.size() && (s[i + 1] == ' ' || s[i + 1] == '\t')) ++i;
    } else {
      out += s[i] == '\t' ? ' ' : s[i];
    }
  }
  return out;
}

std::vector<std::string> split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> t;
  for (std::string w; in >> w;) t.push_back(w);
  return t;
}

struct Logical {
  std::string text;
  int line;
};

// The number of an "* eqsim: KEY=" header comment on line n.
double header_number(const std::string& key, const std::string& text, const Circuit& c, int n) {
  try {
    return parse_spice_number(trim(text));
  } catch (const std::invalid_argument&) {
    throw InputError(c.source, "line " + std::to_string(n), "eqsim header " + key + "='" + text + "' is not a number");
  }
}

// Title, comments and continuations resolved into logical lines.
std::vector<Logical> logical_lines(const std::string& text, Circuit& c) {
  std::vector<Logical> out;
  std::istringstream in(text);
  std::string raw;
  for (int n = 1; std::getline(in, raw); ++n) {
    if (n == 1) {
      c.title = trim(raw.rfind('*', 0) == 0 ? raw.substr(1) : raw);
      continue;
    }
    std::string s = trim(raw);
    if (s.rfind("*", 0) == 0) {
      const std::string body = lower_case(trim(s.substr(1)));
      if (body.rfind("eqsim: noise_gamma=", 0) == 0) c.noise_gamma = header_number("noise_gamma", body.substr(19), c, n);
      if (body.rfind("eqsim: supply=", 0) == 0) c.supply = trim(body.substr(14));
      c.header.push_back(trim(s.substr(1)));
      continue;
    }
    if (const auto k = s.find(';'); k != std::string::npos) s = trim(s.substr(0, k));
    if (const auto k = s.find(" $"); k != std::string::npos) s = trim(s.substr(0, k));
    if (s.empty()) continue;
    if (s[0] == '+' && !out.empty()) out.back().text += " " + s.substr(1);
    else out.push_back({s, n});
  }
  return out;
}

class LineParser {
 public:
  LineParser(Circuit& c, const Logical& l) : c_(c), l_(l) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(c_.source, "line " + std::to_string(l_.line), what);
  }

  double number(const std::string& t, const std::string& what) const {
    try {
      return parse_spice_number(t);
    } catch (const std::invalid_argument&) {
      fail("bad " + what + " '" + t + "'");
    }
  }

  // Returns false at .end.
  bool parse() {
    const std::string s = glue_equals(l_.text);
    if (s[0] == '.') return directive(split(s));
    element(s);
    return true;
  }

 private:
  bool directive(const std::vector<std::string>& t) {
    const std::string d = lower_case(t[0]);
    if (d == ".end") return false;
    if (d == ".tran") tran(t);
    else if (d == ".ic") initial(t);
    else if (d == ".options" || d == ".option") c_.options.push_back(l_.text);
    else if (d == ".print" || d == ".save") return true;  // batch-mode output requests: eqsim reads every node
    else if (d == ".model") c_.library.push_back(l_.text);
    else if (d == ".include" || d == ".inc" || d == ".lib") include(t);
    else fail("unsupported directive '" + t[0] + "' (supported: .tran .ic .options .print .save .subckt .model .include .lib .end)");
    return true;
  }
  // A relative path is taken from the netlist's folder (ngspice would read it from its working directory).
  void include(const std::vector<std::string>& t) {
    if (t.size() < 2) fail(t[0] + " needs a file name");
    std::string path = t[1];
    if (path.size() >= 2 && (path.front() == '"' || path.front() == '\'')) path = path.substr(1, path.size() - 2);
    const std::filesystem::path p(path);
    if (p.is_relative() && !c_.source.empty()) path = (std::filesystem::path(c_.source).parent_path() / p).string();
    std::string line = t[0] + " " + path;
    for (size_t i = 2; i < t.size(); ++i) line += " " + t[i];
    c_.library.push_back(line);
  }
  void tran(const std::vector<std::string>& t) {
    if (t.size() < 3) fail(".tran needs a step and a stop time");
    c_.tran_step_s = number(t[1], ".tran step");
    c_.tran_stop_s = number(t[2], ".tran stop time");
    if (c_.tran_step_s <= 0 || c_.tran_stop_s <= 0) fail(".tran times must be positive");
  }
  void initial(const std::vector<std::string>& t) {
    for (size_t i = 1; i < t.size(); ++i) {
      const std::string w = lower_case(t[i]);
      const auto eq = w.find(")=");
      if (w.rfind("v(", 0) != 0 || eq == std::string::npos) fail("expected V(node)=value, got '" + t[i] + "'");
      const std::string node = w.substr(2, eq - 2);
      c_.initial_V[node] = number(w.substr(eq + 2), "initial voltage");
      c_.initial_line[node] = l_.line;
    }
  }
  void need(const std::vector<std::string>& t, size_t n, const char* form) const {
    if (t.size() < n) fail(std::string("expected ") + form);
  }
  void element(const std::string& s) {
    auto t = split(s);
    Element e;
    e.name = t[0];
    e.line = l_.line;
    const char kind = static_cast<char>(std::tolower(static_cast<unsigned char>(t[0][0])));
    if (kind == 'b') return bsource(s, std::move(e));
    if (kind == 'x') return instance(t, std::move(e));
    need(t, 4, "NAME N+ N- VALUE");
    e.n_plus = lower_case(t[1]);
    e.n_minus = lower_case(t[2]);
    switch (kind) {
      case 'r': passive(e, ElementKind::resistor, t, "resistance"); break;
      case 'c': passive(e, ElementKind::capacitor, t, "capacitance"); break;
      case 'v': source(e, ElementKind::vsource, t); break;
      case 'i': source(e, ElementKind::isource, t); break;
      case 'g': vccs(e, t); break;
      default: fail("unsupported element '" + t[0] + "' (supported: R C V I G B X)");
    }
    c_.elements.push_back(std::move(e));
  }
  void passive(Element& e, ElementKind k, const std::vector<std::string>& t, const std::string& what) {
    e.kind = k;
    e.value = number(t[3], what);
    if (e.value < 0) fail("negative " + what + " " + t[3] + " in " + e.name);
    if (e.value == 0) fail("zero " + what + " in " + e.name);
    for (size_t i = 4; i < t.size(); ++i) {
      const std::string w = lower_case(t[i]);
      if (k == ElementKind::capacitor && w.rfind("ic=", 0) == 0) e.ic_V = number(w.substr(3), "IC");
      else fail("unsupported parameter '" + t[i] + "' on " + e.name);
    }
  }
  void source(Element& e, ElementKind k, const std::vector<std::string>& t) {
    e.kind = k;
    size_t i = 3;
    if (lower_case(t[i]) == "dc") ++i;
    if (i >= t.size()) fail("missing DC value on " + e.name);
    e.value = number(t[i], "source value");
    if (i + 1 != t.size()) fail("only DC sources are supported ('" + t[i + 1] + "' on " + e.name + ")");
  }
  void vccs(Element& e, const std::vector<std::string>& t) {
    need(t, 6, "GNAME N+ N- NC+ NC- TRANSCONDUCTANCE");
    e.kind = ElementKind::vccs;
    e.c_plus = lower_case(t[3]);
    e.c_minus = lower_case(t[4]);
    e.value = number(t[5], "transconductance");
    if (t.size() > 6) fail("unsupported parameter '" + t[6] + "' on " + e.name);
  }
  void instance(const std::vector<std::string>& t, Element e) {
    need(t, 3, "XNAME NODE... SUBCKT");
    for (const auto& w : t)
      if (w.find('=') != std::string::npos) fail("unsupported parameter '" + w + "' on " + e.name);
    e.kind = ElementKind::subckt;
    for (size_t i = 1; i + 1 < t.size(); ++i) e.pins.push_back(lower_case(t[i]));
    e.subckt_name = lower_case(t.back());
    c_.elements.push_back(std::move(e));
  }
  void bsource(const std::string& s, Element e) {
    auto t = split(s);
    need(t, 4, "BNAME N+ N- I=EXPRESSION");
    e.kind = ElementKind::bsource;
    e.n_plus = lower_case(t[1]);
    e.n_minus = lower_case(t[2]);
    // The expression is everything after "I=" (it may contain spaces).
    const std::string rest = trim(after_words(s, 3));
    if (rest.size() < 2 || std::tolower(static_cast<unsigned char>(rest[0])) != 'i' || rest[1] != '=')
      fail("only current B-sources (I=...) are supported on " + e.name);
    e.expression = trim(rest.substr(2));
    try {
      e.expr = parse_expression(e.expression);
    } catch (const std::invalid_argument& err) {
      fail(err.what());
    }
    c_.elements.push_back(std::move(e));
  }

  Circuit& c_;
  const Logical& l_;
};

}  // namespace

std::string format_number(double v) { return fmt::format("{:.17g}", v); }

Circuit parse_netlist(const std::string& text, const std::string& source) {
  Circuit c;
  c.source = source;
  std::set<std::string> names;
  int subckt_line = 0;  // inside .subckt ... .ends: its first line
  for (const auto& l : logical_lines(text, c)) {
    const std::string d = lower_case(split(l.text)[0]);
    if (subckt_line || d == ".subckt") {
      c.library.push_back(l.text);
      subckt_line = d == ".ends" ? 0 : (subckt_line ? subckt_line : l.line);
      continue;
    }
    LineParser p(c, l);
    const size_t before = c.elements.size();
    if (!p.parse()) break;
    if (c.elements.size() > before && !names.insert(lower_case(c.elements.back().name)).second)
      p.fail("duplicate element name '" + c.elements.back().name + "'");
  }
  if (subckt_line) throw InputError(source, "line " + std::to_string(subckt_line), ".subckt without .ends");
  return c;
}

Circuit read_netlist(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "cannot read netlist");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_netlist(ss.str(), path);
}

std::string element_line(const Element& e) {
  const std::string head = e.name + " " + e.n_plus + " " + e.n_minus + " ";
  switch (e.kind) {
    case ElementKind::resistor: return head + format_number(e.value);
    case ElementKind::capacitor:
      return head + format_number(e.value) + (e.ic_V ? " IC=" + format_number(*e.ic_V) : "");
    case ElementKind::vsource:
    case ElementKind::isource: return head + "DC " + format_number(e.value);
    case ElementKind::vccs: return head + e.c_plus + " " + e.c_minus + " " + format_number(e.value);
    case ElementKind::bsource: return head + "I=" + e.expression;
    case ElementKind::subckt: {
      std::string line = e.name;
      for (const auto& p : e.pins) line += " " + p;
      return line + " " + e.subckt_name;
    }
  }
  return head;
}

static bool has_element(const Circuit& c, const std::string& lower_name) {
  for (const auto& e : c.elements) {
    std::string n = e.name;
    for (auto& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (n == lower_name) return true;
  }
  return false;
}

std::string write_netlist(const Circuit& c) {
  std::string out = "* " + c.title + "\n";
  for (const auto& h : c.header)
    if (h.rfind("eqsim: ", 0) != 0) out += "* " + h + "\n";
  out += "* eqsim: noise_gamma=" + format_number(c.noise_gamma) + "\n";
  out += "* eqsim: supply=" + c.supply + "\n";
  for (const auto& o : c.options) out += o + "\n";
  for (const auto& l : c.library) out += l + "\n";
  for (const auto& e : c.elements) out += element_line(e) + "\n";
  if (!c.initial_V.empty()) {
    out += ".ic";
    for (const auto& [n, v] : c.initial_V) out += " V(" + n + ")=" + format_number(v);
    out += "\n";
  }
  if (c.tran_stop_s > 0) {
    out += ".tran " + format_number(c.tran_step_s) + " " + format_number(c.tran_stop_s) + " uic\n";
    // Stock `ngspice -b` only simulates when there is an output request: the supply current.
    if (has_element(c, c.supply)) out += ".print tran i(" + c.supply + ")\n";
  }
  return out + ".end\n";
}

}  // namespace eqsim::circuit
