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

}  // namespace eqsim::backend::spice
