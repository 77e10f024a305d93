#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backend/ode/ode_backend.hpp"
#include "backend/spice/spice_backend.hpp"
#include "circuit/equivalent.hpp"
#include "learn/flow.hpp"
#include "circuit/mismatch.hpp"
#include "circuit/netlist.hpp"
#include "circuit/netlister.hpp"
#include "circuit/products.hpp"
#include "config/device_model_yaml.hpp"
#include "data/error.hpp"
#include "helpers.hpp"
#include "model/relax.hpp"

using namespace eqsim;

namespace {

std::string source_path(const std::string& rel) { return std::string(EQSIM_SOURCE_DIR) + "/" + rel; }

circuit::DeviceModel dm65() { return config::load_device_model(source_path("device_models/generic-65nm.yaml")); }

// The trainer's equilibrium (model units), every unit of every module stacked.
Eigen::VectorXd trainer_equilibrium(const model::Network& net, const Eigen::VectorXd& x_t, double nudge_g,
                                    const Eigen::VectorXd& nudge_target) {
  model::Clamp clamp;
  clamp.spring_target = x_t;
  clamp.spring_g = net.spec().spring_lambda * net.spec().leak;
  clamp.nudge_g = nudge_g;
  if (nudge_g != 0) clamp.nudge_target = nudge_target;
  auto s = model::initial_state(net, x_t);
  const auto sum = model::relax(net, clamp, s, {model::RelaxMethod::block, 2000, 0.1, 1e-14});
  REQUIRE(sum.converged);
  Eigen::VectorXd u(0);
  for (const auto& m : s.u) {
    u.conservativeResize(u.size() + m.rows());
    u.tail(m.rows()) = m.col(0);
  }
  return u;
}

// Largest |V/v_unit - u| over every unit node.
double max_unit_error(const model::Network& net, const backend::RelaxSummary& s, const Eigen::VectorXd& u,
                      double v_unit_V) {
  std::map<std::string, double> v;
  for (size_t i = 0; i < s.nodes.size(); ++i) v[s.nodes[i]] = s.final_V(static_cast<Eigen::Index>(i));
  double err = 0;
  int k = 0;
  for (int m = 0; m < net.module_count(); ++m)
    for (int i = 0; i < net.size(m); ++i, ++k) err = std::max(err, std::abs(v.at(circuit::unit_node(net, m, i)) / v_unit_V - u(k)));
  return err;
}

std::string write_temp(const std::string& name, const std::string& text) {
  const auto p = std::filesystem::temp_directory_path() / name;
  std::ofstream(p) << text;
  return p.string();
}

backend::RelaxOptions tight() {
  backend::RelaxOptions opt;
  opt.settle_tol_V = 1e-6;  // 1e-5 model units at v_unit_V = 0.1
  return opt;
}

}  // namespace

