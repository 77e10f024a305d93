#pragma once
// Each subcommand registers itself on the app; the callbacks throw
// eqsim::InputError for bad input (exit 2) and other exceptions for internal
// failures (exit 1). Simulation outcomes are reported, not thrown.
#include <CLI/CLI.hpp>

namespace eqsim::cli {

void add_train_command(CLI::App& app);
void add_sample_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_gradcheck_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_relax_command(CLI::App& app);
void add_netlist_command(CLI::App& app);
void add_energy_command(CLI::App& app);
void add_explore_command(CLI::App& app);
void add_characterize_command(CLI::App& app);

}  // namespace eqsim::cli
