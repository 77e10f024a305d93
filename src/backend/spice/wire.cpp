#include "backend/spice/wire.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>

namespace eqsim::backend::spice {

namespace {

// A reply holds a few vectors of a few thousand points each; a frame beyond
// this is a broken stream, not data.
constexpr uint64_t max_frame_bytes = 1ULL << 32;

class Writer {
 public:
  template <class T>
  void raw(const T& v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void str(const std::string& s) {
    raw<uint64_t>(s.size());
    out += s;
  }
  void doubles(const std::vector<double>& v) {
    raw<uint64_t>(v.size());
    out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
  }
  std::string out;
};

class Reader {
 public:
  explicit Reader(const std::string& in) : in_(in) {}
  template <class T>
  bool raw(T& v) {
    if (in_.size() - pos_ < sizeof v) return false;
    std::memcpy(&v, in_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return true;
  }
  bool str(std::string& s) {
    uint64_t n = 0;
    if (!raw(n) || in_.size() - pos_ < n) return false;
    s.assign(in_, pos_, n);
    pos_ += n;
    return true;
  }
  bool doubles(std::vector<double>& v) {
    uint64_t n = 0;
    if (!raw(n) || (in_.size() - pos_) / sizeof(double) < n) return false;
    v.resize(n);
    std::memcpy(v.data(), in_.data() + pos_, n * sizeof(double));
    pos_ += n * sizeof(double);
    return true;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  const std::string& in_;
  size_t pos_ = 0;
};

// Waits until fd is readable or the deadline passes; false on timeout.
bool wait_readable(int fd, std::chrono::steady_clock::time_point deadline, bool limited) {
  while (true) {
    int ms = -1;
    if (limited) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      ms = static_cast<int>(std::min<long long>(left.count(), 1 << 30));
    }
    pollfd p{fd, POLLIN, 0};
    const int rc = poll(&p, 1, ms);
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return true;  // let recv report the error
  }
}

// Reads exactly n bytes into out.
FrameStatus read_exact(int fd, char* out, size_t n, std::chrono::steady_clock::time_point deadline, bool limited) {
  while (n > 0) {
    if (!wait_readable(fd, deadline, limited)) return FrameStatus::timed_out;
    const ssize_t k = recv(fd, out, n, 0);
    if (k == 0) return FrameStatus::closed;
    if (k < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return FrameStatus::closed;
    }
    out += k;
    n -= static_cast<size_t>(k);
  }
  return FrameStatus::ok;
}

}  // namespace

std::string encode(const Request& q) {
  Writer w;
  w.raw<uint64_t>(q.seed);
  w.str(q.command);
  w.raw<uint64_t>(q.deck.size());
  for (const auto& l : q.deck) w.str(l);
  return w.out;
}

bool decode(const std::string& bytes, Request& q) {
  Reader r(bytes);
  uint64_t seed = 0, n = 0;
  if (!r.raw(seed) || !r.str(q.command) || !r.raw(n)) return false;
  q.seed = seed;
  q.deck.clear();
  for (uint64_t i = 0; i < n; ++i) {
    std::string line;
    if (!r.str(line)) return false;
    q.deck.push_back(std::move(line));
  }
  return r.done();
}

std::string encode(const Run& run) {
  Writer w;
  w.raw<uint8_t>(run.ok);
  w.raw<uint8_t>(run.timestep_too_small);
  w.raw<uint8_t>(run.engine_exited);
  w.str(run.errors);
  w.raw<uint64_t>(run.vectors.size());
  for (const auto& [name, v] : run.vectors) {
    w.str(name);
    w.doubles(v);
  }
  return w.out;
}

bool decode(const std::string& bytes, Run& run) {
  Reader r(bytes);
  uint8_t ok = 0, small = 0, exited = 0;
  uint64_t n = 0;
  if (!r.raw(ok) || !r.raw(small) || !r.raw(exited) || !r.str(run.errors) || !r.raw(n)) return false;
  run.ok = ok != 0;
  run.timestep_too_small = small != 0;
  run.engine_exited = exited != 0;
  run.vectors.clear();
  for (uint64_t i = 0; i < n; ++i) {
    std::string name;
    std::vector<double> v;
    if (!r.str(name) || !r.doubles(v)) return false;
    run.vectors.emplace(std::move(name), std::move(v));
  }
  return r.done();
}

bool write_frame(int fd, const std::string& payload) {
  const uint64_t n = payload.size();
  std::string frame(reinterpret_cast<const char*>(&n), sizeof n);
  frame += payload;
  const char* p = frame.data();
  size_t left = frame.size();
  while (left > 0) {
    const ssize_t k = send(fd, p, left, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    left -= static_cast<size_t>(k);
  }
  return true;
}

FrameStatus read_frame(int fd, std::string& payload, double timeout_s) {
  const bool limited = timeout_s >= 0;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(limited ? timeout_s : 0));
  uint64_t n = 0;
  if (const auto s = read_exact(fd, reinterpret_cast<char*>(&n), sizeof n, deadline, limited); s != FrameStatus::ok) return s;
  if (n > max_frame_bytes) return FrameStatus::malformed;
  payload.resize(n);
  return read_exact(fd, payload.data(), n, deadline, limited);
}

}  // namespace eqsim::backend::spice
