#include <fmt/core.h>

#include "cli/commands.hpp"
#include "study/jobs.hpp"

namespace eqsim::cli {

void add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a FlowEqProp energy network (or a baseline) on the digits");
  struct Args {
    std::string config, out;
    std::vector<std::string> sets;
    bool resume = false, mlp = false;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("config", args->config, "YAML config (default: the embedded default)");
  cmd->add_option("--out", args->out, "output folder: model/, train_log.csv, checkpoint/")->required();
  cmd->add_option("--set", args->sets, "override a config key: path.to.key=value (repeatable)");
  cmd->add_flag("--resume", args->resume, "continue from OUT/checkpoint");
  cmd->add_flag("--mlp", args->mlp, "train the backprop MLP velocity-field baseline instead");
  cmd->callback([args] {
    const auto cfg = config::load_run_config(args->config, args->sets);
    const auto sum = study::train_job(cfg, args->out, args->mlp ? study::TrainKind::mlp : study::TrainKind::energy, args->resume);
    fmt::print("trained {} steps; final loss {:.5f}; {} s; model in {}/model\n", sum.steps, sum.final_loss,
               sum.wall_s, args->out);
  });
}

}  // namespace eqsim::cli
