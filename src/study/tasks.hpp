#pragma once
// The seam between a study and whoever runs its tasks (DESIGN.md §11, §12). A study's
// independent tasks (the exploration's (point, chip) pairs, the mismatch study's chips)
// form a TaskBatch: each task is named by a string, its result is computed to bytes by
// a pure function of the batch's shared state and that name (seeds only: the same bytes
// on any rank, in any order, on any thread), and stored by the writer. The default executor
// runs every task here, as many at once as the process has OpenMP threads (compute must be
// safe to call concurrently; store is called under a lock); the MPI executor (study/mpi/)
// spreads them over ranks
// and stores every result on rank 0. A worker rebuilds `compute` from the shared state
// through the WorkerFactory registered under the batch's kind.
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace eqsim::study {

struct TaskBatch {
  std::string kind;                // the WorkerFactory that rebuilds compute on another rank
  std::vector<std::string> tasks;  // what to do, one name per task (also what fault messages print)
  std::function<std::string()> shared;  // the state a worker needs; called only when there are workers
  std::function<std::string(const std::string& task)> compute;
  std::function<void(size_t index, const std::string& result)> store;  // the writer only, once per task, any order
};

using TaskExecutor = std::function<void(const TaskBatch&)>;
using TaskFunction = std::function<std::string(const std::string& task)>;
// On a worker rank: the batch's compute from its shared state (which may be large: model files).
using WorkerFactory = std::function<TaskFunction(const std::string& shared)>;

// Runs the batch with `executor`, or the process's (set_task_executor), or here (see top).
void run_tasks(const TaskBatch& batch, const TaskExecutor& executor = {});
// The executor every study uses from now on (cli/main installs the MPI one under mpirun).
void set_task_executor(TaskExecutor executor);

// Named byte strings packed into one (shared states and results that carry files).
using Bundle = std::map<std::string, std::string>;
std::string pack(const Bundle& files);
Bundle unpack(const std::string& bytes);  // std::runtime_error on bytes pack did not make

// A file's bytes ("" when it cannot be read).
std::string read_bytes(const std::string& path);
// The files under DIR (relative names), skipping folders named in `skip`.
Bundle read_tree(const std::string& dir, const std::vector<std::string>& skip = {});
// Writes each file of the bundle under DIR (atomically, making folders).
void write_tree(const std::string& dir, const Bundle& files);

// A private folder for a worker's copy of the shared files, removed with the object.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace eqsim::study
