#include <fmt/core.h>

#include "cli/commands.hpp"
#include "study/jobs.hpp"
#include "data/npy.hpp"

namespace eqsim::cli {

void add_evaluate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("evaluate", "Quality of generated digits (classifier coverage, confidence, Frechet distance)");
  auto files = std::make_shared<std::vector<std::string>>();
  cmd->add_option("samples", *files, "one or more N x 64 .npy files, shown side by side")->required();
  cmd->callback([files] {
    std::vector<std::pair<std::string, Eigen::MatrixXd>> sets;
    for (const auto& f : *files) sets.emplace_back(f, data::read_npy(f).transpose());
    fmt::print("{}", study::quality_table(study::evaluate_job(sets, "")));
  });
}

}  // namespace eqsim::cli
