// Circuit in the loop (issue 3 item 7): sampling with every velocity read from a
// circuit relaxation. The ideal circuit must reproduce the ideal sampler; mismatch
// and noise must change the samples reproducibly from their seeds; spice and ode
// must agree; the CLI must reject bad flag combinations naming the flag, and a
// circuit that does not settle must end `relax` with exit 1 and a plain message.
// A diffusion model's annealed-Langevin sampler reads its score from the circuit
// conditioned on each noise level (issue 4 item 3).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "backend/registry.hpp"
#include "circuit/netlister.hpp"
#include "study/circuit_velocity.hpp"
#include "cli_runner.hpp"
#include "config/device_model_yaml.hpp"
#include "config/model_dir.hpp"
#include "data/npy.hpp"
#include "helpers.hpp"
#include "learn/sampler.hpp"
#include "learn/trainer.hpp"

using namespace eqsim;
using testing::run_eqsim;

namespace {

const std::string kDeviceModel = testing::source_path("device_models/generic-65nm.yaml");

// The ideal sampler with its relaxation converged (the circuit is relaxed to settling too).
Eigen::MatrixXd ideal_samples(const model::Network& net, const learn::SampleOptions& opt) {
  learn::SampleOptions o = opt;
  o.relax = {model::RelaxMethod::block, 1000, 0.1, 1e-13};
  return learn::generate(learn::energy_velocity(net, o), net.size(net.spec().visible), o);
}

struct CircuitRun {
  Eigen::MatrixXd x;
  study::SettleStats stats;
  double wall_s = 0;
};

CircuitRun circuit_samples(const model::Network& net, const learn::SampleOptions& opt, study::CircuitVelocityOptions c) {
  c.device_model = config::load_device_model(kDeviceModel);
  const auto t0 = std::chrono::steady_clock::now();
  study::CircuitVelocity cv(net, c);
  CircuitRun r{learn::generate(cv.field(), net.size(net.spec().visible), opt), cv.stats()};
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

learn::SampleOptions small_run(int n, double t_end) {
  learn::SampleOptions opt;
  opt.n = n;
  opt.t_end = t_end;
  opt.seed = 3;
  return opt;
}

// The small bilinear test network, the same whatever ran before (its weights come from
// Eigen's Random, which draws from std::rand).
model::Network small_network() {
  std::srand(1);
  return testing::small_network(8);
}

// A model folder holding the small bilinear test network.
const std::string& small_model_dir() {
  static const std::string dir = [] {
    const std::string d = testing::fresh_dir("sample_circuit_model") + "/model";
    config::save_model_dir(d, small_network(), "test network");
    return d;
  }();
  return dir;
}


learn::AnnealedLangevinOptions small_schedule(int steps_per_level) {
  return {learn::geometric_sigmas(1.0, 0.1, 3), steps_per_level, 2e-3, {model::RelaxMethod::euler, 100, 0.1, 0}};
}

// The ideal annealed-Langevin sampler with every relaxation converged (the circuit settles too).
Eigen::MatrixXd ideal_diffusion_samples(const model::Network& net, const learn::SampleOptions& opt,
                                        learn::AnnealedLangevinOptions schedule) {
  schedule.relax = {model::RelaxMethod::euler, 200000, 0.1, 1e-13};
  return learn::generate_annealed(learn::energy_score(net, schedule), net.size(net.spec().visible), opt, schedule);
}

CircuitRun circuit_diffusion_samples(const model::Network& net, const learn::SampleOptions& opt,
                                     const learn::AnnealedLangevinOptions& schedule, study::CircuitVelocityOptions c) {
  c.device_model = config::load_device_model(kDeviceModel);
  const auto t0 = std::chrono::steady_clock::now();
  study::CircuitVelocity cv(net, c);
  const auto score = learn::spring_score(cv.level_field(), schedule.sigmas);
  CircuitRun r{learn::generate_annealed(score, net.size(net.spec().visible), opt, schedule), cv.stats()};
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace

TEST_CASE("ode circuit in the loop, ideal circuit: the ideal sampler's samples (FlowEqProp 64-128-128)") {
  model::Network net(model::floweqprop_spec());
  net.init_xavier(0.5, 17);
  const auto opt = small_run(8, 0.08);
  const Eigen::MatrixXd ideal = ideal_samples(net, opt);
  const auto run = circuit_samples(net, opt, {});
  const double err = (run.x - ideal).cwiseAbs().maxCoeff();
  MESSAGE("8 samples, 8 Euler steps: max |x_circuit - x_ideal| = " << err << " model units; " << run.stats.relaxations
                                                                   << " relaxations, " << run.stats.not_settled
                                                                   << " not settled, slowest settle "
                                                                   << run.stats.settle_time_max_s << " s; wall "
                                                                   << run.wall_s << " s");
  CHECK(run.stats.relaxations == 64);
  CHECK(run.stats.not_settled == 0);
  CHECK(err < 1e-4);
}

TEST_CASE("a window too short to settle: counted per step, and sampling goes on") {
  const auto net = small_network();
  const auto opt = small_run(2, 0.02);
  study::CircuitVelocityOptions c;
  c.relax_time_s = 2 * 50e-9;  // 2 node time constants of generic-65nm
  const auto run = circuit_samples(net, opt, c);
  CHECK(run.stats.relaxations == 4);
  CHECK(run.stats.not_settled == 4);
  CHECK(run.stats.not_settled_per_step == std::vector<long>{2, 2});
  CHECK(run.x.allFinite());
}

TEST_CASE("mismatch changes the samples, reproducibly from its seed") {
  const auto net = small_network();
  const auto opt = small_run(8, 0.2);
  const Eigen::MatrixXd ideal = ideal_samples(net, opt);
  study::CircuitVelocityOptions c;
  c.mismatch_seed = 5;
  const auto a = circuit_samples(net, opt, c), b = circuit_samples(net, opt, c);
  c.mismatch_seed = 6;
  const auto other = circuit_samples(net, opt, c);
  const double vs_ideal = (a.x - ideal).cwiseAbs().maxCoeff();
  MESSAGE("mismatch seed 5: max |x - x_ideal| = " << vs_ideal << "; seed 6 vs 5: " << (other.x - a.x).cwiseAbs().maxCoeff()
                                                   << "; not settled " << a.stats.not_settled << ", " << other.stats.not_settled);
  CHECK(vs_ideal > 1e-3);
  CHECK(a.x == b.x);
  CHECK((other.x - a.x).cwiseAbs().maxCoeff() > 1e-3);
}

TEST_CASE("thermal noise changes the samples, reproducibly from the noise seed") {
  const auto net = small_network();
  const auto opt = small_run(4, 0.03);
  study::CircuitVelocityOptions c;
  c.relax_time_s = 20 * 50e-9;  // 20 node time constants of generic-65nm
  const auto quiet = circuit_samples(net, opt, c);
  c.temperature_K = 300;
  const auto a = circuit_samples(net, opt, c), b = circuit_samples(net, opt, c);
  c.noise_seed = 2;
  const auto other = circuit_samples(net, opt, c);
  const double vs_quiet = (a.x - quiet.x).cwiseAbs().maxCoeff();
  MESSAGE("300 K: max |x - x_noiseless| = " << vs_quiet << " model units after 3 steps; wall " << a.wall_s << " s");
  CHECK(a.x == b.x);
  CHECK(other.x != a.x);
  CHECK(vs_quiet > 1e-5);
  CHECK(vs_quiet < 0.05);
}

TEST_CASE("spice and ode circuits in the loop agree within 1e-3 v_unit") {
  const auto net = small_network();
  const auto opt = small_run(2, 0.03);
  study::CircuitVelocityOptions c;
  c.mismatch_seed = 9;
  const auto ode = circuit_samples(net, opt, c);
  c.backend = "spice";
  const auto spice = circuit_samples(net, opt, c);
  const double d = (spice.x - ode.x).cwiseAbs().maxCoeff();
  MESSAGE("2 samples, 3 steps, mismatch seed 9: max |x_spice - x_ode| = " << d << " model units; spice " << spice.wall_s
                                                                          << " s, ode " << ode.wall_s << " s");
  CHECK(spice.stats.relaxations == 6);
  CHECK(d < 1e-3);
}

TEST_CASE("eqsim sample --backend: bad combinations are exit 2 naming the flag") {
  const std::string out = " --out " + testing::fresh_dir("sample_circuit_bad") + "/s.npy";
  const std::string model = small_model_dir();
  auto r = run_eqsim("sample " + model + " --n 2" + out + " --backend ode");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--device-model: required with --backend ode") != std::string::npos);
  r = run_eqsim("sample " + model + " --n 2" + out + " --backend analog --device-model " + kDeviceModel);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--backend: unknown backend 'analog'") != std::string::npos);
  r = run_eqsim("sample " + model + " --n 2" + out + " --mismatch-seed 3");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--mismatch-seed: only with a circuit backend (" + backend::backend_choices() + ")") != std::string::npos);
  r = run_eqsim("sample " + model + " --n 2" + out + " --backend spice --device-model " + kDeviceModel +
                " --readout energy_gradient");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--readout") != std::string::npos);
}

// The 3 x 6 samples in DIR/s.npy and their record DIR/s.npy.json (status ok), returned.
nlohmann::json checked_sample_outputs(const std::string& dir) {
  const auto x = data::read_npy(dir + "/s.npy");
  CHECK(x.rows() == 3);
  CHECK(x.cols() == 6);
  std::ifstream in(dir + "/s.npy.json");
  const auto j = nlohmann::json::parse(in);
  CHECK(j["status"] == "ok");
  return j;
}

TEST_CASE("eqsim sample --backend ode writes the samples and a JSON record of the relaxations") {
  const std::string dir = testing::fresh_dir("sample_circuit_cli");
  const auto r = run_eqsim("sample " + small_model_dir() + " --n 3 --t-end 0.02 --out " + dir +
                           "/s.npy --backend ode --device-model " + kDeviceModel + " --mismatch-seed 4");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(r.output.find("0 of 6 relaxations did not settle") != std::string::npos);
  const auto j = checked_sample_outputs(dir);
  CHECK(j["backend"] == "ode");
  CHECK(j["device_model"]["name"] == "generic-65nm");
  CHECK(j["mismatch_seed"] == 4);
  CHECK(j["temperature_K"] == 0.0);
  CHECK(j["settle"]["relaxations"] == 6);
  CHECK(j["settle"]["not_settled"] == 0);
  CHECK(j["settle"]["per_step"]["not_settled"].size() == 2);
}

TEST_CASE("eqsim relax on a circuit that never settles: exit 1 with a plain message, JSON written") {
  const std::string dir = testing::fresh_dir("relax_not_settled");
  std::ofstream(dir + "/ramp.cir") << "* ramp\nI1 0 a DC 1n\nR1 a 0 1g\nC1 a 0 1p\n.tran 1n 1u\n.end\n";
  const auto r = run_eqsim("relax " + dir + "/ramp.cir --backend ode --out " + dir + "/r.json");
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("eqsim: " + dir + "/ramp.cir: not_settled: ") == 0);
  CHECK(r.output.find("internal error") == std::string::npos);
  std::ifstream in(dir + "/r.json");
  CHECK(nlohmann::json::parse(in)["status"] == "not_settled");
}

TEST_CASE("diffusion: the ideal ode circuit's annealed-Langevin samples are the ideal sampler's, level by level") {
  const auto net = testing::small_diffusion_network();
  const auto schedule = small_schedule(4);
  const auto opt = small_run(8, 1);
  const Eigen::MatrixXd ideal = ideal_diffusion_samples(net, opt, schedule);
  const auto run = circuit_diffusion_samples(net, opt, schedule, {});
  const double err = (run.x - ideal).cwiseAbs().maxCoeff();
  // The same sampler with every bias-table column set to level 0's: the levels matter.
  auto flat = net;
  auto& table = flat.params()[flat.table_index(1)];
  table = table.col(0).replicate(1, table.cols()).eval();
  const Eigen::MatrixXd unconditioned = ideal_diffusion_samples(flat, opt, schedule);
  const double level_effect = (unconditioned - ideal).cwiseAbs().maxCoeff();
  MESSAGE("8 samples, 3 levels x 4 steps + 1: max |x_circuit - x_ideal| = " << err << "; bias table held at level 0 moves "
                                                                            << level_effect << "; " << run.stats.relaxations
                                                                            << " relaxations, " << run.stats.not_settled
                                                                            << " not settled; wall " << run.wall_s << " s");
  CHECK(run.stats.relaxations == 8 * 13);
  CHECK(run.stats.not_settled == 0);
  CHECK(level_effect > 1e-2);
  CHECK(err < 1e-4);
}

TEST_CASE("diffusion: mismatch and start seeds reproduce, and spice agrees with ode") {
  const auto net = testing::small_diffusion_network();
  const auto schedule = small_schedule(1);
  auto opt = small_run(2, 1);
  study::CircuitVelocityOptions c;
  c.mismatch_seed = 5;
  const auto a = circuit_diffusion_samples(net, opt, schedule, c), b = circuit_diffusion_samples(net, opt, schedule, c);
  c.mismatch_seed = 6;
  const auto other = circuit_diffusion_samples(net, opt, schedule, c);
  opt.seed = 4;
  const auto other_start = circuit_diffusion_samples(net, opt, schedule, c);
  CHECK(a.x == b.x);
  CHECK((other.x - a.x).cwiseAbs().maxCoeff() > 1e-3);
  CHECK((other_start.x - other.x).cwiseAbs().maxCoeff() > 1e-2);
  c.backend = "spice";
  const auto spice = circuit_diffusion_samples(net, opt, schedule, c);
  const double d = (spice.x - other_start.x).cwiseAbs().maxCoeff();
  MESSAGE("2 samples, 3 levels x 1 step + 1, mismatch seed 6: max |x_spice - x_ode| = " << d << " model units; spice "
                                                                                          << spice.wall_s << " s");
  CHECK(spice.stats.relaxations == 2 * 4);
  CHECK(spice.stats.not_settled == 0);
  CHECK(d < 1e-3);
}

TEST_CASE("eqsim sample --backend ode on a diffusion model folder: annealed Langevin through the circuit") {
  const std::string dir = testing::fresh_dir("sample_circuit_diffusion");
  const auto schedule = small_schedule(2);
  config::save_model_dir(dir + "/model", testing::small_diffusion_network(), "test diffusion network", &schedule);
  const auto r = run_eqsim("sample " + dir + "/model --n 3 --out " + dir + "/s.npy --backend ode --device-model " +
                           kDeviceModel + " --mismatch-seed 4");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(r.output.find("0 of 21 relaxations did not settle") != std::string::npos);
  const auto j = checked_sample_outputs(dir);
  CHECK(j["sampler"]["kind"] == "annealed_langevin");
  CHECK(j["sampler"]["sigmas"].size() == 3);
  CHECK(j["settle"]["per_step"]["not_settled"].size() == 7);
}