TEST_CASE("device models load, and bad ones name the file and key") {
  const auto dm = dm65();
  CHECK(dm.name == "generic-65nm");
  CHECK(circuit::tau_s(dm) == doctest::Approx(50e-9));
  CHECK(config::load_device_model(source_path("device_models/generic-28nm.yaml")).VDD_V == 0.9);
  std::ifstream in(source_path("device_models/generic-65nm.yaml"));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  auto error_of = [](const std::string& path) -> std::string {
    try {
      config::load_device_model(path);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  };
  std::string missing = text;
  missing.erase(missing.find("c_node_F:"), missing.find('\n', missing.find("c_node_F:")) - missing.find("c_node_F:") + 1);
  const auto p1 = write_temp("dm_missing.yaml", missing);
  CHECK(error_of(p1) == p1 + ": c_node_F: missing");
  std::string negative = text;
  negative.replace(negative.find("value: 50.0e-15"), 15, "value: -5.0e-15");
  const auto p2 = write_temp("dm_negative.yaml", negative);
  CHECK(error_of(p2).find(p2 + ": c_node_F: must be a positive number") == 0);
  std::string unsourced = text;
  unsourced.replace(unsourced.find("source: \"nominal core"), 7, "note:  ");
  CHECK(error_of(write_temp("dm_nosource.yaml", unsourced)).find("VDD_V: needs a source: or assumption: note") != std::string::npos);
}

TEST_CASE("the ideal FlowEqProp circuit settles to the trainer's equilibrium (ode)") {
  model::Network net(model::floweqprop_spec());
  net.init_xavier(0.5, 17);
  for (int m = 0; m < net.module_count(); ++m) net.params()[m].setRandom() *= 0.2;
  const Eigen::VectorXd x_t = Eigen::VectorXd::Random(64);
  circuit::NetlistOptions opt;
  opt.spring_target = x_t;
  const auto dm = dm65();
  const auto c = circuit::build_circuit(net, dm, opt);
  auto ropt = tight();
  ropt.t_stop_s = 500 * circuit::tau_s(dm);  // the slowest coupled mode is much slower than one node's RC
  const auto s = backend::ode::OdeBackend().relax(c, ropt);
  REQUIRE_MESSAGE(s.status == backend::Status::settled, s.message);
  const double err = max_unit_error(net, s, trainer_equilibrium(net, x_t, 0, {}), dm.v_unit_V);
  MESSAGE("FlowEqProp 64-128-128: max |V/v_unit - u*| = " << err << " model units, settled after " << s.settle_time_s
                                                         << " s, supply " << s.supply_current_final_A << " A");
  CHECK(err < 1e-4);
  CHECK(s.supply_current_final_A > 49152 * dm.transconductor_bias_A * 0.999);
}

TEST_CASE("a bilinear network with a negative nudge: ode, spice and the trainer agree") {
  auto net = testing::small_network(4);
  const Eigen::VectorXd x_t = Eigen::VectorXd::Random(6), y = Eigen::VectorXd::Random(6);
  circuit::NetlistOptions opt;
  opt.spring_target = x_t;
  opt.nudge_g = -0.5;
  opt.nudge_target = y;
  const auto dm = dm65();
  const auto c = circuit::build_circuit(net, dm, opt);
  const Eigen::VectorXd u = trainer_equilibrium(net, x_t, -0.5, y);
  const auto ode = backend::ode::OdeBackend().relax(c, tight());
  const auto spice = backend::spice::SpiceBackend().relax(c, tight());
  REQUIRE_MESSAGE(spice.status == backend::Status::settled, spice.message);
  const double e_ode = max_unit_error(net, ode, u, dm.v_unit_V), e_spice = max_unit_error(net, spice, u, dm.v_unit_V);
  MESSAGE("bilinear net: ode error " << e_ode << ", spice error " << e_spice << " model units");
  CHECK(e_ode < 1e-4);
  CHECK(e_spice < 1e-4);
  CHECK(std::abs(ode.supply_current_final_A - spice.supply_current_final_A) < 1e-6 * ode.supply_current_final_A);
}

TEST_CASE("intra-module couplings and a bias-table level: the ideal circuit lands on the trainer's equilibrium") {
  model::NetworkSpec spec;
  spec.modules = {{"x", 5, model::Activation::identity, 0}, {"d", 6, model::Activation::tanh, 3}};
  spec.couplings = {{"x_d", 0, 1, model::CouplingKind::bilinear, 2}, {"d_d", 1, 1, model::CouplingKind::dense, 0}};
  spec.spring_lambda = 2;
  spec.alpha = 1;
  model::Network net(spec);
  net.init_xavier(0.8, 5);
  net.params()[net.table_index(1)].setRandom();
  const Eigen::VectorXd x_t = Eigen::VectorXd::Random(5);
  model::Clamp clamp;
  clamp.spring_target = x_t;
  clamp.spring_g = net.spec().spring_lambda * net.spec().leak;
  clamp.levels = {2};
  auto st = model::initial_state(net, x_t);
  REQUIRE(model::relax(net, clamp, st, {model::RelaxMethod::euler, 200000, 0.1, 1e-14}).converged);
  Eigen::VectorXd u(11);
  u << st.u[0].col(0), st.u[1].col(0);
  circuit::NetlistOptions opt;
  opt.spring_target = x_t;
  CHECK_THROWS_AS(circuit::build_circuit(net, dm65(), opt), InputError);  // a table needs a level
  opt.condition_level = 2;
  const auto c = circuit::build_circuit(net, dm65(), opt);
  const auto ode = backend::ode::OdeBackend().relax(c, tight());
  CHECK(max_unit_error(net, ode, u, dm65().v_unit_V) < 1e-4);
  CHECK(circuit::write_netlist(c).find("BW_d_d_d_1_d_1 ") == std::string::npos);  // no self-loop device
  CHECK(circuit::write_netlist(c).find("BW_d_d_d_1_d_2 ") != std::string::npos);  // one device per ordered pair
}

TEST_CASE("mismatched netlists: reproducible from the seed, and ode and spice agree on them") {
  auto net = testing::small_network(8);
  const auto dm = dm65();
  circuit::NetlistOptions opt;
  opt.spring_target = Eigen::VectorXd::Random(6);
  opt.mismatch_seed = 42;
  const auto text = circuit::write_netlist(circuit::build_circuit(net, dm, opt));
  CHECK(text == circuit::write_netlist(circuit::build_circuit(net, dm, opt)));
  opt.mismatch_seed = 43;
  CHECK(text != circuit::write_netlist(circuit::build_circuit(net, dm, opt)));
  CHECK(text.find("* mismatch seed: 42") != std::string::npos);
  CHECK(text.find("BW_x_h1_h1_3_x_2 0 h1_3 I=") != std::string::npos);
  CHECK(text.find("BW_x_h1_x_2_h1_3 0 x_2 I=") != std::string::npos);
  // The written text is what both backends read.
  const auto c = circuit::parse_netlist(text, "mismatch42.cir");
  const auto ode = backend::ode::OdeBackend().relax(c, tight());
  const auto spice = backend::spice::SpiceBackend().relax(c, tight());
  REQUIRE_MESSAGE(spice.status == backend::Status::settled, spice.message);
  std::map<std::string, double> v_spice;
  for (size_t i = 0; i < spice.nodes.size(); ++i) v_spice[spice.nodes[i]] = spice.final_V(static_cast<Eigen::Index>(i));
  double d = 0;
  for (size_t i = 0; i < ode.nodes.size(); ++i)
    d = std::max(d, std::abs(ode.final_V(static_cast<Eigen::Index>(i)) - v_spice.at(ode.nodes[i])));
  MESSAGE("mismatched bilinear netlist: max |V_ode - V_spice| = " << d << " V");
  CHECK(ode.nodes.size() == spice.nodes.size());
  CHECK(d < 1e-3 * dm.v_unit_V);
}

TEST_CASE("mismatch draws follow Pelgrom sigma = A / sqrt(area)") {
  const auto dm = dm65();
  circuit::MismatchSampler a(dm, 3), b(dm, 3);
  double s2 = 0, o2 = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double g = a.gain_factor() - 1, o = a.offset_V();
    CHECK(g + 1 == b.gain_factor());
    CHECK(o == b.offset_V());
    s2 += g * g, o2 += o * o;
  }
  CHECK(std::sqrt(s2 / n) == doctest::Approx(1e-8 / std::sqrt(1e-12)).epsilon(0.03));
  CHECK(std::sqrt(o2 / n) == doctest::Approx(3e-9 / std::sqrt(1e-12)).epsilon(0.03));
}

