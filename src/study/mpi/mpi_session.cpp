#include "study/mpi/mpi_session.hpp"

#include <fmt/format.h>
#include <mpi.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "data/error.hpp"

namespace eqsim::study::mpi {

namespace {

enum Tag : int { kBatch = 1, kTask, kResult, kError, kStop, kDone };

using Clock = std::chrono::steady_clock;

// Sleeps that grow while nothing happens: short waits stay short, long ones cost no CPU.
class Backoff {
 public:
  explicit Backoff(std::chrono::microseconds max) : max_(max) {}
  std::chrono::microseconds next() {
    const auto d = delay_;
    delay_ = std::min(max_, delay_ * 2);
    return d;
  }
  void reset() { delay_ = std::chrono::microseconds(50); }

 private:
  std::chrono::microseconds delay_{50}, max_;
};

struct Message {
  int source = 0, tag = 0;
  std::string bytes;
};

Message receive(int source, int tag) {
  MPI_Status st;
  MPI_Probe(source, tag, MPI_COMM_WORLD, &st);
  int n = 0;
  MPI_Get_count(&st, MPI_BYTE, &n);
  Message m{st.MPI_SOURCE, st.MPI_TAG, std::string(static_cast<size_t>(n), '\0')};
  MPI_Recv(m.bytes.data(), n, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  return m;
}

// A message from `source` if one is waiting.
bool poll(int source, Message& m) {
  int flag = 0;
  MPI_Status st;
  MPI_Iprobe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
  if (!flag) return false;
  m = receive(st.MPI_SOURCE, st.MPI_TAG);
  return true;
}

Message wait_for(int source, std::chrono::microseconds max_sleep) {
  Backoff backoff(max_sleep);
  Message m;
  while (!poll(source, m)) std::this_thread::sleep_for(backoff.next());
  return m;
}

void send(int dest, int tag, const std::string& bytes) {
  MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, dest, tag, MPI_COMM_WORLD);
}

std::string with_index(uint64_t i, const std::string& bytes) {
  std::string out(8, '\0');
  for (int b = 0; b < 8; ++b) out[static_cast<size_t>(b)] = static_cast<char>((i >> (8 * b)) & 0xff);
  return out + bytes;
}

uint64_t index_of(const std::string& bytes) {
  uint64_t i = 0;
  for (int b = 0; b < 8; ++b) i |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[static_cast<size_t>(b)])) << (8 * b);
  return i;
}

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// What rank 0 prints when the launcher terminates it mid-batch: kept current by the
// dispatcher in one of two buffers, so the signal handler only reads a finished one.
constexpr size_t kNoticeBytes = 1 << 16;
char g_notice[2][kNoticeBytes];
std::atomic<size_t> g_notice_len[2];
std::atomic<int> g_notice_current{-1};

constexpr char kTerminatedOutsideBatch[] =
    "\neqsim: the MPI job was terminated (a rank died, or the job was cancelled) outside a task batch; files already "
    "written are whole (atomic writes): run the same command with --resume to continue.\n";

extern "C" void on_terminate(int) {
  const int k = g_notice_current.load();
  const char* text = k >= 0 ? g_notice[k] : kTerminatedOutsideBatch;
  const size_t n = k >= 0 ? g_notice_len[k].load() : sizeof kTerminatedOutsideBatch - 1;
  const ssize_t ignored = write(STDERR_FILENO, text, n);
  (void)ignored;
  _exit(1);
}

void publish_notice(const std::string& text) {
  const int k = g_notice_current.load() == 0 ? 1 : 0;
  const size_t n = std::min(text.size(), kNoticeBytes);
  std::copy_n(text.data(), n, g_notice[k]);
  g_notice_len[k] = n;
  g_notice_current = k;
}

// One batch on rank 0: the queue, the in-flight table and the figures it reports.
class Dispatch {
 public:
  Dispatch(const TaskBatch& batch, int ranks) : batch_(batch), in_flight_(static_cast<size_t>(ranks), -1) {}

  void run() {
    const auto t0 = Clock::now();
    const double cpu0 = thread_cpu_s();
    const int ranks = static_cast<int>(in_flight_.size());
    if (ranks > 1) broadcast_shared();
    {
      std::lock_guard lock(mu_);
      for (int r = 1; r < ranks; ++r) hand_out(r);
      update_notice();
    }
    std::thread local([this] { compute_here(); });
    try {
      dispatch_until_stored();
    } catch (...) {
      {
        std::lock_guard lock(mu_);
        stop_ = true;
      }
      local.join();
      throw;
    }
    local.join();
    for (int r = 1; r < ranks; ++r) send(r, kStop, "");
    g_notice_current = -1;
    report(std::chrono::duration<double>(Clock::now() - t0).count(), thread_cpu_s() - cpu0);
  }

