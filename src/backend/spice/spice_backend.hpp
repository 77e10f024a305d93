#pragma once
// The SPICE backend (DESIGN.md §6): the real libngspice, driven in worker
// processes (eqsim-spice-worker, one engine each, a pool sized to the cores;
// see worker_pool.hpp). The circuit goes in as netlist text (C locale, %.17g),
// a transient with `uic` runs, vectors come back; thermal noise is added as
// Gaussian trrandom current sources (a value held for each noise interval, as
// the ODE backend's Euler-Maruyama step) sized to the same PSD. trrandom, not
// trnoise: trnoise draws from a pool ngspice fills once from its process id,
// which no command reseeds, while trrandom's generator is reseeded from
// RelaxOptions::seed before each run, so the same seed gives the same noisy run
// on any worker (measured in tests/test_spice.cpp). Every ngspice failure (parse
// error, timestep too small, its exit callback) becomes a status carrying
// ngspice's own message; a worker that crashes, aborts, exits or misses the
// deadline costs that one relaxation (backend_error, with the reason) and is
// replaced by a fresh one.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "backend/spice/deck.hpp"
#include "backend/spice/worker_pool.hpp"

namespace eqsim::backend::spice {

// What one ngspice analysis left: every real vector of its plot by lower-case
// name (node voltages "v(n)" as "n", source currents as "vname#branch", the
// sweep as "v-sweep"/"i-sweep"; after "noise" the integrated "onoise_total"), or
// the engine's error lines (or why its worker failed).
struct AnalysisResult {
  bool ok = false;
  std::string errors;
  std::map<std::string, std::vector<double>> vectors;
};

class SpiceBackend : public Backend {
 public:
  // form: how circuits are written for ngspice (deck.hpp); as_written is kept for comparison.
  explicit SpiceBackend(PoolOptions opt = {}, DeckForm form = DeckForm::compiled);
  ~SpiceBackend() override;
  std::string name() const override;
  std::string version() const override;
  bool batched() const override { return false; }
  // Thread-safe: concurrent calls run on separate workers (up to the pool size).
  RelaxSummary relax(const circuit::Circuit& c, const RelaxOptions& opt) override;
  // circuits[i] under options[i], as many at once as there are workers; results
  // in input order, each the same as relax() gives, except that a relaxation whose
  // worker failed (crashed, exited, hung) runs once more on a fresh worker, the lost
  // attempt's message kept in RelaxSummary::lost_attempt. on_relaxed(1) after each
  // one (from any of the threads, one call at a time).
  std::vector<RelaxSummary> relax_all(const std::vector<circuit::Circuit>& circuits,
                                      const std::vector<RelaxOptions>& options,
                                      const std::function<void(long)>& on_relaxed = {});
  // Batches as the default's columns (same circuits, same seeds), relaxed by
  // relax_all on every worker at once.
  std::unique_ptr<BatchRelaxer> batch_relaxer(const circuit::Circuit& c) override;
  // Runs one analysis command ("op", "dc VIN -0.3 0.3 1m", "noise v(out) VIN dec 10 1 1meg",
  // a "tran ...") on deck (netlist lines ending in .end, no analysis or .control lines).
  AnalysisResult analysis(const std::vector<std::string>& deck, const std::string& command);
  int worker_count() const;

 private:
  // relax() on one worker; worker_failed: the worker crashed, exited, hung or broke the protocol.
  RelaxSummary attempt(const circuit::Circuit& c, const RelaxOptions& opt, bool& worker_failed);

  std::unique_ptr<WorkerPool> pool_;
  DeckForm form_;
};

// SpiceBackend::analysis on a backend shared by the process (its workers started on
// first use). Characterisation studies drive transistor-level cells with it.
AnalysisResult run_analysis(const std::vector<std::string>& deck, const std::string& command);

}  // namespace eqsim::backend::spice
