// The chip backend (backend/chip/): a generated circuit relaxed at model level by
// circuit::EquivalentCircuit behind backend::Backend. Held to the ode backend on the
// same netlists (batched relaxation and the sampler's circuit in the loop; dense,
// bilinear and intra-module couplings), ideal and mismatched; a netlist read from a file
// is an InputError; noisy readings reproduce from their seed and have the variance the
// summary states. Backend::chip_relaxer, the studies' seam, on the chip and ode backends.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <nlohmann/json.hpp>

#include "backend/chip/chip_backend.hpp"
#include "backend/ode/ode_backend.hpp"
#include "backend/registry.hpp"
#include "circuit/netlist.hpp"
#include "circuit/netlister.hpp"
#include "cli_runner.hpp"
#include "config/device_model_yaml.hpp"
#include "config/model_dir.hpp"
#include "config/run_config.hpp"
#include "data/digits.hpp"
#include "data/error.hpp"
#include "helpers.hpp"
#include "learn/sampler.hpp"
#include "study/circuit_velocity.hpp"
#include "study/jobs.hpp"

using namespace eqsim;
using testing::run_eqsim;

namespace {

const std::string kDeviceModel = testing::source_path("device_models/generic-65nm.yaml");

// A FlowEqProp-like dense chain (x 6 identity - h1 7 tanh - h2 5 tanh), the same whatever ran before.
model::Network dense_network() {
  std::srand(11);
  return testing::small_network(11, false);
}

circuit::DeviceModel device_model(double relative_mismatch) {
  auto dm = config::load_device_model(kDeviceModel);
  return relative_mismatch > 0 ? circuit::with_relative_mismatch(dm, relative_mismatch) : dm;
}

// The dense chain netlisted as one chip: dm's mismatch drawn with seed 3.
circuit::Netlist mismatched_netlist(const circuit::DeviceModel& dm) {
  circuit::NetlistOptions nopt;
  nopt.mismatch_seed = 3;
  return circuit::netlist_network(dense_network(), dm, nopt);
}

backend::RelaxOptions tight(const circuit::DeviceModel& dm) {
  backend::RelaxOptions o;
  o.settle_tol_V = 1e-7;
  o.rel_tol = 1e-10;
  o.abs_tol_V = 1e-12;
  o.t_stop_s = 400 * circuit::tau_s(dm);
  return o;
}

// B columns: spring targets spread over [-0.9, 0.9] v_unit, every node starting at 0.
backend::BatchRequest spread_request(const circuit::Netlist& nl, const circuit::DeviceModel& dm, Eigen::Index B) {
  const auto nv = static_cast<Eigen::Index>(nl.map.spring_sources.size());
  backend::BatchRequest req{nl.map.spring_sources, Eigen::MatrixXd(nv, B), {}};
  for (Eigen::Index j = 0; j < B; ++j)
    req.source_V.col(j) = dm.v_unit_V * Eigen::VectorXd::LinSpaced(nv, -0.9, 0.9).reverse() * (0.3 + 0.7 * j / B);
  req.start_V = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(circuit::node_names(nl.circuit).size()), B);
  return req;
}

struct NetworkCase {
  std::string name;
  model::Network net;
  int level;  // bias-table column (-1: no tables)
};

// The dense chain, the chain with a bilinear rank-3 coupling, and a diffusion-like network
// (bilinear skip, intra-module couplings in both modules, a bias table at level 1).
std::vector<NetworkCase> networks() {
  std::srand(12);
  auto bilinear = testing::small_network(12, true);
  return {{"dense", dense_network(), -1}, {"bilinear", bilinear, -1}, {"diffusion-like", testing::small_diffusion_network(), 1}};
}

}  // namespace

