#pragma once
// The single owner of libngspice's process-wide state, run inside a worker
// process (eqsim-spice-worker): one engine per process, every call through
// run(), the C numeric locale enforced around each run, the circuit and its
// vectors destroyed after each run. Only the worker links libngspice.
#include <map>
#include <string>
#include <vector>

namespace eqsim::backend::spice {

// What one ngspice analysis produced: every real vector of its plot by lower-case
// name (node voltages "v(n)" as "n", source currents as "vname#branch", the sweep
// as "v-sweep"/"i-sweep", "time" for a transient), and the engine's error lines.
struct Run {
  bool ok = false;
  bool timestep_too_small = false;
  bool engine_exited = false;  // ngspice called its exit callback: the process must not run it again
  std::string errors;
  std::map<std::string, std::vector<double>> vectors;
};

class Engine {
 public:
  Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  // "ngspice-NN" as the engine announces itself.
  const std::string& version() const { return version_; }
  // Loads deck (netlist lines ending with .end), seeds the noise stream from seed,
  // runs the analysis command ("tran ...", "op", "dc ...") and collects every
  // vector; never throws.
  Run run(const std::vector<std::string>& deck, const std::string& command, unsigned long long seed);
  // Sends one raw command to ngspice (the worker's fault injection uses "quit").
  int command(const std::string& c);

 private:
  static int on_char(char* s, int, void* self);
  static int on_status(char*, int, void*);
  static int on_exit(int status, bool, bool, int, void* self);
  std::string errors_since(size_t from) const;
  void execute(const std::vector<std::string>& deck, const std::string& analysis, unsigned long long seed, Run& r);
  void collect(Run& r);

  std::vector<std::string> log_;
  bool exited_ = false;
  std::string exit_message_, version_;
};

}  // namespace eqsim::backend::spice
