#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>

#include "backend/analysis.hpp"
#include "backend/ode/euler_maruyama.hpp"
#include "backend/ode/ode_backend.hpp"
#include "circuit/netlist.hpp"
#include "data/error.hpp"

using namespace eqsim;

namespace {

std::string netlist_path(const std::string& name) { return std::string(EQSIM_SOURCE_DIR) + "/netlists/" + name; }

double node_value(const backend::RelaxSummary& s, const std::string& node) {
  for (size_t i = 0; i < s.nodes.size(); ++i)
    if (s.nodes[i] == node) return s.final_V(static_cast<Eigen::Index>(i));
  FAIL("no node " << node);
  return 0;
}

// n independent RC nodes (R, C) starting at 0 V.
circuit::Circuit rc_bank(int n, double r_ohm, double c_F) {
  std::string text = "* bank of independent RC nodes\n";
  for (int i = 0; i < n; ++i) {
    const std::string k = std::to_string(i);
    text += "R" + k + " n" + k + " 0 " + circuit::format_number(r_ohm) + "\n";
    text += "C" + k + " n" + k + " 0 " + circuit::format_number(c_F) + "\n";
  }
  return circuit::parse_netlist(text, "rc_bank");
}

}  // namespace

TEST_CASE("ode: a lone RC node settles within tol after RC ln(V0/tol)") {
  const auto c = circuit::read_netlist(netlist_path("rc_lone.cir"));
  backend::RelaxOptions opt;
  opt.settle_tol_V = 1e-4;
  const auto s = backend::ode::OdeBackend().relax(c, opt);
  REQUIRE(s.status == backend::Status::settled);
  const double expected_s = 1e-9 * std::log(1.0 / 1e-4);
  MESSAGE("settle time " << s.settle_time_s << " s, expected " << expected_s << " s");
  CHECK(std::abs(s.settle_time_s - expected_s) < 0.01 * expected_s);
  CHECK(std::abs(node_value(s, "n1")) < 1e-6);
}

TEST_CASE("ode: hand-written reference netlists reach their known answers") {
  backend::RelaxOptions opt;
  opt.settle_tol_V = 1e-7;
  const auto div = backend::ode::OdeBackend().relax(circuit::read_netlist(netlist_path("divider.cir")), opt);
  CHECK(div.status == backend::Status::settled);
  CHECK(std::abs(node_value(div, "mid") - 0.75) < 1e-6);
  const auto pair = backend::ode::OdeBackend().relax(circuit::read_netlist(netlist_path("tanh_pair.cir")), opt);
  CHECK(pair.status == backend::Status::settled);
  CHECK(std::abs(node_value(pair, "a") - 0.063810005) < 1e-7);
  CHECK(std::abs(node_value(pair, "b") - 0.045088361) < 1e-7);
  const auto offsets = backend::ode::OdeBackend().relax(circuit::read_netlist(netlist_path("tanh_offsets.cir")), opt);
  CHECK(offsets.status == backend::Status::settled);
  CHECK(std::abs(node_value(offsets, "a") - -0.012375178) < 1e-7);
  CHECK(std::abs(node_value(offsets, "b") - -0.005608684) < 1e-7);
  CHECK(std::abs(node_value(offsets, "c") - 0.025908159) < 1e-7);
}

TEST_CASE("ode: thermal noise on an RC node has variance kT/C") {
  const double C = 1e-15, R = 1e6, T = 300;  // tau = 1 ns
  const auto c = rc_bank(200, R, C);
  backend::RelaxOptions opt;
  opt.temperature_K = T;
  opt.t_stop_s = 400e-9;
  opt.steady_start_s = 20e-9;
  opt.noise_dt_s = 1e-11;
  opt.seed = 7;
  const auto s = backend::ode::OdeBackend().relax(c, opt);
  const double kT_C = backend::boltzmann_J_per_K * T / C;
  const double var = s.var_V2.mean();
  MESSAGE("mean variance " << var << " V^2, kT/C " << kT_C << " V^2 (" << std::sqrt(kT_C) * 1e3 << " mV rms)");
  CHECK(std::abs(var / kT_C - 1) < 0.05);
  CHECK(std::abs(s.mean_V.mean()) < 0.05 * std::sqrt(kT_C));
}

TEST_CASE("ode: Euler-Maruyama matches the exact Ornstein-Uhlenbeck mean and variance") {
  const double theta = 2, mu = 0.5, sigma = 0.8, x0 = 1.5, t = 1.0, dt = 1e-3;
  const int B = 40000;
  backend::ode::EulerMaruyama em(dt, 11);
  Eigen::MatrixXd x = Eigen::MatrixXd::Constant(1, B, x0);
  auto drift = [&](const Eigen::MatrixXd& v, Eigen::MatrixXd& f) { f = (-theta * (v.array() - mu)).matrix(); };
  auto diffusion = [&](const Eigen::MatrixXd& xi) { return Eigen::MatrixXd(sigma * xi); };
  for (int k = 0; k < static_cast<int>(std::lround(t / dt)); ++k) em.step(x, drift, diffusion, 1);
  const double mean_exact = mu + (x0 - mu) * std::exp(-theta * t);
  const double var_exact = sigma * sigma / (2 * theta) * (1 - std::exp(-2 * theta * t));
  const double mean = x.mean(), var = (x.array() - mean).square().sum() / (B - 1);
  MESSAGE("mean " << mean << " (exact " << mean_exact << "), var " << var << " (exact " << var_exact << ")");
  CHECK(std::abs(mean - mean_exact) < 4 * std::sqrt(var_exact / B) + 2e-3);
  CHECK(std::abs(var / var_exact - 1) < 4 * std::sqrt(2.0 / B) + 2e-3);
}

