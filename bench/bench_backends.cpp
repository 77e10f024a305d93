// bench_backends [T_STOP_TAU] [BATCH] [ode-only] [as-written] [sizes=NX,NH1,NH2]: a FlowEqProp
// netlist (default 64-128-128, Xavier gain 0.5, untrained), ideal and mismatched (seed 1, the
// device model's own Pelgrom sigmas), relaxed over the same time span, to the same settling
// tolerance and output grid. Prints, each as a ratio measured in this run:
//   - mismatched against ideal on the ode backend (one relaxation, then a batch of BATCH
//     spring targets): goal <= 1.5;
//   - ngspice (the compiled deck, spice/deck.hpp) against ode on the ideal netlist, with the
//     agreement between them and with the trainer's equilibrium;
//   - with as-written: ngspice on the deck as written (one B-source per device, the deck
//     before the compiled form) against the compiled deck, and their agreement: goal >= 3.
// ode-only skips ngspice. Defaults: 100 tau, batch 64.
//
// bench_backends chip-sample [MODEL_DIR|-] [N] [STEPS] [MISMATCH_SEED]: sampling through the
// circuit in the loop (study::CircuitVelocity, as `eqsim sample --backend`) of the model
// (default: the untrained FlowEqProp above) on the ode and chip backends: N samples, STEPS
// Euler steps of 0.01 (defaults 64, 10), the ideal circuit or that mismatch seed; prints
// wall times, their ratio, the relaxations' settling and max |x_chip - x_ode|.
// On a shared machine run with OMP_NUM_THREADS=1: the batched products use
// Eigen's OpenMP GEMM, whose spinning threads suffer badly from contention.
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "backend/ode/ode_backend.hpp"
#include "backend/spice/spice_backend.hpp"
#include "circuit/netlist.hpp"
#include "circuit/netlister.hpp"
#include "config/device_model_yaml.hpp"
#include "config/model_dir.hpp"
#include "learn/sampler.hpp"
#include "model/relax.hpp"
#include "study/circuit_velocity.hpp"

using namespace eqsim;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::map<std::string, double> by_name(const backend::RelaxSummary& s) {
  std::map<std::string, double> v;
  for (size_t i = 0; i < s.nodes.size(); ++i) v[s.nodes[i]] = s.final_V(static_cast<Eigen::Index>(i));
  return v;
}

// Largest |V/v_unit - u*| against the trainer's block-coordinate equilibrium.
double trainer_error(const model::Network& net, const Eigen::VectorXd& x_t, const backend::RelaxSummary& s, double v_unit) {
  model::Clamp clamp;
  clamp.spring_target = x_t;
  clamp.spring_g = net.spec().spring_lambda * net.spec().leak;
  auto st = model::initial_state(net, x_t);
  model::relax(net, clamp, st, {model::RelaxMethod::block, 2000, 0.1, 1e-14});
  const auto v = by_name(s);
  double err = 0;
  for (int m = 0; m < net.module_count(); ++m)
    for (int i = 0; i < net.size(m); ++i)
      err = std::max(err, std::abs(v.at(circuit::unit_node(net, m, i)) / v_unit - st.u[m](i, 0)));
  return err;
}

void report(const char* name, const backend::RelaxSummary& s, double wall_s, const std::string& trainer) {
  std::printf("%-22s %-22s status %-11s settle %.4g s  t_end %.4g s  supply %.4g A  %s  wall %.3f s\n", name,
              s.backend.c_str(), backend::to_string(s.status).c_str(), s.settle_time_s, s.t_end_s,
              s.supply_current_final_A, trainer.c_str(), wall_s);
}

std::string trainer_figure(double err) { return fmt::format("trainer error {:.2e}", err); }

double max_difference(const backend::RelaxSummary& a, const backend::RelaxSummary& b) {
  const auto va = by_name(a), vb = by_name(b);
  double diff = 0;
  for (const auto& [n, v] : va) diff = std::max(diff, std::abs(v - vb.at(n)));
  return diff;
}

// One relaxation of c on backend b, timed.
std::pair<backend::RelaxSummary, double> timed_relax(backend::Backend& b, const circuit::Circuit& c,
                                                     const backend::RelaxOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  auto s = b.relax(c, opt);
  return {std::move(s), seconds_since(t0)};
}

