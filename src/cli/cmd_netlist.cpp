#include "cli/commands.hpp"

namespace eqsim::cli {
// Placeholder until the netlister lands (issue 3).
void add_netlist_command(CLI::App&) {}
}  // namespace eqsim::cli