TEST_CASE("chip and ode backends relax the same generated netlist (dense, bilinear, intra-module; ideal and mismatched) to the same voltages") {
  for (const auto& [name, net, level] : networks())
  for (double sigma : {0.0, 0.02, 0.1})
    for (double nudge_g : {0.0, -0.5}) {
      if (name != "dense" && sigma == 0.1) continue;  // the offset expansion's remainder is the dense case's
      CAPTURE(name);
      CAPTURE(sigma);
      CAPTURE(nudge_g);
      const auto dm = device_model(sigma);
      circuit::NetlistOptions nopt;
      if (sigma > 0) nopt.mismatch_seed = 7;
      nopt.nudge_g = nudge_g;
      nopt.nudge_target = Eigen::VectorXd::LinSpaced(6, 0.7, -0.6);
      nopt.condition_level = level;
      const auto nl = circuit::netlist_network(net, dm, nopt);
      const auto req = spread_request(nl, dm, 5);
      const auto ode = backend::ode::OdeBackend().batch_relaxer(nl.circuit)->relax(req, tight(dm));
      const auto chip = backend::chip::ChipBackend().batch_relaxer(nl.circuit)->relax(req, tight(dm));
      REQUIRE(chip.nodes == ode.nodes);
      const double err = (chip.final_V - ode.final_V).cwiseAbs().maxCoeff() / dm.v_unit_V;
      // ode settles to 1e-7 V (1e-6 v_unit at 0.1 V per unit); the offset expansion's
      // remainder (circuit/equivalent.hpp) stays below that up to sigma 0.02 and near 4e-4 at 0.1.
      const double bound = sigma <= 0.02 ? 3e-6 : 1e-3;
      // A source's current is its element's conductance times a voltage difference.
      const double current_tol_A = 2 * net.spec().spring_lambda * net.spec().leak * dm.g_unit_siemens * bound * dm.v_unit_V;
      double settle_ratio = 0;
      for (size_t j = 0; j < ode.runs.size(); ++j) {
        REQUIRE_MESSAGE(ode.runs[j].status == backend::Status::settled, ode.runs[j].message);
        REQUIRE_MESSAGE(chip.runs[j].status == backend::Status::settled, chip.runs[j].message);
        settle_ratio = std::max(settle_ratio, std::abs(std::log(chip.runs[j].settle_time_s / ode.runs[j].settle_time_s)));
        CHECK(chip.runs[j].supply_current_final_A == doctest::Approx(ode.runs[j].supply_current_final_A).epsilon(1e-9));
        for (size_t s = 0; s < ode.runs[j].sources.size(); ++s)
          CHECK(std::abs(chip.runs[j].sources[s].current_final_A - ode.runs[j].sources[s].current_final_A) <
                current_tol_A + 1e-9 * std::abs(ode.runs[j].sources[s].current_final_A));
      }
      MESSAGE(name << ", sigma " << sigma << ", nudge " << nudge_g << ": max |V_chip - V_ode| = " << err
                       << " v_unit over every node of 5 columns; settle times within a factor " << std::exp(settle_ratio));
      CHECK(err < bound);
      CHECK(std::exp(settle_ratio) < 1.15);
    }
}

TEST_CASE("chip backend: warm starts and the supply as a request's source, final_V on every node") {
  const auto dm = device_model(0.05);
  const auto nl = mismatched_netlist(dm);
  auto req = spread_request(nl, dm, 3);
  req.sources.push_back(nl.map.supply);
  req.source_V.conservativeResize(req.source_V.rows() + 1, Eigen::NoChange);
  req.source_V.bottomRows(1) << 1.0, 1.1, 1.2;
  auto relaxer = backend::chip::ChipBackend().batch_relaxer(nl.circuit);
  const auto cold = relaxer->relax(req, tight(dm));
  req.start_V = cold.final_V;
  const auto warm = relaxer->relax(req, tight(dm));
  const auto ode = backend::ode::OdeBackend().batch_relaxer(nl.circuit)->relax(req, tight(dm));
  CHECK((warm.final_V - cold.final_V).cwiseAbs().maxCoeff() < 1e-7);
  CHECK((warm.final_V - ode.final_V).cwiseAbs().maxCoeff() < 1e-4 * dm.v_unit_V);  // sigma 0.05: measured 2e-5 v_unit
  CHECK(warm.runs[0].settle_time_s < 0.1 * cold.runs[0].settle_time_s);  // already there
  const auto vdd = std::find(warm.nodes.begin(), warm.nodes.end(), "vdd") - warm.nodes.begin();
  CHECK(warm.final_V(vdd, 2) == 1.2);
  CHECK(warm.runs[2].supply_V == 1.2);
}