// A batch of relaxations of c from its initial state, the spring targets x_t random per column
// (the same for every circuit: seeded); returns the wall time and prints it.
double time_batch(const char* name, const circuit::Circuit& c, const backend::RelaxOptions& relax_opt, int batch, double v_unit_V) {
  const backend::ode::OdeSystem sys(c);
  Eigen::MatrixXd x0 = sys.initial_state().replicate(1, batch), vf = sys.fixed_voltages().replicate(1, batch);
  std::srand(5);
  for (int i = 0; sys.node_index("xt_" + std::to_string(i)) >= 0; ++i)
    vf.row(sys.node_index("xt_" + std::to_string(i)) - sys.state_count()) = Eigen::RowVectorXd::Random(batch) * v_unit_V;
  backend::RelaxOptions opt = relax_opt;
  opt.stop_when_settled = true;
  opt.max_trajectory_points = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const auto out = backend::ode::relax_batch(sys, c, x0, vf, opt);
  const double wall_s = seconds_since(t0);
  int settled = 0;
  for (const auto& s : out) settled += s.status == backend::Status::settled;
  std::printf("ode batched %-10s %d samples in %.3f s (%.2f ms per sample), %d settled\n", name, batch, wall_s,
              1e3 * wall_s / batch, settled);
  return wall_s;
}

model::NetworkSpec bench_spec(int nx = 64, int nh1 = 128, int nh2 = 128) {
  model::NetworkSpec spec = model::floweqprop_spec();
  spec.modules[0].size = nx, spec.modules[1].size = nh1, spec.modules[2].size = nh2;
  return spec;
}

model::Network bench_network(const model::NetworkSpec& spec = bench_spec()) {
  model::Network net(spec);
  net.init_xavier(0.5, 17);
  for (int m = 0; m < net.module_count(); ++m) net.params()[m].setRandom() *= 0.2;
  return net;
}

int chip_sample(int argc, char** argv, const circuit::DeviceModel& dm) {
  const bool own = argc > 2 && std::string(argv[2]) != "-";
  const model::Network net = own ? config::load_model_dir(argv[2]) : bench_network();
  learn::SampleOptions sopt;
  sopt.n = argc > 3 ? std::atoi(argv[3]) : 64;
  sopt.dt = 0.01;
  sopt.t_end = sopt.dt * (argc > 4 ? std::atoi(argv[4]) : 10);
  sopt.seed = 1;
  study::CircuitVelocityOptions c;
  c.device_model = dm;
  if (argc > 5) c.mismatch_seed = std::strtoull(argv[5], nullptr, 10);
  std::printf("sampling %s: %d samples, %.0f Euler steps, %s circuit, window %.0f tau\n", own ? argv[2] : "untrained FlowEqProp",
              sopt.n, sopt.t_end / sopt.dt, argc > 5 ? ("mismatch seed " + std::string(argv[5])).c_str() : "ideal",
              study::default_relax_tau);
  Eigen::MatrixXd x[2];
  double wall_s[2];
  const char* names[2] = {"ode", "chip"};
  for (int b = 0; b < 2; ++b) {
    c.backend = names[b];
    const auto t0 = std::chrono::steady_clock::now();
    study::CircuitVelocity cv(net, c);
    x[b] = learn::generate(cv.field(), net.size(net.spec().visible), sopt);
    wall_s[b] = seconds_since(t0);
    const auto& st = cv.stats();
    std::printf("%-5s %-50s wall %8.3f s  %ld relaxations, %ld not settled, settle mean %.3g s max %.3g s\n", names[b],
                cv.backend_version().c_str(), wall_s[b], st.relaxations, st.not_settled,
                st.settled ? st.settle_time_sum_s / st.settled : 0.0, st.settle_time_max_s);
  }
  std::printf("time ratio ode/chip = %.1f; max |x_chip - x_ode| = %.3e model units\n", wall_s[0] / wall_s[1],
              (x[1] - x[0]).cwiseAbs().maxCoeff());
  return 0;
}

struct Args {
  double t_stop_tau = 100;
  int batch = 64;
  bool with_spice = true, as_written = false;
  model::NetworkSpec spec = bench_spec();
};