TEST_CASE("stock ngspice -b runs a generated netlist without an error") {
  auto net = testing::small_network(2);
  circuit::NetlistOptions opt;
  opt.spring_target = Eigen::VectorXd::Random(6);
  opt.mismatch_seed = 1;
  opt.model_name = "testing::small_network(2) (tests/helpers.hpp, bilinear rank 3), x_t random";
  const auto path = write_temp("eqsim_generated.cir", circuit::write_netlist(circuit::build_circuit(net, dm65(), opt)));
  const auto log = path + ".log";
  const int rc = std::system(("ngspice -b " + path + " > " + log + " 2>&1").c_str());  // plain batch mode, as a user runs it
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string out = ss.str();
  CHECK(rc == 0);
  CHECK(out.find("rror") == std::string::npos);
  CHECK(out.find("Circuit: * eqsim netlist") != std::string::npos);
  CHECK(out.find("vdd#branch") != std::string::npos);  // the .print request ran the transient
}

namespace {

// The mismatched circuit of a small dense network and its circuit-equivalent model.
// The dense test network: 6-7-5, Xavier gain 1, biases across [0.3, -0.2].
model::Network dense_network() {
  model::Network net(testing::small_spec(false));
  net.init_xavier(1.0, 21);
  for (int m = 0; m < net.module_count(); ++m) net.params()[m] = Eigen::VectorXd::LinSpaced(net.size(m), 0.3, -0.2);
  return net;
}

struct MismatchedCase {
  model::Network net;
  circuit::DeviceModel dm;
  circuit::NetlistOptions opt;
  circuit::DeviceFactors factors;
  circuit::Circuit c;
  model::Clamp clamp;

  // level: the bias-table column (networks with tables).
  MismatchedCase(double sigma, double nudge_g, model::Network n = dense_network(), int level = -1)
      : net(std::move(n)), dm(circuit::with_relative_mismatch(dm65(), sigma)) {
    opt.spring_target = Eigen::VectorXd::LinSpaced(6, -0.9, 0.8);
    opt.condition_level = level;
    if (level >= 0) clamp.levels = {level};
    opt.mismatch_seed = 7;
    opt.nudge_g = nudge_g;
    opt.nudge_target = Eigen::VectorXd::LinSpaced(6, 0.7, -0.6);
    auto nl = circuit::netlist_network(net, dm, opt);
    c = std::move(nl.circuit);
    factors = circuit::draw_factors(net, dm, *opt.mismatch_seed);  // the chip model's draws, from the seed alone
    clamp.spring_target = opt.spring_target;
    clamp.spring_g = net.spec().spring_lambda * net.spec().leak;
    clamp.nudge_g = nudge_g;
    clamp.nudge_target = opt.nudge_target;
  }

  Eigen::VectorXd stacked(const model::State& s) const {
    Eigen::VectorXd u(0);
    for (const auto& m : s.u) {
      u.conservativeResize(u.size() + m.rows());
      u.tail(m.rows()) = m.col(0);
    }
    return u;
  }

