#include <filesystem>
#include <fmt/core.h>

#include "cli/commands.hpp"
#include "cli/jobs.hpp"
#include "data/npy.hpp"

namespace eqsim::cli {

void add_gradcheck_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("gradcheck", "EP gradient estimates vs the exact implicit gradient");
  struct Args {
    std::string input, out;
    std::vector<std::string> sets;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("input", args->input, "CONFIG (fresh network) or MODEL_DIR (trained)")->required();
  cmd->add_option("--out", args->out, "CSV table")->required();
  cmd->add_option("--set", args->sets, "override a config key (with a CONFIG)");
  cmd->callback([args] {
    const bool is_model = std::filesystem::is_directory(args->input);
    const auto cfg = config::load_run_config(is_model ? "" : args->input, args->sets);
    const auto rows = gradcheck_job(cfg, is_model ? args->input : "");
    data::write_text_atomic(args->out, learn::gradcheck_csv(rows));
    fmt::print("wrote {} rows to {}\n", rows.size(), args->out);
    for (auto e : {learn::Estimator::symmetric, learn::Estimator::one_sided})
      fmt::print("bias slope vs beta ({}): {:.3f}\n", learn::to_string(e), learn::bias_slope(rows, e));
  });
}

}  // namespace eqsim::cli
