#include "study/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <fmt/core.h>

namespace eqsim::study {

std::string format_duration(double s) {
  if (s < 60) return fmt::format("{:.0f}s", s);
  if (s < 3600) return fmt::format("{}m{:02d}s", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return fmt::format("{}h{:02d}m", static_cast<int>(s) / 3600, (static_cast<int>(s) / 60) % 60);
}

ProgressLine::ProgressLine(std::string label, long total)
    : label_(std::move(label)), total_(total), tty_(isatty(fileno(stderr))),
      start_(std::chrono::steady_clock::now()), last_print_(start_ - std::chrono::hours(1)) {}

void ProgressLine::update(long done, const std::string& status) {
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (since < (tty_ ? 0.2 : 5.0) && done < total_) return;
  last_print_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta = done > 0 ? elapsed * static_cast<double>(total_ - done) / static_cast<double>(done) : 0;
  const std::string line = fmt::format("{} {}/{} ({:.0f}%) {} elapsed {} ETA {}", label_, done, total_,
                                       100.0 * static_cast<double>(done) / static_cast<double>(std::max(1L, total_)),
                                       status, format_duration(elapsed), format_duration(eta));
  if (tty_) fmt::print(stderr, "\r\033[K{}", line);
  else fmt::print(stderr, "{}\n", line);
  std::fflush(stderr);
}

void ProgressLine::finish(const std::string& status) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  fmt::print(stderr, "{}{} done: {} in {}\n", tty_ ? "\r\033[K" : "", label_, status, format_duration(elapsed));
}

}  // namespace eqsim::study
