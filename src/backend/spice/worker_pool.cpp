#include "backend/spice/worker_pool.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

extern char** environ;

namespace eqsim::backend::spice {

namespace {

constexpr double default_deadline_s = 600;
constexpr double greeting_timeout_s = 60;  // a worker starting under a loaded machine or a sanitizer
constexpr int child_fd = 3;                // the worker's end of the socket, as the worker sees it
// libngspice keeps memory across runs even after `destroy all` and `remcirc`
// (measured: about 1.1 KiB per transient of an 800-element circuit, +111 % of a
// worker's resident size over 10^4 runs), so a worker grown past this factor of
// its size after its first run is replaced.
constexpr double worker_growth_limit = 1.05;

// Resident size of a process in KiB (0 if unreadable).
long resident_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == "VmRSS:") return (in >> value) ? value : 0;
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

double env_number(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const double x = std::strtod(v, &end);
  return end && *end == '\0' && x > 0 ? x : fallback;
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "died of signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended (wait status " + std::to_string(status) + ")";
}

}  // namespace

std::string find_worker(const std::string& configured) {
  namespace fs = std::filesystem;
  if (!configured.empty()) return configured;
  if (const char* env = std::getenv("EQSIM_SPICE_WORKER"); env && *env) return env;
  std::error_code ec;
  const fs::path beside = fs::read_symlink("/proc/self/exe", ec).parent_path() / "eqsim-spice-worker";
  if (!ec && fs::exists(beside, ec)) return beside.string();
  return EQSIM_SPICE_WORKER_BUILD_PATH;
}

WorkerPool::WorkerPool(PoolOptions opt) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  size_ = static_cast<int>(env_number("EQSIM_SPICE_WORKERS", opt.workers > 0 ? opt.workers : cores));
  deadline_s_ = env_number("EQSIM_SPICE_DEADLINE_S", opt.deadline_s > 0 ? opt.deadline_s : default_deadline_s);
  worker_path_ = find_worker(opt.worker_path);
}

WorkerPool::~WorkerPool() {
  for (auto& w : idle_) retire(w, true);
}

WorkerPool::Worker WorkerPool::spawn(std::string& failure) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    failure = std::string("cannot create a socket for the ngspice worker: ") + std::strerror(errno);
    return {};
  }
  // The child's end must not already be child_fd (dup2 onto itself would keep CLOEXEC).
  const int theirs = fcntl(sv[1], F_DUPFD_CLOEXEC, child_fd + 1);
  close(sv[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, theirs, child_fd);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);  // stdout stays eqsim's
  const std::string fd_arg = std::to_string(child_fd);
  char* argv[] = {const_cast<char*>(worker_path_.c_str()), const_cast<char*>("--fd"), const_cast<char*>(fd_arg.c_str()),
                  nullptr};
  Worker w;
  const int rc = posix_spawn(&w.pid, worker_path_.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(theirs);
  if (rc != 0) {
    close(sv[0]);
    failure = "cannot start the ngspice worker " + worker_path_ + ": " + std::strerror(rc) +
              " (set EQSIM_SPICE_WORKER to its path)";
    return {};
  }
  w.fd = sv[0];
  std::string greeting;
  if (read_frame(w.fd, greeting, greeting_timeout_s) != FrameStatus::ok) {
    failure = "the ngspice worker " + worker_path_ + " did not start: it " + retire(w, true);
    return {};
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (version_.empty()) version_ = greeting;
  return w;
}

WorkerPool::Worker WorkerPool::acquire(std::string& failure) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    freed_.wait(lock, [&] { return !idle_.empty() || live_ < size_; });
    if (!idle_.empty()) {
      const Worker w = idle_.back();
      idle_.pop_back();
      return w;
    }
    ++live_;
  }
  const Worker w = spawn(failure);
  if (w.pid < 0) forget_one();
  return w;
}

void WorkerPool::forget_one() {
  std::lock_guard<std::mutex> lock(mutex_);
  --live_;
  freed_.notify_one();
}

void WorkerPool::release(const Worker& w) {
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(w);
  freed_.notify_one();
}

std::string WorkerPool::retire(Worker& w, bool kill_first) {
  if (w.fd >= 0) close(w.fd);
  if (kill_first) kill(w.pid, SIGKILL);
  int status = 0;
  while (waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
  }
  w = Worker{};
  return describe_exit(status);
}

PoolReply WorkerPool::run(const Request& q) {
  PoolReply reply;
  Worker w = acquire(reply.run.errors);
  if (w.pid < 0) {
    reply.worker_failed = true;
    return reply;
  }
  std::string answer;
  FrameStatus st = write_frame(w.fd, encode(q)) ? read_frame(w.fd, answer, deadline_s_) : FrameStatus::closed;
  if (st == FrameStatus::ok && !decode(answer, reply.run)) st = FrameStatus::malformed;
  if (st == FrameStatus::ok && !reply.run.engine_exited) {
    const long rss = resident_kib(w.pid);
    if (w.first_rss_kib == 0) w.first_rss_kib = rss;
    if (rss > worker_growth_limit * static_cast<double>(w.first_rss_kib)) {
      retire(w, true);
      forget_one();
    } else {
      release(w);
    }
    return reply;
  }
  const auto pid = std::to_string(w.pid);
  std::string why;
  if (st == FrameStatus::ok) why = "ngspice ended its engine (" + reply.run.errors + "); the worker " + retire(w, false);
  if (st == FrameStatus::closed) why = "the ngspice worker (pid " + pid + ") " + retire(w, false);
  if (st == FrameStatus::timed_out)
    why = fmt::format("the ngspice worker (pid {}) did not answer within the {:g} s deadline and was killed", pid, deadline_s_);
  if (st == FrameStatus::malformed) why = "the ngspice worker (pid " + pid + ") sent a malformed reply and was killed";
  if (w.pid >= 0) retire(w, true);
  forget_one();
  reply = PoolReply{};
  reply.worker_failed = true;
  reply.run.errors = why + "; a fresh worker takes the next relaxation";
  return reply;
}

std::string WorkerPool::version() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!version_.empty()) return version_;
  }
  std::string failure;
  const Worker w = acquire(failure);
  if (w.pid >= 0) release(w);
  std::lock_guard<std::mutex> lock(mutex_);
  return version_;
}

}  // namespace eqsim::backend::spice
