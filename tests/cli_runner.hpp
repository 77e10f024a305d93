#pragma once
// Runs the real eqsim binary and captures its exit code and output.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace eqsim::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line (stderr joined to stdout).
inline CommandResult run_command(const std::string& command_line) {
  const std::string cmd = command_line + " 2>&1";
  CommandResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline CommandResult run_eqsim(const std::string& args) { return run_command(std::string(EQSIM_BINARY) + " " + args); }

// A fresh empty folder under the system temp dir (per process: test runs may overlap).
inline std::string fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("eqsim_test_" + std::to_string(getpid()) + "_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline std::string source_path(const std::string& rel) { return std::string(EQSIM_SOURCE_DIR) + "/" + rel; }

// The whole text of a file ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// `explore` on configs/explore_demo.yaml at test size, into OUT: two points (readout
// repeats 1 and 2) x 3 chips, small sample and training budgets.
inline std::string small_explore_args(const std::string& out) {
  return "explore " + source_path("configs/explore_demo.yaml") + " --out " + out +
         " --set train.steps=60 --set train.batch_size=64 --set baselines.exact=false --set explore.chips=3"
         " --set explore.samples=128 --set explore.insitu_steps=3 --set explore.gradient_batch=16"
         " --set 'explore.axes={readout.repeats: [1, 2]}'";
}

}  // namespace eqsim::testing
