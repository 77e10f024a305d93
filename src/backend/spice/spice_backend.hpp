#pragma once
// The SPICE backend (DESIGN.md §6): the real libngspice, one engine per process
// behind one owner inside this folder. The circuit goes in as netlist text
// (C locale, %.17g), a transient with `uic` runs, vectors come back; thermal
// noise is added as Gaussian trrandom current sources (a value held for each
// noise interval, as the ODE backend's Euler-Maruyama step) sized to the same
// PSD. trrandom, not trnoise: trnoise draws from a pool ngspice fills once from
// its process id, which no command reseeds, while trrandom's generator is
// reseeded from RelaxOptions::seed before each run, so the same seed gives the
// same noisy run (measured in tests/test_spice.cpp). Every ngspice failure (parse
// error, timestep too small, its exit callback) becomes a status carrying
// ngspice's own message.
#include <map>
#include <string>
#include <vector>

#include "backend/backend.hpp"

namespace eqsim::backend::spice {

class SpiceBackend : public Backend {
 public:
  std::string name() const override;
  std::string version() const override;
  bool batched() const override { return false; }
  RelaxSummary relax(const circuit::Circuit& c, const RelaxOptions& opt) override;
};

// The netlist lines handed to ngspice for c under opt: options, elements,
// trrandom noise sources for noisy runs, no .tran (the backend issues the command).
std::vector<std::string> spice_deck(const circuit::Circuit& c, const RelaxOptions& opt);

// What one ngspice analysis left: every real vector of its plot by lower-case
// name (node voltages "v(n)" as "n", source currents as "vname#branch", the
// sweep as "v-sweep"/"i-sweep"; after "noise" the integrated "onoise_total"), or the
// engine's error lines.
struct AnalysisResult {
  bool ok = false;
  std::string errors;
  std::map<std::string, std::vector<double>> vectors;
};

// Runs one analysis command ("op", "dc VIN -0.3 0.3 1m", "noise v(out) VIN dec 10 1 1meg", ...)
// on deck (netlist lines ending in .end, no analysis or .control lines) through the
// process's single ngspice owner, the one relax() uses. Characterisation studies drive
// transistor-level cells with it.
AnalysisResult run_analysis(const std::vector<std::string>& deck, const std::string& command);

}  // namespace eqsim::backend::spice
