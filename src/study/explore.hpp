#pragma once
// Design-space exploration (DESIGN.md §11): which design meets the fidelity spec at
// the lowest energy per training step, and how sure are we.
//
// The config's `explore:` section gives the axes (run-config keys, or device-model keys
// prefixed `device.`), the design (full grid or seeded Latin hypercube), the chips per
// point, the strategies, the spec a chip must meet and the yield target. Each point is
// a run config and a device model with the axes' values; points that change no training
// key share one trained model (trained once). Every (point, chip) task evaluates the
// chip (study/chip.hpp) and is stored atomically in DIR/explore/tasks/ when it ends:
// --resume redoes nothing finished, and the numbers depend on seeds only (chip k has
// the same mismatch seed at every point). Then per point the energy ledger (its device
// model, its readout repeats, the in-situ chips' measured writes per step), statistics
// over chips (bootstrap mean intervals, Wilson yield intervals, N), the Pareto front of
// energy per step against the Pareto metric, and the cheapest point meeting the yield.
//
// Outputs: DIR/explore/{design.csv, chips.csv, points.csv, pareto.csv}, figures,
// DIR/report.md, DIR/report.html, DIR/summary.json.
#include <string>
#include <vector>

#include "study/tasks.hpp"

namespace eqsim::study {

struct ExploreOptions {
  std::string config;             // "" : the embedded default
  std::vector<std::string> sets;  // path.to.key=value overrides
  std::string out;                // required
  bool resume = false;
};

struct ExploreSummary {
  std::string dir;
  int points = 0;
  long tasks = 0, tasks_run = 0;  // (point, chip) tasks in all, and run by this invocation
  std::string answer;             // the report's answer in a sentence or two
};

// The (point, chip) tasks are a TaskBatch of kind "explore" run by `executor` (default:
// the process's, study/tasks.hpp); every task file is written here.
ExploreSummary explore(const ExploreOptions& opt, const TaskExecutor& executor = {});

// On a worker rank: the exploration's chip evaluation from the batch's shared state (the
// config as run and the trained models; the inputs it names are read where they are).
TaskFunction explore_worker(const std::string& shared);

}  // namespace eqsim::study
