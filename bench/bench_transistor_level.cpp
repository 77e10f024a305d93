// bench_transistor_level MODEL_DIR DEVICE_MODEL CELL [AMPLITUDES] [TRAN_STOP_S] [SIZES] [TRIM_V]
// Transistor-level equilibria (DESIGN.md §13) of a trained flow model in ngspice:
//  1. per spring-target amplitude a (x_t = a * r, r uniform in [-1, 1], seed 3), the
//     equilibrium of the behavioural circuit built from DEVICE_MODEL (ngspice DC operating
//     point) and of the same circuit with every transconductor an instance of CELL,
//     each against the trainer's equilibrium: rms and worst node in model units;
//  2. with TRAN_STOP_S > 0, the transistor-level circuit relaxed by the spice backend's
//     transient (status, settle time, wall time) at amplitude 1;
//  3. SIZES (comma list n): random 64-n-n networks (Xavier gain 0.5), the transistor-
//     level DC operating point's wall time, to see how far the path scales.
// AMPLITUDES default "0.25,0.5,1,2"; "-" skips part 1; SIZES default none ("-": none);
// TRIM_V: the cell's systematic offset, trimmed out (circuit::TransistorCell::offset_trim_V).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "backend/spice/spice_backend.hpp"
#include "circuit/netlister.hpp"
#include "circuit/transistor_level.hpp"
#include "config/device_model_yaml.hpp"
#include "config/model_dir.hpp"
#include "model/relax.hpp"
#include "study/characterize/cell.hpp"

using namespace eqsim;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<double> list(const std::string& s) {
  std::vector<double> out;
  std::stringstream in(s);
  for (std::string w; std::getline(in, w, ',');) out.push_back(std::atof(w.c_str()));
  return out;
}

// The trainer's free equilibrium at spring target x_t (every unit, modules in order).
std::vector<double> trainer(const model::Network& net, const Eigen::VectorXd& x_t) {
  model::Clamp clamp;
  clamp.spring_target = x_t;
  clamp.spring_g = net.spec().spring_lambda * net.spec().leak;
  auto st = model::initial_state(net, x_t);
  model::relax(net, clamp, st, {model::RelaxMethod::block, 2000, 0.1, 1e-14});
  std::vector<double> u;
  for (int m = 0; m < net.module_count(); ++m)
    for (int i = 0; i < net.size(m); ++i) u.push_back(st.u[m](i, 0));
  return u;
}

struct Op {
  bool ok = false;
  std::string errors;
  std::vector<double> u;  // model units, as trainer()
  double wall_s = 0;
};

// The DC operating point of c (capacitors open): the circuit's equilibrium.
Op operating_point(const circuit::Circuit& c, const model::Network& net, double v_unit) {
  circuit::Circuit dc = c;
  dc.initial_V.clear();
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = backend::spice::run_analysis(backend::spice::spice_deck(dc, {}), "op");
  Op op{r.ok, r.errors, {}, seconds_since(t0)};
  if (!r.ok) return op;
  for (int m = 0; m < net.module_count(); ++m)
    for (int i = 0; i < net.size(m); ++i) op.u.push_back(r.vectors.at(circuit::unit_node(net, m, i)).at(0) / v_unit);
  return op;
}

struct Error {
  double rms = 0, max = 0;
  std::string worst;
};

Error error(const std::vector<double>& a, const std::vector<double>& b, const model::Network& net) {
  Error e;
  size_t k = 0;
  for (int m = 0; m < net.module_count(); ++m)
    for (int i = 0; i < net.size(m); ++i, ++k) {
      const double d = std::abs(a[k] - b[k]);
      e.rms += d * d;
      if (d > e.max) e.max = d, e.worst = circuit::unit_node(net, m, i);
    }
  e.rms = std::sqrt(e.rms / static_cast<double>(k));
  return e;
}

Eigen::VectorXd spring_target(const model::Network& net, double a) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-1, 1);
  Eigen::VectorXd x(net.size(net.spec().visible));
  for (auto& v : x) v = a * u(rng);
  return x;
}

struct Circuits {
  circuit::Circuit behavioural, transistor;
};

Circuits circuits(const model::Network& net, const circuit::DeviceModel& dm, const circuit::TransistorCell& cell,
                  const Eigen::VectorXd& x_t) {
  circuit::NetlistOptions opt;
  opt.spring_target = x_t;
  const auto b = circuit::build_circuit(net, dm, opt);
  return {b, circuit::with_transistor_cells(b, cell, dm)};
}

double rms_of(const std::vector<double>& u) {
  double s = 0;
  for (double v : u) s += v * v;
  return std::sqrt(s / static_cast<double>(u.size()));
}