  // Block relaxation of dense networks, else Euler steps of 0.05 tau (block sweeps through
  // the projection nodes converge too slowly at sigma 10 %; 0.1 tau is unstable for the
  // visible nodes on a spring of 15 with a small capacitor).
  model::RelaxOptions converging() const {
    for (const auto& cp : net.spec().couplings)
      if (cp.p == cp.q || cp.kind == model::CouplingKind::bilinear) return {model::RelaxMethod::euler, 400000, 0.05, 1e-14};
    return {model::RelaxMethod::block, 5000, 0.1, 1e-13};
  }

  Eigen::VectorXd equivalent_equilibrium() const {
    const circuit::EquivalentCircuit eq(net, factors, dm.noise_gamma);
    auto s = model::initial_state(net, opt.spring_target);
    REQUIRE(eq.relax(clamp, s, converging()).converged);
    return stacked(s);
  }

  Eigen::VectorXd ideal_equilibrium() const {
    auto s = model::initial_state(net, opt.spring_target);
    REQUIRE(model::relax(net, clamp, s, converging()).converged);
    return stacked(s);
  }
};

}  // namespace

TEST_CASE("the circuit-equivalent model lands on the mismatched circuit's equilibrium (ode), free and nudged") {
  for (double sigma : {0.01, 0.1})
    for (double nudge_g : {0.0, -0.5}) {
      const MismatchedCase mc(sigma, nudge_g);
      INFO("dense, sigma " << sigma << ", nudge " << nudge_g);
      const auto ode = backend::ode::OdeBackend().relax(mc.c, tight());
      REQUIRE_MESSAGE(ode.status == backend::Status::settled, ode.message);
      const Eigen::VectorXd eq = mc.equivalent_equilibrium(), ideal = mc.ideal_equilibrium();
      const double err = max_unit_error(mc.net, ode, eq, mc.dm.v_unit_V);
      const double shift = (eq - ideal).cwiseAbs().maxCoeff();
      MESSAGE("sigma " << sigma << ", nudge " << nudge_g << ": equivalent vs ode " << err << ", mismatch moves the equilibrium by "
                       << shift << " model units");
      CHECK(err < (sigma < 0.05 ? 1e-6 : 1e-3));  // fourth order in the offsets
      CHECK(shift > 200 * err);                   // the model sees the mismatch, not just the ideal net
    }
}

TEST_CASE("bilinear and intra-module couplings: the chip model lands on the mismatched circuit's equilibrium (ode)") {
  struct Net {
    const char* name;
    model::Network net;
    int level;
  };
  for (const auto& [name, net, level] : {Net{"bilinear 6-7-5 (rank 3)", testing::small_network(8), -1},
                                         Net{"diffusion-like (bilinear, intra x_x and d_d, bias table)",
                                             testing::small_diffusion_network(), 1}})
    for (double sigma : {0.01, 0.1}) {
      const MismatchedCase mc(sigma, -0.5, net, level);
      auto ropt = tight();
      ropt.t_stop_s = 2000 * circuit::tau_s(mc.dm);  // slow coupled modes
      const auto ode = backend::ode::OdeBackend().relax(mc.c, ropt);
      REQUIRE_MESSAGE(ode.status == backend::Status::settled, ode.message);
      const Eigen::VectorXd eq = mc.equivalent_equilibrium(), ideal = mc.ideal_equilibrium();
      const double err = max_unit_error(mc.net, ode, eq, mc.dm.v_unit_V);
      const double shift = (eq - ideal).cwiseAbs().maxCoeff();
      MESSAGE(std::string(name) << ", sigma " << sigma << ", nudge -0.5: equivalent vs ode " << err << ", mismatch moves the equilibrium by "
                   << shift << " model units");
      CHECK(err < (sigma < 0.05 ? 1e-6 : 1e-3));
      CHECK(shift > 200 * err);
    }
}

TEST_CASE("the circuit-equivalent model settles like the ode circuit and predicts its thermal noise") {
  const MismatchedCase mc(0.1, 0.0);
  const circuit::EquivalentCircuit eq(mc.net, mc.factors, mc.dm.noise_gamma);
  const double tol_units = 1e-4;
  auto ropt = tight();
  ropt.settle_tol_V = tol_units * mc.dm.v_unit_V;
  const auto ode = backend::ode::OdeBackend().relax(mc.c, ropt);
  REQUIRE(ode.status == backend::Status::settled);
  const double model_tau = eq.settle_time_tau(mc.clamp, model::initial_state(mc.net, mc.opt.spring_target), tol_units, 0.01, 1000)(0);
  const double ode_tau = ode.settle_time_s / circuit::tau_s(mc.dm);
  MESSAGE("settling to 1e-4 model units: equivalent " << model_tau << " tau, ode " << ode_tau << " tau");
  CHECK(model_tau == doctest::Approx(ode_tau).epsilon(0.05));

}