TEST_CASE("ode: bad netlists are rejected with their line number") {
  auto rejects = [](const std::string& text, const std::string& needle) {
    try {
      const auto c = circuit::parse_netlist(text, "bad.cir");
      backend::ode::OdeBackend().relax(c, {});
      FAIL("accepted: " << text);
    } catch (const InputError& e) {
      MESSAGE(std::string(e.what()));
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  rejects("* t\nR1 a 0 1k\nL1 a 0 1u\nC1 a 0 1p\n.end\n", "bad.cir: line 3: unsupported element 'L1'");
  rejects("* t\nR1 a 0 1k\nC1 a 0 1p\nR2 a b 1k\n.end\n", "line 4: dangling node b");
  rejects("* t\nR1 a 0 1k\nC1 a 0 -1p\n.end\n", "line 3: negative capacitance");
  rejects("* t\nR1 a 0 1k\nR2 a 0 1k\n.tran 1n 1u\n.end\n", "line 2: node a has no capacitor");
  rejects("* t\nR1 a 0 1k\nC1 a 0 1p\nB1 0 a I=exp(V(a))\n.end\n", "line 4");
}

TEST_CASE("ode: a circuit that never settles reports not_settled, not a crash") {
  // 1 nA into 1 pF with a 1 GOhm leak: tau = 1 ms, far beyond the 1 us run.
  const auto c = circuit::parse_netlist("* ramp\nI1 0 a DC 1n\nR1 a 0 1g\nC1 a 0 1p\n.tran 1n 1u\n.end\n", "ramp.cir");
  const auto s = backend::ode::OdeBackend().relax(c, {});
  CHECK(s.status == backend::Status::not_settled);
  MESSAGE(s.message);
}

TEST_CASE("ode: batched relaxation gives each column its own answer") {
  const auto c = circuit::read_netlist(netlist_path("divider.cir"));
  const backend::ode::OdeSystem sys(c);
  Eigen::MatrixXd x0 = Eigen::MatrixXd::Zero(sys.state_count(), 3);
  Eigen::MatrixXd vf(1, 3);
  vf << 1, 2, -4;
  backend::RelaxOptions opt;
  opt.settle_tol_V = 1e-7;
  const auto out = backend::ode::relax_batch(sys, c, x0, vf, opt);
  REQUIRE(out.size() == 3);
  for (int j = 0; j < 3; ++j) CHECK(std::abs(node_value(out[j], "mid") - 0.75 * vf(0, j)) < 1e-6);
}

TEST_CASE("ode: supply current and energy come from the named supply") {
  const auto c = circuit::parse_netlist(
      "* supply\n* eqsim: supply=vdd\nVDD vdd 0 DC 1.2\nIB1 vdd 0 DC 1u\nIB2 vdd 0 DC 2u\nR1 a 0 1meg\nC1 a 0 1f\n"
      "Ia 0 a DC 1n\n.tran 1p 10n\n.end\n",
      "supply.cir");
  backend::RelaxOptions opt;
  opt.stop_when_settled = false;
  const auto s = backend::ode::OdeBackend().relax(c, opt);
  CHECK(s.supply_current_final_A == doctest::Approx(3e-6));
  CHECK(s.supply_energy_J == doctest::Approx(1.2 * 3e-6 * 10e-9));
}

TEST_CASE("ode: offset transconductors equal the direct tanh to rounding, in every column") {
  // 40 nodes, each driven by 6 devices from other nodes, offsets over the fast range (|offset| <= 0.5
  // scale) and a few beyond it, floating and grounded; the same circuit with every device written
  // `expr+0` (not the canonical form) goes through the expression tree: libm tanh per device.
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> unit(-1, 1);
  const int n = 40;
  std::string passive, fast, direct;
  for (int i = 0; i < n; ++i) {
    const std::string node = "n" + std::to_string(i);
    passive += "R" + node + " " + node + " 0 1meg\nC" + node + " " + node + " 0 10f\n";
    for (int d = 0; d < 6; ++d) {
      const double offset_V = (d == 5 ? 0.2 : 0.05) * unit(rng), gain_A = 1e-7 * unit(rng);
      const std::string terminals = d % 2 ? node + " 0" : d == 2 ? node + " n" + std::to_string((i + 7) % n) : "0 " + node;
      const std::string line = "B" + node + "_" + std::to_string(d) + " " + terminals + " I=" + circuit::format_number(gain_A) +
                               "*tanh((V(n" + std::to_string((i + 1 + 3 * d) % n) + ")-" + circuit::format_number(offset_V) + ")/0.1)";
      fast += line + "\n";
      direct += line + "+0\n";
    }
  }
  const backend::ode::OdeSystem sys_fast(circuit::parse_netlist("* fast\n" + passive + fast + ".end\n", "fast.cir"));
  const backend::ode::OdeSystem sys_direct(circuit::parse_netlist("* direct\n" + passive + direct + ".end\n", "direct.cir"));
  REQUIRE(sys_fast.node_names() == sys_direct.node_names());
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(n, 5), vf(0, 5);  // up to 10 input scales: saturated devices too
  Eigen::MatrixXd d_fast(n, 5), d_direct(n, 5);
  sys_fast.derivative(x, vf, d_fast);
  sys_direct.derivative(x, vf, d_direct);
  const double err = (d_fast - d_direct).cwiseAbs().maxCoeff(), scale = d_direct.cwiseAbs().maxCoeff();
  MESSAGE("max |dV/dt fast - direct| = " << err << " V/s of " << scale);
  CHECK(scale > 1e6);
  CHECK(err < 1e-14 * scale);
}
