#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "backend/analysis.hpp"
#include "backend/ode/ode_backend.hpp"
#include "backend/spice/spice_backend.hpp"
#include "circuit/netlist.hpp"

using namespace eqsim;

namespace {

std::string netlist_dir() { return std::string(EQSIM_SOURCE_DIR) + "/netlists"; }

double node_value(const backend::RelaxSummary& s, const std::string& node) {
  for (size_t i = 0; i < s.nodes.size(); ++i)
    if (s.nodes[i] == node) return s.final_V(static_cast<Eigen::Index>(i));
  FAIL("no node " << node);
  return 0;
}

// Largest |V_ode - V_spice| over the nodes both report.
double max_difference(const backend::RelaxSummary& a, const backend::RelaxSummary& b) {
  double d = 0;
  for (const auto& n : a.nodes) d = std::max(d, std::abs(node_value(a, n) - node_value(b, n)));
  return d;
}

}  // namespace

TEST_CASE("spice: a lone RC node settles within tol after RC ln(V0/tol)") {
  const auto c = circuit::read_netlist(netlist_dir() + "/rc_lone.cir");
  backend::RelaxOptions opt;
  opt.settle_tol_V = 1e-4;
  const auto s = backend::spice::SpiceBackend().relax(c, opt);
  REQUIRE_MESSAGE(s.status == backend::Status::settled, s.message);
  const double expected_s = 1e-9 * std::log(1.0 / 1e-4);
  MESSAGE("settle time " << s.settle_time_s << " s, expected " << expected_s << " s (" << s.backend << ")");
  CHECK(std::abs(s.settle_time_s - expected_s) < 0.01 * expected_s);
}

TEST_CASE("spice and ode agree within 1e-3 v_unit on every netlist in netlists/") {
  backend::RelaxOptions opt;
  opt.settle_tol_V = 1e-6;
  opt.stop_when_settled = false;
  int checked = 0;
  for (const auto& f : std::filesystem::directory_iterator(netlist_dir())) {
    if (f.path().extension() != ".cir") continue;
    const auto c = circuit::read_netlist(f.path().string());
    const auto ode = backend::ode::OdeBackend().relax(c, opt);
    const auto spice = backend::spice::SpiceBackend().relax(c, opt);
    REQUIRE_MESSAGE(spice.status == backend::Status::settled, f.path().string() << ": " << spice.message);
    const double d = max_difference(ode, spice);
    MESSAGE(f.path().filename().string() << ": max |V_ode - V_spice| = " << d << " V");
    CHECK(d < 1e-3 * 0.1);  // v_unit_V = 0.1 in every reference netlist
    ++checked;
  }
  CHECK(checked >= 3);
}

TEST_CASE("spice: trnoise sources give an RC node the variance kT/C") {
  const double C = 1e-15, R = 1e6, T = 300;  // tau = 1 ns
  std::string text = "* bank of independent RC nodes\n";
  for (int i = 0; i < 40; ++i) {
    const std::string k = std::to_string(i);
    text += "R" + k + " n" + k + " 0 1meg\nC" + k + " n" + k + " 0 1f\n";
  }
  const auto c = circuit::parse_netlist(text, "rc_bank");
  backend::RelaxOptions opt;
  opt.temperature_K = T;
  opt.t_stop_s = 400e-9;
  opt.steady_start_s = 20e-9;
  opt.noise_dt_s = 2e-11;
  opt.seed = 5;
  const auto s = backend::spice::SpiceBackend().relax(c, opt);
  REQUIRE_MESSAGE(s.noisy, s.message);
  const double kT_C = backend::boltzmann_J_per_K * T / C;
  MESSAGE("mean variance " << s.var_V2.mean() << " V^2, kT/C " << kT_C << " V^2");
  CHECK(std::abs(s.var_V2.mean() / kT_C - 1) < 0.05);
}

TEST_CASE("spice: failures are statuses with ngspice's message, and the engine keeps working") {
  // A node with a strong negative conductance runs away: ngspice gives up.
  const auto runaway = circuit::parse_netlist(
      "* runaway\nR1 a 0 1k\nC1 a 0 1p IC=1m\nG1 a 0 a 0 -1\n.tran 1p 100n\n.end\n", "runaway.cir");
  const auto bad = backend::spice::SpiceBackend().relax(runaway, {});
  MESSAGE(backend::to_string(bad.status) << ": " << bad.message);
  CHECK(bad.status != backend::Status::settled);
  // A ramp that never settles within the run.
  const auto ramp = circuit::parse_netlist("* ramp\nI1 0 a DC 1n\nR1 a 0 1g\nC1 a 0 1p\n.tran 1n 1u\n.end\n", "ramp.cir");
  const auto r = backend::spice::SpiceBackend().relax(ramp, {});
  CHECK(r.status == backend::Status::not_settled);
  // The engine still works afterwards.
  const auto ok = backend::spice::SpiceBackend().relax(circuit::read_netlist(netlist_dir() + "/divider.cir"), {});
  CHECK(ok.status == backend::Status::settled);
  CHECK(std::abs(node_value(ok, "mid") - 0.75) < 1e-5);
}

TEST_CASE("spice: the supply current is read from the supply's branch") {
  const auto c = circuit::parse_netlist(
      "* supply\n* eqsim: supply=vdd\nVDD vdd 0 DC 1.2\nIB1 vdd 0 DC 1u\nIB2 vdd 0 DC 2u\nR1 a 0 1meg\nC1 a 0 1f\n"
      "Ia 0 a DC 1n\n.tran 1p 10n\n.end\n",
      "supply.cir");
  const auto s = backend::spice::SpiceBackend().relax(c, {});
  CHECK(s.supply_current_final_A == doctest::Approx(3e-6));
  CHECK(s.supply_energy_J == doctest::Approx(1.2 * 3e-6 * 10e-9).epsilon(1e-3));
}