namespace {

// The relaxed state of the chip model under mc's clamp (one column).
model::State relaxed_state(const MismatchedCase& mc, const circuit::EquivalentCircuit& eq) {
  auto s = model::initial_state(mc.net, mc.opt.spring_target);
  REQUIRE(eq.relax(mc.clamp, s, mc.converging()).converged);
  return s;
}

// Mean and standard error (over `blocks` consecutive blocks) of the covariance of
// columns i and j of a trajectory.
std::pair<double, double> block_covariance(const Eigen::MatrixXd& x, Eigen::Index i, Eigen::Index j, int blocks) {
  const Eigen::Index n = x.rows() / blocks;
  Eigen::VectorXd c(blocks);
  for (int k = 0; k < blocks; ++k) {
    const Eigen::VectorXd a = x.block(k * n, i, n, 1), b = x.block(k * n, j, n, 1);
    c(k) = ((a.array() - a.mean()) * (b.array() - b.mean())).sum() / double(n - 1);
  }
  const double mean = c.mean();
  return {mean, std::sqrt((c.array() - mean).square().sum() / (blocks - 1) / blocks)};
}

}  // namespace

TEST_CASE("thermal noise: the chip model's Lyapunov covariance is the ode circuit's measured one") {
  for (auto [name, net, level] : {std::tuple{"dense 6-7-5", dense_network(), -1},
                                  std::tuple{"diffusion-like (bilinear, intra, table)", testing::small_diffusion_network(), 1}}) {
  const MismatchedCase mc(0.1, 0.0, net, level);
  const circuit::EquivalentCircuit eq(mc.net, mc.factors, mc.dm.noise_gamma);
  const double T = circuit::model_temperature(mc.dm, 300);
  const Eigen::MatrixXd P = eq.noise_covariance(mc.clamp, relaxed_state(mc, eq), T, 0);
  backend::RelaxOptions nopt;
  nopt.temperature_K = 300;
  nopt.t_stop_s = 4000 * circuit::tau_s(mc.dm);
  nopt.steady_start_s = 100 * circuit::tau_s(mc.dm);
  nopt.max_trajectory_points = 40000;
  const auto noisy = backend::ode::OdeBackend().relax(mc.c, nopt);
  REQUIRE(noisy.status == backend::Status::settled);
  // The ode trajectory of every unit node over the steady part, in model units, in P's order.
  std::map<std::string, Eigen::Index> column;
  for (size_t i = 0; i < noisy.nodes.size(); ++i) column[noisy.nodes[i]] = static_cast<Eigen::Index>(i);
  std::vector<Eigen::Index> cols;
  for (int m = 0; m < mc.net.module_count(); ++m)
    for (int i = 0; i < mc.net.size(m); ++i) cols.push_back(column.at(circuit::unit_node(mc.net, m, i)));
  for (const auto& cp : mc.net.spec().couplings)  // then the projection nodes, as noise_covariance stacks them
    for (const char* prefix : {"pu_", "pv_"})
      for (int k = 0; k < (cp.kind == model::CouplingKind::bilinear ? cp.rank : 0); ++k)
        cols.push_back(column.at(prefix + cp.name + "_" + std::to_string(k)));
  REQUIRE(static_cast<Eigen::Index>(cols.size()) == P.rows());
  Eigen::Index first = 0;
  while (noisy.t_s[first] < nopt.steady_start_s) ++first;
  const Eigen::Index rows = noisy.trajectory_V.rows() - first;
  Eigen::MatrixXd x(rows, cols.size());
  for (size_t k = 0; k < cols.size(); ++k) x.col(k) = noisy.trajectory_V.col(cols[k]).tail(rows) / mc.dm.v_unit_V;
  double worst_ratio = 1, worst_cov = 0, worst_z = 0;
  for (Eigen::Index i = 0; i < P.rows(); ++i)
    for (Eigen::Index j = 0; j <= i; ++j) {
      const auto [c, se] = block_covariance(x, i, j, 20);
      worst_z = std::max(worst_z, std::abs(P(i, j) - c) / se);
      if (i == j) worst_ratio = std::max({worst_ratio, P(i, i) / c, c / P(i, i)});
      else worst_cov = std::max(worst_cov, std::abs(P(i, j) - c) / std::sqrt(P(i, i) * P(j, j)));
    }
  MESSAGE(std::string(name) << ": Lyapunov vs ode (300 K, 3900 tau, " << rows << " points, 20 blocks): worst variance ratio " << worst_ratio
                                               << ", worst covariance error " << worst_cov
                                               << " of sqrt(var_i var_j), worst |difference| / standard error " << worst_z);
  CHECK(worst_ratio < 1.1);  // the ode estimates' own standard error is ~3 %
  CHECK(worst_cov < 0.08);
  CHECK(worst_z < 4.5);      // within the statistical error: the largest |z| of the n(n+1)/2 entries
  }
}

