// `eqsim run CONFIG [--out DIR] [--set k=v] [--resume]`: flags for study::run.
#include <fmt/core.h>

#include "cli/commands.hpp"
#include "study/run.hpp"

namespace eqsim::cli {

void add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "run", "The main job: train EP and its baselines, samples and their quality, gradient check, the model's circuit "
             "on the ode and spice backends, fidelity-vs-mismatch study (deploy vs in situ), energy ledger per device "
             "model, report");
  auto opt = std::make_shared<study::RunOptions>();
  cmd->add_option("config", opt->config, "YAML config (default: the embedded default, configs/default.yaml)");
  cmd->add_option("--out", opt->out, "output folder (default: reports/<run name>)");
  cmd->add_option("--set", opt->sets, "override a config key: path.to.key=value (repeatable)");
  cmd->add_flag("--resume", opt->resume, "continue a killed run in the same folder");
  cmd->callback([opt] {
    const auto sum = study::run(*opt);
    fmt::print("report: {0}/report.html ({0}/report.md), summary: {0}/summary.json\n", sum.dir);
  });
}

}  // namespace eqsim::cli