Args parse_args(int argc, char** argv) {
  Args a;
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    int nx = 0, nh1 = 0, nh2 = 0;
    if (arg == "ode-only") a.with_spice = false;
    else if (arg == "as-written") a.as_written = true;
    else if (std::sscanf(arg.c_str(), "sizes=%d,%d,%d", &nx, &nh1, &nh2) == 3) a.spec = bench_spec(nx, nh1, nh2);
    else if (positional++ == 0) a.t_stop_tau = std::atof(arg.c_str());
    else a.batch = std::atoi(arg.c_str());
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const auto dm = config::load_device_model(std::string(EQSIM_SOURCE_DIR) + "/device_models/generic-65nm.yaml");
  if (argc > 1 && std::string(argv[1]) == "chip-sample") return chip_sample(argc, argv, dm);
  const Args args = parse_args(argc, argv);
  const model::Network net = bench_network(args.spec);
  const int nx = net.size(0);
  const Eigen::VectorXd x_t = Eigen::VectorXd::Random(nx);
  circuit::NetlistOptions nopt;
  nopt.spring_target = x_t;
  nopt.model_name = fmt::format("FlowEqProp {}-{}-{}, Xavier gain 0.5 (bench)", nx, net.size(1), net.size(2));
  const auto ideal = circuit::parse_netlist(circuit::write_netlist(circuit::build_circuit(net, dm, nopt)), "bench.cir");
  nopt.mismatch_seed = 1;
  const auto mismatched = circuit::parse_netlist(circuit::write_netlist(circuit::build_circuit(net, dm, nopt)), "bench_mismatch.cir");
  std::printf("%s netlist: %zu elements (mismatch seed 1: %zu), tau %.3g s, t_stop %.0f tau\n", nopt.model_name.c_str(),
              ideal.elements.size(), mismatched.elements.size(), circuit::tau_s(dm), args.t_stop_tau);

  backend::RelaxOptions opt;
  opt.t_stop_s = args.t_stop_tau * circuit::tau_s(dm);
  opt.settle_tol_V = 1e-5;  // 1e-4 model units
  opt.sample_dt_s = circuit::tau_s(dm) / 4;
  opt.stop_when_settled = false;  // every run integrates the same span

  backend::ode::OdeBackend ode_backend;
  const auto [ode, ode_s] = timed_relax(ode_backend, ideal, opt);
  report("ode ideal", ode, ode_s, trainer_figure(trainer_error(net, x_t, ode, dm.v_unit_V)));
  const auto [ode_mm, ode_mm_s] = timed_relax(ode_backend, mismatched, opt);
  report("ode mismatched", ode_mm, ode_mm_s, "(no trainer equilibrium)");
  std::printf("time ratio mismatched/ideal (ode, one relaxation) = %.2f (goal <= 1.5)\n", ode_mm_s / ode_s);

  if (args.with_spice) {
    backend::spice::SpiceBackend compiled;
    const auto [spice, spice_s] = timed_relax(compiled, ideal, opt);
    report("spice ideal", spice, spice_s, trainer_figure(trainer_error(net, x_t, spice, dm.v_unit_V)));
    std::printf("max |V_ode - V_spice| = %.3e V (%.3e v_unit)\n", max_difference(ode, spice), max_difference(ode, spice) / dm.v_unit_V);
    std::printf("time ratio spice/ode = %.1f\n", spice_s / ode_s);
    if (args.as_written) {
      backend::spice::SpiceBackend written({}, backend::spice::DeckForm::as_written);
      const auto [old, old_s] = timed_relax(written, ideal, opt);
      report("spice ideal as written", old, old_s, trainer_figure(trainer_error(net, x_t, old, dm.v_unit_V)));
      std::printf("max |V_ode - V_spice as written| = %.3e V; max |V_spice - V_spice as written| = %.3e V\n",
                  max_difference(ode, old), max_difference(spice, old));
      std::printf("time ratio spice as written/compiled = %.2f (goal >= 3)\n", old_s / spice_s);
    }
  }

  // Training-scale use: one system, many spring targets at once.
  const double batch_ideal_s = time_batch("ideal", ideal, opt, args.batch, dm.v_unit_V);
  const double batch_mm_s = time_batch("mismatched", mismatched, opt, args.batch, dm.v_unit_V);
  std::printf("time ratio mismatched/ideal (ode, batch of %d) = %.2f (goal <= 1.5)\n", args.batch, batch_mm_s / batch_ideal_s);
  return 0;
}