TEST_CASE("chip backend: a netlist read from a file is an InputError naming why") {
  const auto dm = device_model(0);
  const auto nl = circuit::netlist_network(dense_network(), dm, {});
  const auto file = circuit::parse_netlist(circuit::write_netlist(nl.circuit), "F.cir");
  backend::chip::ChipBackend chip;
  const auto message = [&](const circuit::Circuit& c) {
    try {
      chip.relax(c, {});
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no InputError");
  };
  CHECK(message(file).find("F.cir was read from a file") != std::string::npos);
  CHECK(message(nl.circuit) == "no InputError");

  const std::string dir = testing::fresh_dir("chip_backend_cli");
  std::ofstream(dir + "/F.cir") << circuit::write_netlist(nl.circuit);
  const auto r = run_eqsim("relax " + dir + "/F.cir --backend chip --out " + dir + "/r.json");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("read from a file") != std::string::npos);
  CHECK(!std::filesystem::exists(dir + "/r.json"));
}

TEST_CASE("chip backend with thermal noise: the same seed the same readings, column by column; the stated variance") {
  const auto dm = device_model(0.05);
  const auto nl = mismatched_netlist(dm);
  auto relaxer = backend::chip::ChipBackend().batch_relaxer(nl.circuit);
  backend::RelaxOptions opt = tight(dm);
  opt.temperature_K = 300;
  opt.seed = 5;
  const Eigen::Index B = 4000;
  backend::BatchRequest req{nl.map.spring_sources, dm.v_unit_V * Eigen::MatrixXd::Constant(6, B, 0.4), {}};
  const auto a = relaxer->relax(req, opt);
  req.source_V.conservativeResize(Eigen::NoChange, 3);
  const auto first3 = relaxer->relax(req, opt);  // column j's stream is sub_seed(seed, j), whatever the batch
  // (the noiseless sweeps stop per column chunk, so a batch of 3 ends within 1e-10 V of one of 4000)
  CHECK((first3.final_V - a.final_V.leftCols(3)).cwiseAbs().maxCoeff() < 1e-10);
  CHECK(relaxer->relax(req, opt).final_V == first3.final_V);  // same seed, same batch: the same bits
  opt.seed = 6;
  const auto other = relaxer->relax(req, opt);
  CHECK((other.final_V - first3.final_V).cwiseAbs().maxCoeff() > 1e-4);  // reading noise: about 1e-3 V

  const auto& run = a.runs[0];
  REQUIRE(run.noisy);
  double worst = 0;
  for (Eigen::Index k = 0; k < static_cast<Eigen::Index>(a.nodes.size()); ++k) {
    const Eigen::ArrayXd d = a.final_V.row(k).transpose().array() - run.mean_V(k);
    const double var = d.square().mean();
    if (run.var_V2(k) == 0) {
      CHECK(var == 0);  // a source node
      continue;
    }
    worst = std::max(worst, std::abs(var / run.var_V2(k) - 1));
  }
  MESSAGE("300 K, 4000 readings: sample variance within " << worst << " of var_V2 on every unit node");
  CHECK(worst < 0.1);  // 4000 Gaussian readings: relative standard error of a variance 2.2 %
}

TEST_CASE("the sampler's circuit in the loop through chip and ode: the same samples (ideal and mismatched)") {
  const auto net = dense_network();
  learn::SampleOptions sopt;
  sopt.n = 6;
  sopt.t_end = 0.05;
  sopt.seed = 3;
  for (const std::optional<unsigned long long> seed : {std::optional<unsigned long long>{}, std::optional(9ULL)}) {
    CAPTURE(seed.value_or(0));
    Eigen::MatrixXd x[2];
    study::SettleStats stats[2];
    const char* names[2] = {"ode", "chip"};
    for (int b = 0; b < 2; ++b) {
      study::CircuitVelocityOptions c;
      c.backend = names[b];
      c.device_model = device_model(0.02);
      c.mismatch_seed = seed;
      study::CircuitVelocity cv(net, c);
      x[b] = learn::generate(cv.field(), 6, sopt);
      stats[b] = cv.stats();
    }
    const double d = (x[1] - x[0]).cwiseAbs().maxCoeff();
    MESSAGE("6 samples, 5 steps: max |x_chip - x_ode| = " << d << " model units; not settled: chip "
                                                          << stats[1].not_settled << ", ode " << stats[0].not_settled);
    CHECK(stats[1].relaxations == stats[0].relaxations);
    CHECK(stats[1].not_settled == 0);
    CHECK(d < 1e-4);  // both settle to 1e-4 v_unit (CircuitVelocity's default tolerance)
  }
}

