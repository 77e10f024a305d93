#pragma once
// A progress line on stderr for long work: done/total, rate, ETA and a status
// text; redrawn in place on a terminal, printed every few seconds otherwise.
#include <chrono>
#include <string>

namespace eqsim::study {

class ProgressLine {
 public:
  ProgressLine(std::string label, long total);
  void update(long done, const std::string& status = "");
  void finish(const std::string& status = "");

 private:
  std::string label_;
  long total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

std::string format_duration(double seconds);

}  // namespace eqsim::study