 private:
  void broadcast_shared() {
    const std::string shared = batch_.shared();
    shared_bytes_ = shared.size();
    for (int r = 1; r < static_cast<int>(in_flight_.size()); ++r) send(r, kBatch, batch_.kind);
    uint64_t n = shared.size();
    MPI_Bcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    MPI_Bcast(const_cast<char*>(shared.data()), static_cast<int>(n), MPI_BYTE, 0, MPI_COMM_WORLD);
  }

  // Under mu_: the next task to `rank` (0: returns it; others: sent).
  long hand_out(int rank) {
    if (next_ >= batch_.tasks.size()) return -1;
    const long i = static_cast<long>(next_++);
    in_flight_[static_cast<size_t>(rank)] = i;
    if (rank > 0) {
      const std::string msg = with_index(static_cast<uint64_t>(i), batch_.tasks[static_cast<size_t>(i)]);
      bytes_sent_ += msg.size();
      send(rank, kTask, msg);
    }
    return i;
  }

  // Rank 0's own share, on its own thread (no MPI calls here).
  void compute_here() {
    for (;;) {
      long i;
      {
        std::lock_guard lock(mu_);
        if (stop_ || (i = hand_out(0)) < 0) return;
        update_notice();
      }
      std::string result;
      try {
        result = batch_.compute(batch_.tasks[static_cast<size_t>(i)]);
      } catch (...) {
        std::lock_guard lock(mu_);
        error_ = std::current_exception();
        stop_ = true;
        cv_.notify_one();
        return;
      }
      std::lock_guard lock(mu_);
      local_done_.emplace_back(i, std::move(result));
      in_flight_[0] = -1;
      ++computed_here_;
      cv_.notify_one();
    }
  }

  void dispatch_until_stored() {
    Backoff backoff(std::chrono::microseconds(2000));
    while (stored_ < batch_.tasks.size()) {
      bool busy = false;
      Message m;
      while (poll(MPI_ANY_SOURCE, m)) {
        busy = true;
        on_message(m);
      }
      std::unique_lock lock(mu_);
      if (error_) std::rethrow_exception(error_);
      while (!local_done_.empty()) {
        auto [i, result] = std::move(local_done_.front());
        local_done_.pop_front();
        update_notice();
        lock.unlock();
        store(static_cast<size_t>(i), result);
        lock.lock();
        busy = true;
      }
      if (busy) {
        backoff.reset();
        continue;
      }
      cv_.wait_for(lock, backoff.next());
    }
  }

  void on_message(const Message& m) {
    if (m.tag == kError) {
      const int code = m.bytes.empty() ? 1 : m.bytes[0];
      const std::string task = task_on(m.source);
      fmt::print(stderr, "eqsim: rank {} failed{}: {}\n", m.source, task.empty() ? "" : " on task " + task, m.bytes.substr(1));
      MPI_Abort(MPI_COMM_WORLD, code);
    }
    if (m.tag != kResult || m.bytes.size() < 8) throw std::runtime_error(fmt::format("unexpected MPI message (tag {}) from rank {}", m.tag, m.source));
    const auto t0 = Clock::now();
    bytes_received_ += m.bytes.size();
    {
      std::lock_guard lock(mu_);
      in_flight_[static_cast<size_t>(m.source)] = -1;
      hand_out(m.source);
      update_notice();
    }
    store(index_of(m.bytes), m.bytes.substr(8));
    remote_s_ += std::chrono::duration<double>(Clock::now() - t0).count();
  }

  void store(size_t i, const std::string& result) {
    const auto t0 = Clock::now();
    batch_.store(i, result);
    store_s_ += std::chrono::duration<double>(Clock::now() - t0).count();
    std::lock_guard lock(mu_);
    ++stored_;
    update_notice();
  }

  std::string task_on(int rank) {
    std::lock_guard lock(mu_);
    const long i = in_flight_[static_cast<size_t>(rank)];
    return i < 0 ? "" : batch_.tasks[static_cast<size_t>(i)];
  }

  // Under mu_.
  void update_notice() {
    std::string lost;
    for (size_t r = 0; r < in_flight_.size(); ++r)
      if (in_flight_[r] >= 0) lost += fmt::format("\n  rank {}: {}", r, batch_.tasks[static_cast<size_t>(in_flight_[r])]);
    publish_notice(fmt::format(
        "\neqsim: the MPI job was terminated during the {} batch (a rank died, or the job was cancelled).\n"
        "Tasks in flight, lost:{}\n{} of {} results had reached rank 0 and were stored; files already written are "
        "whole (atomic writes). Run the same command with --resume (any rank count, or none) to do only what is "
        "missing.\n",
        batch_.kind, lost.empty() ? " none" : lost, stored_, batch_.tasks.size()));
  }