TEST_CASE("thermal noise: the Lyapunov covariance of an RC node is kT/C, and it solves its equation") {
  const MismatchedCase mc(0.05, 0.0);
  model::Network rc = mc.net;  // no couplings: every node is its own RC
  for (int c = 0; c < 2; ++c) rc.params()[rc.w_index(c)].setZero();
  const circuit::EquivalentCircuit eq(rc, mc.factors, 0.0);
  const double T = 1e-3;
  const auto s = [&] {
    auto st = model::initial_state(rc, mc.opt.spring_target);
    eq.relax(mc.clamp, st, {model::RelaxMethod::block, 100, 0.1, 1e-13});
    return st;
  }();
  const Eigen::MatrixXd P = eq.noise_covariance(mc.clamp, s, T, 0);
  Eigen::VectorXd kt_c(18);
  kt_c << mc.factors.modules[0].cap, mc.factors.modules[1].cap, mc.factors.modules[2].cap;
  kt_c = T * kt_c.cwiseInverse();
  CHECK((P.diagonal() - kt_c).cwiseAbs().maxCoeff() < 1e-12 * kt_c.maxCoeff());
  CHECK((P - Eigen::MatrixXd(P.diagonal().asDiagonal())).cwiseAbs().maxCoeff() < 1e-12 * kt_c.maxCoeff());
}

TEST_CASE("thermal noise: the readout's sampler draws the Lyapunov covariance, in a new process and carried on") {
  const MismatchedCase mc(0.1, 0.0);
  const double T = 1e-3;
  const model::State s = relaxed_state(mc, circuit::EquivalentCircuit(mc.net, mc.factors, mc.dm.noise_gamma));
  const Eigen::MatrixXd P = circuit::EquivalentCircuit(mc.net, mc.factors, mc.dm.noise_gamma).noise_covariance(mc.clamp, s, T, 0);
  const Eigen::Index B = 20000;
  model::State batch = s;
  for (auto* v : {&batch.u, &batch.a})
    for (auto& m : *v) m = m.col(0).replicate(1, B).eval();
  const model::Clamp clamp = learn::free_clamp(mc.net, mc.opt.spring_target.replicate(1, B));
  // Relaxed already: one sweep moves nothing, then the reading (deviations from the batch mean).
  auto read = [&](const circuit::EquivalentCircuit& eq, unsigned long long seed) {
    model::State r = batch;
    eq.relax(clamp, r, {model::RelaxMethod::block, 1, 0.1, 0, T, seed});
    Eigen::MatrixXd x(18, B);
    x << r.u[0], r.u[1], r.u[2];
    return Eigen::MatrixXd(x.colwise() - x.rowwise().mean());
  };
  // Largest |correlation| of a node's readings in two sets.
  auto lag_correlation = [](const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
    return ((a.array() * b.array()).rowwise().sum() / (a.rowwise().norm().array() * b.rowwise().norm().array())).abs().maxCoeff();
  };
  // Measured (worst variance ratio, worst covariance error; new process / carried on):
  // step 0.1 tau 1.016 / 1.022, 0.020 / 0.017 (the sampling floor); 0.5 tau (the
  // default) 1.076 / 1.088, 0.085 / 0.068. Successive readings 2 tau apart correlate up to 0.61.
  for (const auto& [step, ratio_limit, cov_limit] : {std::tuple{0.1, 1.05, 0.05}, std::tuple{0.5, 1.1, 0.1}}) {
    circuit::ChipReadout ro;
    ro.noise_step_tau = step;
    ro.call_interval_tau = 2;  // close enough that a carried process shows in the correlation
    const circuit::EquivalentCircuit eq(mc.net, mc.factors, mc.dm.noise_gamma, ro);
    const Eigen::MatrixXd first = read(eq, 5), carried = read(eq, 5);
    using Labelled = std::pair<std::string, const Eigen::MatrixXd*>;
    for (const auto& [label, d] : {Labelled{"new process", &first}, Labelled{"carried on", &carried}}) {
      const Eigen::MatrixXd C = *d * d->transpose() / double(B - 1);
      double worst_ratio = 1, worst_cov = 0;
      for (Eigen::Index i = 0; i < 18; ++i) {
        worst_ratio = std::max({worst_ratio, C(i, i) / P(i, i), P(i, i) / C(i, i)});
        for (Eigen::Index j = 0; j < i; ++j) worst_cov = std::max(worst_cov, std::abs(C(i, j) - P(i, j)) / std::sqrt(P(i, i) * P(j, j)));
      }
      MESSAGE("step " << step << " tau, " << label << ": sampler vs Lyapunov (" << B << " readings; sampling error ~"
                      << std::sqrt(2.0 / B) << " on a variance): worst variance ratio " << worst_ratio
                      << ", worst covariance error " << worst_cov << " of sqrt(var_i var_j)");
      CHECK(worst_ratio < ratio_limit);
      CHECK(worst_cov < cov_limit);
    }
    // One process: successive calls' readings are call_interval_tau apart and correlated;
    // another object with the same seed repeats the first call, with another seed it is independent.
    const double lag = lag_correlation(first, carried);
    const circuit::EquivalentCircuit same(mc.net, mc.factors, mc.dm.noise_gamma, ro);
    const double other = lag_correlation(first, read(circuit::EquivalentCircuit(mc.net, mc.factors, mc.dm.noise_gamma, ro), 6));
    MESSAGE("step " << step << " tau: largest correlation of a node's successive readings " << lag << " (" << ro.call_interval_tau
                    << " tau apart), of another seed's " << other);
    CHECK(lag > 0.1);
    CHECK(other < 0.05);
    CHECK(read(same, 5) == first);
  }
}

