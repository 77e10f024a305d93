// The SPICE-conventions corpus (netlists/conventions/): every hand-written netlist
// relaxed by `eqsim relax` on both backends against stock `ngspice -b` run as a
// separate process on the same file. Node voltages at the end of the window and the
// energy every voltage source delivered (from ngspice's printed branch currents)
// must agree. Prints the corpus table: netlist, what it exercises, largest
// differences per backend.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_runner.hpp"

using namespace eqsim::testing;

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Stock ngspice: $EQSIM_NGSPICE or `ngspice` on the PATH (Debian's ngspice package).
std::string ngspice_binary() {
  const char* env = std::getenv("EQSIM_NGSPICE");
  return env ? env : "ngspice";
}

// The columns of ngspice's `.print tran` tables, by lower-case name ("time", "v(x)", "v1#branch"), each indexed by
// ngspice's row index. Wide prints are split into several tables and long ones into pages; the index joins them.
using Columns = std::map<std::string, std::map<long, double>>;

Columns parse_print_tables(const std::string& output) {
  Columns cols;
  std::vector<std::string> header;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    if (w.empty()) continue;
    if (w[0] == "Index") {
      header.assign(w.begin() + 1, w.end());
      continue;
    }
    char* end = nullptr;
    const long index = std::strtol(w[0].c_str(), &end, 10);
    if (header.empty() || *end != '\0' || w.size() != header.size() + 1) continue;
    for (size_t k = 0; k < header.size(); ++k) cols[lower(header[k])][index] = std::stod(w[k + 1]);
  }
  return cols;
}

// Energy delivered by a source of value_V whose printed branch current (into its + terminal) is `branch`.
double delivered_energy_J(const Columns& cols, const std::string& branch, double value_V) {
  const auto& t = cols.at("time");
  const auto& i = cols.at(branch);
  double q = 0;
  for (auto it = t.begin(); std::next(it) != t.end(); ++it) {
    const auto nx = std::next(it);
    q += -0.5 * (i.at(it->first) + i.at(nx->first)) * (nx->second - it->second);
  }
  return q * value_V;
}

std::string header_line(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("* " + key, 0) == 0) return line.substr(2 + key.size());
  return "";
}

bool has_uic(const std::string& path) {
  std::ifstream in(path);
  std::string tran, title;
  std::getline(in, title);  // the first line is the title, whatever it reads
  for (std::string line; std::getline(in, line);) {
    const std::string l = lower(line);
    if (l.rfind(".tran", 0) == 0) tran = l;
    else if (!tran.empty() && l.rfind("+", 0) == 0) tran += " " + l.substr(1);
    else if (!tran.empty()) break;
  }
  return tran.find("uic") != std::string::npos;
}

struct Difference {
  double voltage_V = 0;        // largest |V_eqsim - V_ngspice| at the end of the window
  double energy_rel = 0;       // largest |E_eqsim - E_ngspice| / max(|E_ngspice|, 1e-15 J)
  int voltages = 0, energies = 0;
};

Difference compare(const Columns& ng, const nlohmann::json& j, bool energies, const std::string& what) {
  Difference d;
  for (const auto& [name, col] : ng) {
    if (name.rfind("v(", 0) == 0) {
      const std::string node = name.substr(2, name.size() - 3);
      REQUIRE_MESSAGE(j["nodes"].contains(node), what << ": no node " << node << " in eqsim's JSON");
      d.voltage_V = std::max(d.voltage_V, std::abs(j["nodes"][node]["final_V"].get<double>() - col.rbegin()->second));
      ++d.voltages;
    }
    const auto hash = name.find("#branch");
    if (hash == std::string::npos || !energies) continue;
    const std::string source = name.substr(0, hash);
    const nlohmann::json* src = nullptr;
    for (const auto& s : j["sources"])
      if (lower(s["name"].get<std::string>()) == source) src = &s;
    REQUIRE_MESSAGE(src, what << ": no source " << source << " in eqsim's JSON");
    const double ref = delivered_energy_J(ng, name, (*src)["value_V"].get<double>());
    const double rel = std::abs((*src)["energy_J"].get<double>() - ref) / std::max(std::abs(ref), 1e-15);
    MESSAGE(what << ": " << source << " delivered " << (*src)["energy_J"].get<double>() << " J, ngspice " << ref << " J");
    d.energy_rel = std::max(d.energy_rel, rel);
    ++d.energies;
  }
  return d;
}

std::string cell(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, " %.1e |", v);
  return buf;
}

// A table cell of the energy difference ("voltages only" when ngspice started from its operating point).
std::string energy_cell(const Difference& d, bool energies) { return energies ? cell(d.energy_rel) : " voltages only |"; }

}  // namespace

TEST_CASE("SPICE conventions: every corpus netlist relaxes to stock ngspice's answer on both backends") {
  const auto dir = source_path("netlists/conventions");
  std::vector<std::string> files;
  for (const auto& f : std::filesystem::directory_iterator(dir))
    if (f.path().extension() == ".cir") files.push_back(f.path().string());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 15);
  const auto version = run_command(ngspice_binary() + " -v");
  REQUIRE_MESSAGE(version.exit_code == 0, "stock ngspice (" << ngspice_binary()
                                                            << ") is needed: Debian's ngspice package, or set "
                                                               "EQSIM_NGSPICE; "
                                                            << version.output);
  const auto out = fresh_dir("conventions");
  std::string table = "| netlist | exercises | ode: max dV (V) | ode: max dE/E | spice: max dV (V) | spice: max dE/E |\n"
                      "| --- | --- | --- | --- | --- | --- |\n";
  for (const auto& f : files) {
    const std::string name = std::filesystem::path(f).filename().string();
    const std::string exercises = header_line(f, "exercises: ");
    CHECK_MESSAGE(!exercises.empty(), name << " has no '* exercises:' header line");
    const auto ng = run_command(ngspice_binary() + " -b " + f);
    REQUIRE_MESSAGE(ng.exit_code == 0, name << ": stock ngspice failed: " << ng.output);
    const Columns cols = parse_print_tables(ng.output);
    REQUIRE_MESSAGE(cols.count("time"), name << ": no .print table in ngspice's output");
    const bool energies = has_uic(f);
    const std::string supply = header_line(f, "eqsim: supply=");
    table += "| " + name + " | " + exercises + " |";
    for (const std::string backend : {"ode", "spice"}) {
      const std::string json = out + "/" + name + "." + backend + ".json";
      const auto r = run_eqsim("relax " + f + " --backend " + backend + " --full-window --out " + json);
      REQUIRE_MESSAGE(r.exit_code == 0, name << " on " << backend << ": " << r.output);
      std::ifstream in(json);
      const auto j = nlohmann::json::parse(in);
      const Difference d = compare(cols, j, energies, name + " (" + backend + ")");
      CHECK(d.voltages >= 1);
      CHECK_MESSAGE(d.voltage_V < 1e-6, name << " on " << backend << ": " << d.voltage_V << " V from ngspice");
      CHECK_MESSAGE(d.energy_rel < 2e-3, name << " on " << backend << ": energy " << d.energy_rel << " from ngspice");
      if (energies) CHECK(d.energies == static_cast<int>(j["sources"].size()));  // .print lists every source
      for (const auto& src : j["sources"])
        CHECK(src["supply"].get<bool>() == (lower(src["name"].get<std::string>()) == lower(supply)));
      table += cell(d.voltage_V) + energy_cell(d, energies);
    }
    table += "\n";
  }
  MESSAGE("SPICE-conventions corpus against " << version.output.substr(0, version.output.find('\n')) << "\n" << table);
}