TEST_CASE("eqsim sample --backend chip on a dense model folder; help lists chip") {
  const std::string dir = testing::fresh_dir("chip_backend_sample");
  config::save_model_dir(dir + "/model", dense_network(), "dense test network");
  const auto r = run_eqsim("sample " + dir + "/model --n 3 --t-end 0.02 --out " + dir + "/s.npy --backend chip --device-model " +
                           kDeviceModel + " --mismatch-seed 4");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const auto j = nlohmann::json::parse(std::ifstream(dir + "/s.npy.json"));
  CHECK(j["backend"] == "chip");
  CHECK(j["settle"]["relaxations"] == 6);
  CHECK(run_eqsim("sample --help").output.find("chip") != std::string::npos);
  CHECK(run_eqsim("relax --help").output.find("chip") != std::string::npos);
}

namespace {

// A model-level clamp of B columns on net's visible module: springs to spread targets, a
// nudge of nudge_g towards half of them, bias-table column `level` (-1: none).
model::Clamp spread_clamp(const model::Network& net, Eigen::Index B, double nudge_g, int level) {
  const Eigen::Index nv = net.size(net.spec().visible);
  model::Clamp c;
  c.spring_g = net.spec().spring_lambda * net.spec().leak;
  c.spring_target.resize(nv, B);
  for (Eigen::Index j = 0; j < B; ++j) c.spring_target.col(j) = Eigen::VectorXd::LinSpaced(nv, -0.9, 0.9) * (0.3 + 0.7 * j / B);
  c.nudge_g = nudge_g;
  if (nudge_g != 0) c.nudge_target = 0.5 * c.spring_target;
  if (level >= 0) c.levels.assign(static_cast<size_t>(B), level);
  return c;
}

// Relaxed to convergence on r: block sweeps, or Euler steps with intra-module couplings.
model::State relaxed(backend::ChipRelaxer& r, const model::Network& net, const model::Clamp& c) {
  model::State s = model::initial_state(net, c.spring_target);
  bool self = false;
  for (int k = 0; k < static_cast<int>(net.spec().couplings.size()); ++k) self = self || net.is_self(k);
  r.relax(c, s, self ? model::RelaxOptions{model::RelaxMethod::euler, 400000, 0.02, 1e-13}
                     : model::RelaxOptions{model::RelaxMethod::block, 20000, 0.1, 1e-13});
  return s;
}

double max_diff(const model::State& a, const model::State& b) {
  double d = 0;
  for (size_t m = 0; m < a.u.size(); ++m) d = std::max(d, (a.u[m] - b.u[m]).cwiseAbs().maxCoeff());
  return d;
}

}  // namespace