TEST_CASE("chip readout: the mean of `repeats` noisy readings has 1/repeats of the variance; the ADC rounds to its LSB") {
  const MismatchedCase mc(0.05, 0.0);
  const Eigen::Index B = 4000;
  const Eigen::MatrixXd x_t = mc.opt.spring_target.replicate(1, B);
  const model::Clamp clamp = learn::free_clamp(mc.net, x_t);
  const double T = 1e-3;  // model units
  auto readings = [&](int repeats, int adc_bits) {
    circuit::ChipReadout r{repeats, adc_bits, 2.0};
    r.repeat_interval_tau = 30;  // independent readings (10 tau, the default: up to 1.11x)
    const circuit::EquivalentCircuit eq(mc.net, mc.factors, mc.dm.noise_gamma, r);
    auto s = model::initial_state(mc.net, x_t);
    eq.relax(clamp, s, {model::RelaxMethod::block, 400, 0.1, 0, T, 99});
    return s;
  };
  const auto one = readings(1, 0);
  for (int repeats : {4, 16}) {
    const auto avg = readings(repeats, 0);
    for (int m : {0, 1}) {
      auto var = [](const Eigen::MatrixXd& u) {
        const Eigen::VectorXd mean = u.rowwise().mean();
        return Eigen::VectorXd((u.colwise() - mean).array().square().rowwise().sum() / double(u.cols() - 1));
      };
      const Eigen::VectorXd ratio = var(avg.u[m]).cwiseQuotient(var(one.u[m])) * repeats;
      MESSAGE("module " << m << ", " << repeats << " repeats: variance x repeats / single-reading variance in ["
                        << ratio.minCoeff() << ", " << ratio.maxCoeff() << "]");
      CHECK(ratio.minCoeff() > 0.9);
      CHECK(ratio.maxCoeff() < 1.1);
    }
  }
  const auto q = readings(1, 6);  // LSB 4/63 model units
  const double lsb = 4.0 / 63;
  for (int m : {0, 1, 2}) {
    const Eigen::ArrayXXd codes = (q.u[m].array() + 2.0) / lsb;
    CHECK((codes - codes.round()).abs().maxCoeff() < 1e-9);
  }
}

namespace {

// A dense 6-7-5 network's free state with activations drawn in [-1, 1] (batch B).
model::State random_free_state(const model::Network& net, int B, unsigned long long seed) {
  std::srand(static_cast<unsigned>(seed));
  model::State s;
  for (int m = 0; m < net.module_count(); ++m) {
    s.a.push_back(Eigen::MatrixXd::Random(net.size(m), B));
    s.u.push_back(s.a.back());
  }
  return s;
}

model::ParamList zeros_like(const model::ParamList& ps) {
  model::ParamList z = ps;
  for (auto& p : z) p.setZero();
  return z;
}

}  // namespace

TEST_CASE("analog products readout: its noise has the closed-form variance and falls as 1/repeats") {
  const model::Network net = testing::small_network(3, false);
  const int B = 16;
  const model::State free = random_free_state(net, B, 5);
  const double T = 1e-3, beta = 0.01;
  const double s2 = dm65().noise_gamma * T;
  for (int repeats : {1, 4}) {
    circuit::ProductReadoutOptions o;
    o.temperature = T, o.beta = beta, o.repeats = repeats, o.noise_seed = 9;
    circuit::AnalogProducts products(net, circuit::with_relative_mismatch(dm65(), 0), 1001, o);
    // z^2 of every coupling product against its closed form, 2B s^2 (<X^2> + <Y^2> + s^2) / repeats
    // (accumulator units), over 2 beta B into gradient units.
    double z2 = 0;
    long n = 0;
    for (int k = 0; k < 400; ++k) {
      model::ParamList g = zeros_like(net.params());
      products.read(g, free);
      for (int c = 0; c < 2; ++c) {
        const auto& cp = net.spec().couplings[c];
        const Eigen::VectorXd x2 = free.a[cp.p].rowwise().squaredNorm() / B, y2 = free.a[cp.q].rowwise().squaredNorm() / B;
        const Eigen::MatrixXd& G = g[net.w_index(c)];
        for (Eigen::Index j = 0; j < G.cols(); ++j)
          for (Eigen::Index i = 0; i < G.rows(); ++i) {
            const double var = 2 * B * s2 * (x2(i) + y2(j) + s2) / repeats / std::pow(2 * beta * B, 2);
            z2 += G(i, j) * G(i, j) / var, ++n;
          }
      }
    }
    CAPTURE(repeats);
    CHECK(n == 400 * (6 * 7 + 7 * 5));
    CHECK(z2 / n == doctest::Approx(1).epsilon(0.03));  // sd of the mean of 30800 chi^2_1 / 1: 0.008
  }
}

