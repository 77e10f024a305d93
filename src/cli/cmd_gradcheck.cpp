#include <filesystem>
#include <fmt/core.h>

#include "cli/commands.hpp"
#include "study/jobs.hpp"
#include "config/model_dir.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"

namespace eqsim::cli {

void add_gradcheck_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("gradcheck", "EP gradient estimates vs the exact implicit gradient");
  struct Args {
    std::string input, out, config;
    std::vector<std::string> sets;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("input", args->input, "CONFIG (fresh network) or MODEL_DIR (trained)")->required();
  cmd->add_option("--out", args->out, "CSV table")->required();
  cmd->add_option("--config", args->config, "with a MODEL_DIR: the config giving the task and the grid "
                                            "(default: the embedded default, a flow task)");
  cmd->add_option("--set", args->sets, "override a config key");
  cmd->callback([args] {
    const bool is_model = std::filesystem::is_directory(args->input);
    const auto cfg = config::load_run_config(is_model ? args->config : args->input, args->sets);
    if (is_model && !config::load_diffusion_schedule(args->input).sigmas.empty() && cfg.task != config::Task::diffusion)
      throw InputError(args->input, "--config", "a diffusion model: pass its config (task: diffusion), e.g. "
                                                "configs/diffusion_bilinear_digits.yaml");
    const auto rows = study::gradcheck_job(cfg, is_model ? args->input : "");
    data::write_text_atomic(args->out, learn::gradcheck_csv(rows));
    fmt::print("wrote {} rows to {}\n", rows.size(), args->out);
    for (auto e : {learn::Estimator::symmetric, learn::Estimator::one_sided})
      fmt::print("bias slope vs beta ({}, beta <= 0.1, converged, T = 0): all {:.3f}, U/V {:.3f}, rest {:.3f}\n",
                 learn::to_string(e), learn::bias_slope(rows, e), learn::bias_slope(rows, e, "uv"),
                 learn::bias_slope(rows, e, "rest"));
  });
}

}  // namespace eqsim::cli