  // Rank 0's cost of a worker's task (receive, store, send the next) against a task's
  // compute time: what bounds the rank count (README, "Running on a cluster").
  void report(double wall_s, double dispatch_cpu_s) const {
    const double n = std::max<double>(1, static_cast<double>(batch_.tasks.size()));
    const double remote = std::max<double>(1, n - static_cast<double>(computed_here_));
    fmt::print(stderr,
               "eqsim mpi: {} batch of {} tasks on {} ranks in {:.2f} s (rank 0 computed {}); rank 0's dispatch thread "
               "{:.3f} s CPU in all (shared state, polling, results); per worker task {:.3f} ms on rank 0 (receive, "
               "store, send the next; storing {:.3f} ms per task), {:.0f} B sent and {:.0f} B received; shared state {} "
               "B to each worker\n",
               batch_.kind, batch_.tasks.size(), in_flight_.size(), wall_s, computed_here_, dispatch_cpu_s,
               1e3 * remote_s_ / remote, 1e3 * store_s_ / n, static_cast<double>(bytes_sent_) / remote,
               static_cast<double>(bytes_received_) / remote, shared_bytes_);
  }

  const TaskBatch& batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<long> in_flight_;  // per rank: the task it computes, -1 when none
  std::deque<std::pair<long, std::string>> local_done_;
  std::exception_ptr error_;
  bool stop_ = false;
  size_t next_ = 0, stored_ = 0;
  long computed_here_ = 0;
  size_t bytes_sent_ = 0, bytes_received_ = 0, shared_bytes_ = 0;
  double store_s_ = 0, remote_s_ = 0;
};

void report_worker_error(const std::exception& e) {
  const bool bad_input = dynamic_cast<const InputError*>(&e) != nullptr;
  send(0, kError, std::string(1, static_cast<char>(bad_input ? 2 : 1)) + e.what());
}

// Ranks > 0: one batch, until rank 0 says stop.
void serve_batch(const TaskFunction& compute) {
  for (;;) {
    const Message m = wait_for(0, std::chrono::microseconds(2000));
    if (m.tag == kStop) return;
    const uint64_t i = index_of(m.bytes);
    std::string result;
    try {
      result = compute(m.bytes.substr(8));
    } catch (const std::exception& e) {
      report_worker_error(e);
      continue;  // rank 0 aborts the job
    }
    send(0, kResult, with_index(i, result));
  }
}

}  // namespace

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

std::string library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(text, &length);
  std::string v(text, static_cast<size_t>(std::max(0, length)));
  v = v.substr(0, v.find_first_of("\n\r"));
  return v.substr(0, v.find_last_not_of(" \t\0") + 1);
}

Session::Session(int& argc, char**& argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  if (rank_ == 0) {
    struct sigaction sa {};
    sa.sa_handler = on_terminate;
    sigaction(SIGTERM, &sa, nullptr);
  }
}

Session::~Session() { MPI_Finalize(); }

TaskExecutor Session::executor() {
  return [this](const TaskBatch& batch) { run_batch(batch); };
}

void Session::run_batch(const TaskBatch& batch) {
  in_batch_ = true;
  Dispatch(batch, size_).run();
  in_batch_ = false;
}

int Session::serve(const std::map<std::string, WorkerFactory>& factories) {
  for (;;) {
    const Message m = wait_for(0, std::chrono::microseconds(20000));
    if (m.tag == kDone) return 0;
    if (m.tag != kBatch) continue;
    uint64_t n = 0;
    MPI_Bcast(&n, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    std::string shared(n, '\0');
    MPI_Bcast(shared.data(), static_cast<int>(n), MPI_BYTE, 0, MPI_COMM_WORLD);
    TaskFunction compute;
    try {
      const auto it = factories.find(m.bytes);
      if (it == factories.end()) throw std::runtime_error("this eqsim cannot compute tasks of kind " + m.bytes);
      compute = it->second(shared);
    } catch (const std::exception& e) {
      report_worker_error(e);
      compute = [](const std::string&) -> std::string { throw std::runtime_error("no computation (see the error above)"); };
    }
    serve_batch(compute);
  }
}

int Session::finish(int exit_code) {
  if (in_batch_) MPI_Abort(MPI_COMM_WORLD, exit_code == 0 ? 1 : exit_code);
  for (int r = 1; r < size_; ++r) send(r, kDone, "");
  return exit_code;
}

}  // namespace eqsim::study::mpi