TEST_CASE("analog products readout: gain and offsets act on the products as the explicit multiplications do") {
  // One dense 6-7 coupling; phases X+-, Y+- drawn at random; the digital gradient of W and
  // the biases formed from them (+1/(2 beta B) sum_b of the phase difference, the sign EP's
  // estimator uses for both), then read through mismatched multipliers without noise. Each
  // output must be g/(2 beta B) sum_b [(X+ + ox)(Y+ + oy) - (X- + ox)(Y- + oy)].
  model::NetworkSpec spec;
  spec.modules = {{"x", 6, model::Activation::identity}, {"h", 7, model::Activation::tanh}};
  spec.couplings = {{"x_h", 0, 1, model::CouplingKind::dense, 0}};
  model::Network net(spec);
  const int B = 5;
  const double beta = 0.02, k = 1 / (2 * beta * B);
  std::srand(11);
  const Eigen::MatrixXd xp = Eigen::MatrixXd::Random(6, B), xm = Eigen::MatrixXd::Random(6, B);
  const Eigen::MatrixXd yp = Eigen::MatrixXd::Random(7, B), ym = Eigen::MatrixXd::Random(7, B);
  model::ParamList g = zeros_like(net.params());
  g[net.bias_index(0)] = k * (xp - xm).rowwise().sum();
  g[net.bias_index(1)] = k * (yp - ym).rowwise().sum();
  g[net.w_index(0)] = k * (xp * yp.transpose() - xm * ym.transpose());
  model::State free;
  free.a = {xp, yp}, free.u = free.a;
  circuit::ProductReadoutOptions o;
  o.beta = beta;
  circuit::AnalogProducts products(net, circuit::with_relative_mismatch(dm65(), 0.05), 1003, o);
  const model::ParamList digital = g;
  products.read(g, free);
  const Eigen::MatrixXd& gain = products.gain()[net.w_index(0)];
  const Eigen::MatrixXd& ox = products.offset_x()[net.w_index(0)];
  const Eigen::MatrixXd& oy = products.offset_y()[net.w_index(0)];
  double worst = 0;
  for (int j = 0; j < 7; ++j)
    for (int i = 0; i < 6; ++i) {
      double d = 0;
      for (int b = 0; b < B; ++b) d += (xp(i, b) + ox(i, j)) * (yp(j, b) + oy(i, j)) - (xm(i, b) + ox(i, j)) * (ym(j, b) + oy(i, j));
      worst = std::max(worst, std::abs(g[net.w_index(0)](i, j) - gain(i, j) * k * d));
    }
  CHECK(worst < 1e-12);
  // The biases: the gain alone.
  CHECK((g[net.bias_index(1)] - products.gain()[net.bias_index(1)].cwiseProduct(digital[net.bias_index(1)])).cwiseAbs().maxCoeff() < 1e-15);
  // The draws: gain 1 + N(0, 0.05), offsets N(0, 0.05) (model units), 42 multipliers.
  const double sd_g = std::sqrt((gain.array() - 1).square().mean()), sd_o = std::sqrt(ox.array().square().mean());
  CHECK(sd_g > 0.03);
  CHECK(sd_g < 0.07);
  CHECK(sd_o > 0.03);
  CHECK(sd_o < 0.07);
}

TEST_CASE("analog products readout: the accumulators' ADC codes sit on their grid, calibrated at the first reading") {
  const model::Network net = testing::small_network(4, false);
  const model::State free = random_free_state(net, 8, 6);
  circuit::ProductReadoutOptions o;
  o.beta = 0.01, o.adc_bits = 4, o.headroom = 2;
  circuit::AnalogProducts products(net, circuit::with_relative_mismatch(dm65(), 0), 1001, o);
  model::ParamList g = net.params();  // any values: the readout quantises what it is given
  const double lsb = 2 * g[net.w_index(0)].cwiseAbs().maxCoeff() / 7;
  products.read(g, free);
  const Eigen::ArrayXXd codes = g[net.w_index(0)].array() / lsb;
  CHECK((codes - codes.round()).abs().maxCoeff() < 1e-9);
  CHECK(codes.abs().maxCoeff() <= 7);
  CHECK_THROWS_AS(circuit::AnalogProducts(net, dm65(), 1, circuit::ProductReadoutOptions{}), InputError);
}
