#pragma once
// The parent side of the spice backend: a pool of eqsim-spice-worker
// processes, each owning one libngspice engine, spawned on demand up to a
// size (posix_spawn of the worker executable, so a multithreaded parent never
// forks itself). run() is thread-safe: it takes an idle worker, sends the
// request over a socket and waits for the reply until a deadline. A worker
// that dies (signal, abort, exit), answers nonsense or misses the deadline is
// killed and reaped; that run comes back with worker_failed and the reason,
// and the next run starts a fresh worker. A worker whose resident size grew
// past 1.05 times its size after its first run is replaced too (libngspice
// keeps memory across runs).
#include <sys/types.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "backend/spice/wire.hpp"

namespace eqsim::backend::spice {

struct PoolOptions {
  int workers = 0;          // pool size; 0: one per core (EQSIM_SPICE_WORKERS overrides)
  double deadline_s = 0;    // wall-clock limit of one relaxation; 0: 600 s (EQSIM_SPICE_DEADLINE_S overrides)
  std::string worker_path;  // "": EQSIM_SPICE_WORKER, else beside the running binary, else the build's own
};

// A worker's answer, or why there is none.
struct PoolReply {
  Run run;
  bool worker_failed = false;  // the worker died, hung or broke the protocol: run.errors says how
};

class WorkerPool {
 public:
  explicit WorkerPool(PoolOptions opt = {});
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const { return size_; }
  // Runs q on an idle worker (waits for one when all are busy).
  PoolReply run(const Request& q);
  // The engine's version as the first worker announced it ("" if none could start).
  std::string version();

 private:
  struct Worker {
    pid_t pid = -1;
    int fd = -1;
    long first_rss_kib = 0;  // resident size after its first run
  };
  // An idle worker, a new one, or an error message in `failure`.
  Worker acquire(std::string& failure);
  void release(const Worker& w);
  // Kills (when kill_first) and reaps w; returns how it ended.
  std::string retire(Worker& w, bool kill_first);
  Worker spawn(std::string& failure);
  // One worker fewer is live (it was retired or never started).
  void forget_one();

  int size_ = 1;
  double deadline_s_ = 600;
  std::string worker_path_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<Worker> idle_;
  int live_ = 0;  // spawned and not retired (idle or busy)
  std::string version_;
};

// Where the worker executable is found under opt (see PoolOptions::worker_path).
std::string find_worker(const std::string& configured);

}  // namespace eqsim::backend::spice
