#pragma once
// A simulation outcome the user asked for but did not get (a circuit that did
// not settle, a relaxation that failed): neither bad input (exit 2) nor an
// internal failure. The CLI's main catches it and prints "eqsim: <message>"
// with exit_code(). Library code reports outcomes as statuses; the studies
// and the command line turn a final status into this.
#include <stdexcept>
#include <string>

namespace eqsim::study {

class SimulationOutcome : public std::runtime_error {
 public:
  explicit SimulationOutcome(const std::string& message, int exit_code = 1)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

}  // namespace eqsim::study
