// eqsim-spice-worker --fd N: one libngspice engine serving the spice backend
// over the socket N: it greets with the engine version, then answers each
// request (a deck) with its run, until the socket closes. A crash, an abort,
// an exit or a hang here costs the parent one relaxation, not the run.
//
// EQSIM_SPICE_WORKER_FAULT=KIND:N:FILE injects one fault for the tests: at the
// worker's N-th request, if FILE can be created (so only once across every
// worker), it does KIND: segv (raises SIGSEGV), abort, exit (calls exit(3)),
// quit (asks ngspice to quit: its exit callback) or hang (sleeps forever).
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "backend/spice/engine.hpp"
#include "backend/spice/wire.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace {

using namespace eqsim::backend::spice;

struct Fault {
  std::string kind;
  long at_request = 0;
  std::string once_file;
};

Fault fault_from_env() {
  Fault f;
  const char* env = std::getenv("EQSIM_SPICE_WORKER_FAULT");
  if (!env) return f;
  const std::string s = env;
  const auto a = s.find(':'), b = s.find(':', a == std::string::npos ? a : a + 1);
  if (a == std::string::npos || b == std::string::npos) return f;
  f.kind = s.substr(0, a);
  f.at_request = std::strtol(s.substr(a + 1, b - a - 1).c_str(), nullptr, 10);
  f.once_file = s.substr(b + 1);
  return f;
}

// True once per FILE across every process that tries (O_EXCL creation).
bool claim(const std::string& file) {
  const int fd = open(file.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
  if (fd < 0) return false;
  close(fd);
  return true;
}

void inject(const Fault& f, Engine& engine) {
  if (f.kind == "segv") {  // the default action, not a sanitizer's handler: the worker dies of SIGSEGV in every build
    std::signal(SIGSEGV, SIG_DFL);
    std::raise(SIGSEGV);
  }
  if (f.kind == "abort") std::abort();
  if (f.kind == "exit") std::exit(3);
  if (f.kind == "quit") engine.command("quit");
  if (f.kind == "hang")
    while (true) pause();
}

int serve(int fd) {
  Engine engine;
  if (!write_frame(fd, engine.version())) return 1;
  const Fault fault = fault_from_env();
  std::string in;
  for (long n = 1; read_frame(fd, in) == FrameStatus::ok; ++n) {
    Request q;
    Run r;
    if (!decode(in, q)) {
      r.errors = "the worker received a malformed request";
    } else {
      if (n == fault.at_request && claim(fault.once_file)) inject(fault, engine);
      r = engine.run(q.deck, q.command, q.seed);
    }
    if (!write_frame(fd, encode(r))) return 1;
    if (r.engine_exited) return 0;  // ngspice cannot run again in this process: the parent starts a fresh one
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::string(argv[1]) != "--fd") {
    std::fprintf(stderr, "usage: eqsim-spice-worker --fd N (started by eqsim's spice backend)\n");
    return 2;
  }
  // libngspice leaks by design; its memory goes with the process (no exit handlers, no leak report).
#if defined(__SANITIZE_ADDRESS__)
  __lsan_disable();  // nor at an exit() inside ngspice (the injected "exit" fault): its allocations are not eqsim's
#endif
  std::fflush(stderr);
  _exit(serve(std::atoi(argv[2])));
}