TEST_CASE("Backend::chip_relaxer: the chip backend's node equations and the ode backend's netlists are the same chip") {
  const auto dm = device_model(0.02);
  for (auto [name, net, level] : networks()) {
    CAPTURE(name);
    const backend::ChipSpec spec{&net, dm, 5, {}};
    const auto chip = backend::chip::ChipBackend().chip_relaxer(spec);
    backend::ode::OdeBackend ode_backend;
    const auto ode = ode_backend.chip_relaxer(spec);
    for (double nudge_g : {0.0, -0.4}) {
      const auto clamp = spread_clamp(net, 4, nudge_g, level);
      const double err = max_diff(relaxed(*chip, net, clamp), relaxed(*ode, net, clamp));
      MESSAGE(name << ", nudge " << nudge_g << ": max |u_chip - u_ode| = " << err << " model units");
      CHECK(err < 1e-5);  // ode settles to 1e-6 model units; the offset expansion's remainder at sigma 0.02 is below
    }
    // In-situ training rewrites the weights: both relaxers see the new chip.
    const auto clamp = spread_clamp(net, 4, 0, level);
    const model::State before = relaxed(*chip, net, clamp);
    net.params()[net.module_count()] *= 1.3;  // the first coupling's weights
    const model::State chip_after = relaxed(*chip, net, clamp), ode_after = relaxed(*ode, net, clamp);
    CHECK(max_diff(before, chip_after) > 1e-3);
    CHECK(max_diff(chip_after, ode_after) < 1e-5);
    // Settling from rest: the chip's Euler-stepped node dynamics against the netlist's integration.
    const auto start = model::initial_state(net, clamp.spring_target);
    const Eigen::RowVectorXd t_chip = chip->settle_time_s(clamp, start, 1e-3, 2000 * circuit::tau_s(dm));
    const Eigen::RowVectorXd t_ode = ode->settle_time_s(clamp, start, 1e-3, 2000 * circuit::tau_s(dm));
    MESSAGE(name << ": settle times chip " << t_chip << " s, ode " << t_ode << " s");
    REQUIRE(t_chip.allFinite());
    REQUIRE(t_ode.allFinite());
    CHECK(((t_chip.array() / t_ode.array()).log().abs() < std::log(1.2)).all());
  }
}

TEST_CASE("Backend::chip_relaxer reads through the ADC on every backend; a netlisted chip cannot hold its visible units") {
  const auto dm = device_model(0.02);
  const auto net = dense_network();
  circuit::ChipReadout adc;
  adc.adc_bits = 5;
  const double lsb = 2 * adc.full_scale_model / 31;
  const auto clamp = spread_clamp(net, 3, 0, -1);
  for (const std::string name : {"chip", "ode"}) {
    CAPTURE(name);
    const auto b = backend::make_backend(name);
    const auto r = b->chip_relaxer({&net, dm, 5, adc});
    const auto exact = b->chip_relaxer({&net, dm, 5, {}});
    const model::State read = relaxed(*r, net, clamp), u = relaxed(*exact, net, clamp);
    for (size_t m = 0; m < read.u.size(); ++m) {
      const Eigen::ArrayXXd code = (read.u[m].array() + adc.full_scale_model) / lsb;
      CHECK((code - code.round()).abs().maxCoeff() < 1e-9);
      const Eigen::ArrayXXd clipped = u.u[m].array().cwiseMax(-adc.full_scale_model).cwiseMin(adc.full_scale_model);
      CHECK((read.u[m].array() - clipped).abs().maxCoeff() <= 0.5 * lsb + 1e-12);
    }
    model::Clamp hold = clamp;
    hold.hold_visible = true;
    model::State s = model::initial_state(net, clamp.spring_target);
    if (name == "ode") CHECK_THROWS_AS(r->relax(hold, s, {}), InputError);
  }
}

TEST_CASE("shared_batches: every caller, from two threads in opposite orders, gets the source's own batch of each step") {
  auto cfg = config::load_run_config("", {});
  cfg.train.batch_size = 64;  // OT-paired, as the in-situ chips' batches
  const auto digits = data::load_digits("");
  const learn::BatchSource shared = study::shared_batches(study::batch_source(cfg, digits.images));
  constexpr int steps = 6;
  std::vector<learn::FlowBatch> forward(steps + 1), backward(steps + 1);
  std::thread a([&] {
    for (int k = 1; k <= steps; ++k) forward[k] = shared(k);
  });
  std::thread b([&] {
    for (int k = steps; k >= 1; --k) backward[k] = shared(k);
  });
  a.join(), b.join();
  const learn::BatchSource own = study::batch_source(cfg, digits.images);
  for (int k = 1; k <= steps; ++k) {
    const learn::FlowBatch expected = own(k);
    CHECK(forward[k].x_t == expected.x_t);
    CHECK(forward[k].u_t == expected.u_t);
    CHECK(backward[k].x_t == expected.x_t);
    CHECK(backward[k].u_t == expected.u_t);
    CHECK(forward[k].noise_seed == expected.noise_seed);
  }
  CHECK(forward[1].x_t != forward[2].x_t);  // the steps differ
}
