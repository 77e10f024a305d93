#include "study/tasks.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>

#include "data/npy.hpp"

namespace eqsim::study {
namespace fs = std::filesystem;

namespace {

TaskExecutor& installed_executor() {
  static TaskExecutor executor;
  return executor;
}

void put_size(std::string& out, uint64_t n) {
  for (int b = 0; b < 8; ++b) out.push_back(static_cast<char>((n >> (8 * b)) & 0xff));
}

uint64_t get_size(const std::string& in, size_t& pos) {
  if (pos + 8 > in.size()) throw std::runtime_error("truncated bundle");
  uint64_t n = 0;
  for (int b = 0; b < 8; ++b) n |= static_cast<uint64_t>(static_cast<unsigned char>(in[pos + b])) << (8 * b);
  pos += 8;
  return n;
}

std::string get_string(const std::string& in, size_t& pos) {
  const uint64_t n = get_size(in, pos);
  if (n > in.size() - pos) throw std::runtime_error("truncated bundle");
  std::string s = in.substr(pos, n);
  pos += n;
  return s;
}

}  // namespace

void run_tasks(const TaskBatch& batch, const TaskExecutor& executor) {
  if (executor) return executor(batch);
  if (installed_executor()) return installed_executor()(batch);
  // Here: as many tasks at once as the process has OpenMP threads, each running
  // single-threaded inside (nested regions are serialised); store under a lock, in the
  // order the tasks end. The first exception stops new tasks and is rethrown.
  std::mutex lock;
  std::exception_ptr error;
  const long n = static_cast<long>(batch.tasks.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (long i = 0; i < n; ++i) {
    {
      const std::lock_guard<std::mutex> hold(lock);
      if (error) continue;
    }
    try {
      const std::string result = batch.compute(batch.tasks[static_cast<size_t>(i)]);
      const std::lock_guard<std::mutex> hold(lock);
      if (!error) batch.store(static_cast<size_t>(i), result);
    } catch (...) {
      const std::lock_guard<std::mutex> hold(lock);
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

void set_task_executor(TaskExecutor executor) { installed_executor() = std::move(executor); }

std::string pack(const Bundle& files) {
  std::string out;
  put_size(out, files.size());
  for (const auto& [name, bytes] : files) {
    put_size(out, name.size());
    out += name;
    put_size(out, bytes.size());
    out += bytes;
  }
  return out;
}

Bundle unpack(const std::string& bytes) {
  size_t pos = 0;
  const uint64_t n = get_size(bytes, pos);
  Bundle files;
  for (uint64_t i = 0; i < n; ++i) {
    std::string name = get_string(bytes, pos);
    files[name] = get_string(bytes, pos);
  }
  if (pos != bytes.size()) throw std::runtime_error("bundle has trailing bytes");
  return files;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Bundle read_tree(const std::string& dir, const std::vector<std::string>& skip) {
  Bundle files;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && std::find(skip.begin(), skip.end(), name) != skip.end()) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    files[fs::relative(it->path(), dir).string()] = read_bytes(it->path().string());
  }
  return files;
}

void write_tree(const std::string& dir, const Bundle& files) {
  for (const auto& [name, bytes] : files) {
    const fs::path path = fs::path(dir) / name;
    fs::create_directories(path.parent_path());
    data::write_text_atomic(path.string(), bytes);
  }
}

ScratchDir::ScratchDir() {
  std::string templ = (fs::temp_directory_path() / "eqsim_worker_XXXXXX").string();
  if (!mkdtemp(templ.data())) throw std::runtime_error("cannot create a scratch folder in " + fs::temp_directory_path().string());
  path_ = templ;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace eqsim::study
