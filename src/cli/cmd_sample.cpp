#include <fmt/core.h>

#include "cli/commands.hpp"
#include "cli/jobs.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"

namespace eqsim::cli {

void add_sample_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("sample", "Generate digits from a trained model folder");
  struct Args {
    std::string model_dir, out, readout = "spring";
    learn::SampleOptions opt;
    bool evaluate = false;
    std::string data_path;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model_dir", args->model_dir, "model folder (model.yaml + .npy)")->required();
  cmd->add_option("--n", args->opt.n, "number of samples")->capture_default_str();
  cmd->add_option("--out", args->out, "output .npy (n x 64, data scale [-1, 1])")->required();
  cmd->add_option("--t-end", args->opt.t_end, "integrate to this time (1.2: extended generation)")->capture_default_str();
  cmd->add_option("--dt", args->opt.dt, "Euler step")->capture_default_str();
  cmd->add_option("--seed", args->opt.seed, "noise seed")->capture_default_str();
  cmd->add_option("--readout", args->readout, "spring | energy_gradient")->capture_default_str();
  cmd->add_option("--relax-steps", args->opt.relax.max_steps, "relaxation sweeps per velocity")->capture_default_str();
  cmd->add_flag("--evaluate", args->evaluate, "print quality metrics of the samples");
  cmd->callback([args] {
    try {
      args->opt.readout = learn::readout_from_string(args->readout);
    } catch (const std::invalid_argument& e) {
      throw InputError("command line", "--readout", e.what());
    }
    if (args->opt.n <= 0) throw InputError("command line", "--n", "must be positive");
    if (!(args->opt.t_end > 0) || !(args->opt.dt > 0)) throw InputError("command line", "--t-end/--dt", "must be positive");
    const Eigen::MatrixXd x = sample_job(args->model_dir, args->opt);
    data::write_npy(args->out, x.transpose());
    fmt::print("wrote {} samples to {}\n", x.cols(), args->out);
    if (args->evaluate) fmt::print("{}", quality_table(evaluate_job({{args->out, x}}, args->data_path)));
  });
}

}  // namespace eqsim::cli