void amplitudes(const model::Network& net, const circuit::DeviceModel& dm, const circuit::TransistorCell& cell,
                const std::vector<double>& amps) {
  std::printf("%-6s %-9s | %-21s | %-33s | %-21s | %s\n", "a", "rms u*", "behavioural - trainer", "transistor - trainer",
              "transistor - behav.", "op wall (b / t)");
  for (double a : amps) {
    const Eigen::VectorXd x_t = spring_target(net, a);
    const auto u = trainer(net, x_t);
    const auto c = circuits(net, dm, cell, x_t);
    const Op b = operating_point(c.behavioural, net, dm.v_unit_V), t = operating_point(c.transistor, net, dm.v_unit_V);
    if (!b.ok || !t.ok) {
      std::printf("%-6g ngspice failed: %s %s\n", a, b.errors.c_str(), t.errors.c_str());
      continue;
    }
    const Error eb = error(b.u, u, net), et = error(t.u, u, net), etb = error(t.u, b.u, net);
    std::printf("%-6g %-9.3g | rms %.2e max %.2e | rms %.2e max %.2e (%-7s) | rms %.2e max %.2e | %.2f s / %.2f s\n", a,
                rms_of(u), eb.rms, eb.max, et.rms, et.max, et.worst.c_str(), etb.rms, etb.max, b.wall_s, t.wall_s);
  }
}

void transient(const model::Network& net, const circuit::DeviceModel& dm, const circuit::TransistorCell& cell, double t_stop_s) {
  const auto c = circuits(net, dm, cell, spring_target(net, 1.0));
  backend::RelaxOptions opt;
  opt.t_stop_s = t_stop_s;
  opt.sample_dt_s = t_stop_s / 400;
  opt.settle_tol_V = 1e-4 * dm.v_unit_V;
  const auto t0 = std::chrono::steady_clock::now();
  const auto s = backend::spice::SpiceBackend().relax(c.transistor, opt);
  const double wall = seconds_since(t0);
  const Op op = operating_point(c.transistor, net, dm.v_unit_V);
  double diff = 0;
  for (size_t k = 0, m = 0; m < static_cast<size_t>(net.module_count()); ++m)
    for (int i = 0; i < net.size(static_cast<int>(m)); ++i, ++k)
      for (size_t n = 0; n < s.nodes.size(); ++n)
        if (s.nodes[n] == circuit::unit_node(net, static_cast<int>(m), i) && op.ok)
          diff = std::max(diff, std::abs(s.final_V(static_cast<Eigen::Index>(n)) / dm.v_unit_V - op.u[k]));
  std::printf("transient a=1, t_stop %.3g s: status %s, settle %.3g s, wall %.1f s, max |u_tran - u_op| %.2e %s\n", t_stop_s,
              backend::to_string(s.status).c_str(), s.settle_time_s, wall, diff, s.message.c_str());
}

void sizes(const circuit::DeviceModel& dm, const circuit::TransistorCell& cell, const std::vector<double>& ns) {
  for (double nd : ns) {
    const int n = static_cast<int>(nd);
    model::NetworkSpec spec;
    spec.modules = {{"x", 64, model::Activation::identity}, {"h1", n, model::Activation::tanh}, {"h2", n, model::Activation::tanh}};
    spec.couplings = {{"x_h1", 0, 1}, {"h1_h2", 1, 2}};
    model::Network net(spec);
    net.init_xavier(0.5, 17);
    const auto c = circuits(net, dm, cell, spring_target(net, 1.0));
    const Op t = operating_point(c.transistor, net, dm.v_unit_V);
    const long cells = 2L * (64 * n + n * n);
    std::printf("64-%d-%d: %ld cells, %ld MOSFETs: DC operating point %s in %.1f s %s\n", n, n, cells, 6 * cells,
                t.ok ? "solved" : "failed", t.wall_s, t.errors.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: bench_transistor_level MODEL_DIR DEVICE_MODEL CELL [AMPLITUDES] [TRAN_STOP_S] [SIZES]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // long runs: each figure as soon as it is measured
  try {
    const auto net = config::load_model_dir(argv[1]);
    const auto dm = config::load_device_model(argv[2]);
    auto cell = study::transistor_cell(study::read_cell(argv[3]));
    if (argc > 7) cell.offset_trim_V = std::atof(argv[7]);
    const std::string amps = argc > 4 ? argv[4] : "0.25,0.5,1,2";
    std::printf("%s on %s, cell %s (offset trim %g V); errors in model units (V / v_unit_V)\n", argv[1], dm.name.c_str(), argv[3],
                cell.offset_trim_V);
    if (amps != "-") amplitudes(net, dm, cell, list(amps));
    if (argc > 5 && std::atof(argv[5]) > 0) transient(net, dm, cell, std::atof(argv[5]));
    if (argc > 6 && std::string(argv[6]) != "-") sizes(dm, cell, list(argv[6]));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_transistor_level: %s\n", e.what());
    return 1;
  }
  return 0;
}
