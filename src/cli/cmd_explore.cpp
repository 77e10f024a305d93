// `eqsim explore CONFIG --out DIR [--set k=v] [--resume]`: flags for study::explore.
#include <fmt/core.h>

#include "cli/commands.hpp"
#include "study/explore.hpp"

namespace eqsim::cli {

void add_explore_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "explore", "Design-space exploration: the config's explore: axes x Monte-Carlo chips x strategies (deploy, in situ), "
                 "energy per step, yield against a spec, Pareto front and the cheapest design meeting the yield target");
  auto opt = std::make_shared<study::ExploreOptions>();
  cmd->add_option("config", opt->config, "YAML config with an explore: section (e.g. configs/explore_demo.yaml)")->required();
  cmd->add_option("--out", opt->out, "output folder")->required();
  cmd->add_option("--set", opt->sets, "override a config key: path.to.key=value (repeatable)");
  cmd->add_flag("--resume", opt->resume, "continue an interrupted exploration: finished (point, chip) tasks are kept");
  cmd->callback([opt] {
    const auto sum = study::explore(*opt);
    fmt::print("{}\n{} points, {} tasks ({} run now); report: {}/report.html, tables: {}/explore/\n", sum.answer, sum.points,
               sum.tasks, sum.tasks_run, sum.dir, sum.dir);
  });
}

}  // namespace eqsim::cli
