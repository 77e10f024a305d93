// bench_backends [T_STOP_TAU] [BATCH] [ode-only]: the same FlowEqProp (64-128-128) netlist,
// ideal, relaxed by the ode and spice backends over the same time span, to the
// same settling tolerance and output grid; prints wall times, their ratio, the
// agreement between the backends and with the trainer's equilibrium, and the
// ode backend's batched throughput. Goal: ode >= 100x faster than ngspice.
//
// bench_backends chip-sample [MODEL_DIR|-] [N] [STEPS] [MISMATCH_SEED]: sampling through the
// circuit in the loop (study::CircuitVelocity, as `eqsim sample --backend`) of the model
// (default: the untrained FlowEqProp above) on the ode and chip backends: N samples, STEPS
// Euler steps of 0.01 (defaults 64, 10), the ideal circuit or that mismatch seed; prints
// wall times, their ratio, the relaxations' settling and max |x_chip - x_ode|.
// On a shared machine run with OMP_NUM_THREADS=1: the batched products use
// Eigen's OpenMP GEMM, whose spinning threads suffer badly from contention.
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

void report(const char* name, const backend::RelaxSummary& s, double wall_s, double err) {
  std::printf("%-6s %-22s status %-11s settle %.4g s  t_end %.4g s  supply %.4g A  trainer error %.2e  wall %.3f s\n", name,
              s.backend.c_str(), backend::to_string(s.status).c_str(), s.settle_time_s, s.t_end_s,
              s.supply_current_final_A, err, wall_s);
}

// Relaxes c on ngspice too; prints its figures, the agreement and the time ratio.
void compare_with_spice(const circuit::Circuit& c, const backend::RelaxOptions& opt, const model::Network& net,
                        const Eigen::VectorXd& x_t, double v_unit, const backend::RelaxSummary& ode, double ode_s) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto spice = backend::spice::SpiceBackend().relax(c, opt);
  const double spice_s = seconds_since(t0);
  report("spice", spice, spice_s, trainer_error(net, x_t, spice, v_unit));
  const auto vo = by_name(ode), vs = by_name(spice);
  double diff = 0;
  for (const auto& [n, v] : vo) diff = std::max(diff, std::abs(v - vs.at(n)));
  std::printf("max |V_ode - V_spice| = %.3e V (%.3e v_unit)\n", diff, diff / v_unit);
  std::printf("time ratio spice/ode = %.1f (goal >= 100)\n", spice_s / ode_s);
}

model::Network bench_network() {
  model::Network net(model::floweqprop_spec());
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

}  // namespace

int main(int argc, char** argv) {
  const auto dm = config::load_device_model(std::string(EQSIM_SOURCE_DIR) + "/device_models/generic-65nm.yaml");
  if (argc > 1 && std::string(argv[1]) == "chip-sample") return chip_sample(argc, argv, dm);
  const double t_stop_tau = argc > 1 ? std::atof(argv[1]) : 100;
  const int batch = argc > 2 ? std::atoi(argv[2]) : 64;
  const bool with_spice = !(argc > 3 && std::string(argv[3]) == "ode-only");
  const model::Network net = bench_network();
  const Eigen::VectorXd x_t = Eigen::VectorXd::Random(64);
  circuit::NetlistOptions nopt;
  nopt.spring_target = x_t;
  nopt.model_name = "FlowEqProp 64-128-128, Xavier gain 0.5 (bench)";
  const auto c = circuit::parse_netlist(circuit::write_netlist(circuit::build_circuit(net, dm, nopt)), "bench.cir");
  std::printf("FlowEqProp netlist: %zu elements, tau %.3g s, t_stop %.0f tau\n", c.elements.size(), circuit::tau_s(dm), t_stop_tau);

  backend::RelaxOptions opt;
  opt.t_stop_s = t_stop_tau * circuit::tau_s(dm);
  opt.settle_tol_V = 1e-5;  // 1e-4 model units
  opt.sample_dt_s = circuit::tau_s(dm) / 4;
  opt.stop_when_settled = false;  // both backends integrate the same span

  auto t0 = std::chrono::steady_clock::now();
  const auto ode = backend::ode::OdeBackend().relax(c, opt);
  const double ode_s = seconds_since(t0);
  report("ode", ode, ode_s, trainer_error(net, x_t, ode, dm.v_unit_V));

  if (with_spice) compare_with_spice(c, opt, net, x_t, dm.v_unit_V, ode, ode_s);

  // Training-scale use: one system, many spring targets at once.
  const backend::ode::OdeSystem sys(c);
  Eigen::MatrixXd x0 = sys.initial_state().replicate(1, batch), vf = sys.fixed_voltages().replicate(1, batch);
  for (int i = 0; i < 64; ++i) {
    const int row = sys.node_index("xt_" + std::to_string(i)) - sys.state_count();
    vf.row(row) = Eigen::RowVectorXd::Random(batch) * dm.v_unit_V;
  }
  opt.stop_when_settled = true;
  opt.max_trajectory_points = 0;
  t0 = std::chrono::steady_clock::now();
  const auto out = backend::ode::relax_batch(sys, c, x0, vf, opt);
  const double batch_s = seconds_since(t0);
  int settled = 0;
  for (const auto& s : out) settled += s.status == backend::Status::settled;
  std::printf("ode batched: %d samples in %.3f s (%.2f ms per sample), %d settled\n", batch, batch_s,
              1e3 * batch_s / batch, settled);
  return 0;
}
