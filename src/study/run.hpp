#pragma once
// `eqsim run`, the main job, as a study. Stages, each skipped on resume when its
// output exists: train EP -> baselines (exact gradient, backprop MLP) -> samples ->
// quality -> gradient check -> the model's circuit on every circuit backend -> mismatch study -> energy ledger per device model ->
// report (report.md, report.html, summary.json). A stage that throws leaves a report
// naming it and why, then rethrows.
#include <string>
#include <vector>

namespace eqsim::study {

struct RunOptions {
  std::string config;             // "" : the embedded default
  std::vector<std::string> sets;  // path.to.key=value overrides
  std::string out;                // "" : reports/<run name>
  bool resume = false;            // continue a killed run in the same folder
};

struct RunSummary {
  std::string dir;  // where report.html, report.md and summary.json are
};

RunSummary run(const RunOptions& opt);

// The git revision this binary was built from.
std::string git_revision();

// The libraries and backend engines with their versions ("Eigen 3.4.0", "backend ode: Boost.Odeint 1.74", ...).
std::vector<std::string> versions();

}  // namespace eqsim::study
