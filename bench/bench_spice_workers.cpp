// bench_spice_workers throughput [RUNS] [T_STOP_TAU]: RUNS relaxations of a
//   200-node RC chain with tanh transconductors on one spice worker, then on two (relax_all);
//   prints both wall times and the throughput ratio. Goal on 2 cores: >= 1.8x.
// bench_spice_workers one-worker [RUNS] [T_STOP_TAU]: the one-worker half alone; two
//   of them started at once show how far the machine itself scales to two processes.
// bench_spice_workers memory [RUNS]: RUNS consecutive relaxations of a small RC
//   netlist on one worker; prints the resident size (VmRSS) of this process and
//   of the worker at 100 runs and every tenth of RUNS, and the growth after the
//   first 100. Goal over 10^4 runs: < 10 % in both.
// Run alone on the machine (under the cpu lock) with OMP_NUM_THREADS=1.
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "backend/spice/spice_backend.hpp"
#include "circuit/netlist.hpp"

using namespace eqsim;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// VmRSS of a process in KiB (0 if unreadable).
long rss_kib(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == "VmRSS:") {
      in >> value;
      return value;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

// Child processes of this process (over all its threads): the spice workers.
std::string first_child_pid() {
  const std::string task_dir = "/proc/" + std::to_string(getpid()) + "/task";
  DIR* d = opendir(task_dir.c_str());
  std::string pid;
  while (dirent* e = d ? readdir(d) : nullptr) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(task_dir + "/" + e->d_name + "/children");
    if (in >> pid) break;
  }
  if (d) closedir(d);
  return pid;
}

// A chain of `nodes` RC nodes coupled by tanh transconductors to their
// neighbours, held at one end by the `k`-th input voltage.
circuit::Circuit chain(int nodes, int k) {
  std::string text = "* bench chain\nV1 in 0 DC " + std::to_string(0.1 + 0.01 * k) + "\nR0 in n0 10k\n";
  for (int i = 0; i < nodes; ++i) {
    const std::string n = "n" + std::to_string(i), next = "n" + std::to_string((i + 1) % nodes);
    text += "C" + n + " " + n + " 0 1p\nRl" + n + " " + n + " 0 100k\nR" + n + " " + n + " " + next + " 50k\n";
    text += "B" + n + " 0 " + next + " I=2u*tanh(V(" + n + ")/0.1)\n";
  }
  return circuit::parse_netlist(text + ".end\n", "chain" + std::to_string(k) + ".cir");
}

int throughput(int runs, double t_stop_tau, std::vector<int> worker_counts = {1, 2}) {
  const double tau_s = 1e-12 * 1e5;  // the slowest node: 1 pF on 100 kohm
  std::vector<circuit::Circuit> circuits;
  for (int k = 0; k < runs; ++k) circuits.push_back(chain(200, k));
  backend::RelaxOptions opt;
  opt.t_stop_s = t_stop_tau * tau_s;
  opt.sample_dt_s = tau_s / 20;
  opt.max_trajectory_points = 0;
  std::printf("%d relaxations of a %zu-element RC chain with tanh couplings over %.0f tau\n", runs, circuits[0].elements.size(),
              t_stop_tau);
  double wall_s[3] = {0, 0, 0};
  for (int workers : worker_counts) {
    backend::spice::PoolOptions po;
    po.workers = workers;
    backend::spice::SpiceBackend spice(po);
    spice.relax_all({circuits[0], circuits[0]}, {opt, opt});  // start the workers outside the timing
    const auto t0 = std::chrono::steady_clock::now();
    const auto out = spice.relax_all(circuits, std::vector<backend::RelaxOptions>(circuits.size(), opt));
    wall_s[workers] = seconds_since(t0);
    int settled = 0;
    for (const auto& s : out) settled += s.status == backend::Status::settled;
    std::printf("%d worker(s): %.3f s (%.1f ms per relaxation), %d of %d settled\n", workers, wall_s[workers],
                1e3 * wall_s[workers] / runs, settled, runs);
  }
  if (worker_counts.size() == 2) std::printf("throughput 2 workers / 1 worker = %.2fx (goal >= 1.8x)\n", wall_s[1] / wall_s[2]);
  return 0;
}

int memory(int runs) {
  const auto c = circuit::parse_netlist(
      "* RC ladder\nV1 in 0 DC 1\nR1 in a 1k\nC1 a 0 1p\nR2 a b 1k\nC2 b 0 1p\nR3 b c 1k\nC3 c 0 1p\nR4 c 0 3k\n"
      "G1 c 0 a 0 1u\n.tran 1p 50n uic\n.end\n",
      "ladder.cir");
  backend::spice::PoolOptions po;
  po.workers = 1;
  backend::spice::SpiceBackend spice(po);
  const std::string self = std::to_string(getpid());
  long parent_100 = 0, worker_100 = 0;
  int failed = 0;
  std::printf("%8s %14s %14s\n", "runs", "parent KiB", "worker KiB");
  for (int k = 1; k <= runs; ++k) {
    failed += spice.relax(c, {}).status != backend::Status::settled;
    if (k != 100 && k % (runs / 10) != 0) continue;
    const std::string worker = first_child_pid();
    const long p = rss_kib(self), w = rss_kib(worker);
    if (k == 100) parent_100 = p, worker_100 = w;
    std::printf("%8d %14ld %14ld\n", k, p, w);
    if (k == runs)
      std::printf("growth after the first 100 runs: parent %+.1f %%, worker (pid %s) %+.1f %% (goal < 10 %%); %d not settled\n",
                  100.0 * (p - parent_100) / parent_100, worker.c_str(), 100.0 * (w - worker_100) / worker_100, failed);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "throughput") return throughput(argc > 2 ? std::atoi(argv[2]) : 16, argc > 3 ? std::atof(argv[3]) : 100);
  // The machine's own scaling, for comparison: run two of these at once.
  if (mode == "one-worker") return throughput(argc > 2 ? std::atoi(argv[2]) : 16, argc > 3 ? std::atof(argv[3]) : 100, {1});
  if (mode == "memory") return memory(argc > 2 ? std::atoi(argv[2]) : 10000);
  std::fprintf(stderr, "usage: bench_spice_workers throughput|one-worker [RUNS] [T_STOP_TAU] | memory [RUNS]\n");
  return 2;
}
