#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "backend/analysis.hpp"
#include "backend/ode/ode_backend.hpp"
#include "backend/spice/spice_backend.hpp"
#include "circuit/netlist.hpp"
#include "circuit/netlister.hpp"
#include "config/device_model_yaml.hpp"
#include "helpers.hpp"

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

namespace {

// The element names of a deck (first word of every element line), lower-case.
std::vector<std::string> element_names(const std::vector<std::string>& deck) {
  std::vector<std::string> names;
  for (size_t i = 1; i < deck.size(); ++i)
    if (!deck[i].empty() && deck[i][0] != '.' && deck[i][0] != '*') names.push_back(circuit::lower_case(deck[i].substr(0, deck[i].find(' '))));
  return names;
}

long count_b_sources(const std::vector<std::string>& deck) {
  const auto names = element_names(deck);
  return std::count_if(names.begin(), names.end(), [](const std::string& n) { return n[0] == 'b'; });
}

}  // namespace

TEST_CASE("spice: the compiled deck relaxes to the as-written deck's answer with one B-source per tanh input") {
  const auto dm = config::load_device_model(std::string(EQSIM_SOURCE_DIR) + "/device_models/generic-65nm.yaml");
  struct Case {
    circuit::Circuit c;
    long b_sources = -1;     // expected in the compiled deck (-1: at most as written)
    double sample_dt_s = 0;  // RelaxOptions::sample_dt_s
  };
  std::vector<Case> cases;
  for (const auto& f : std::filesystem::directory_iterator(netlist_dir()))
    if (f.path().extension() == ".cir") cases.push_back({circuit::read_netlist(f.path().string())});
  // Names the compiled deck would like to use are taken: its own must differ from them.
  cases.push_back({circuit::parse_netlist("* taken names\nRa a 0 1meg\nCa a 0 10f\nRb tanh_a 0 1meg\nCb tanh_a 0 10f\n"
                                          "B1 0 tanh_a I=5e-8*tanh(V(a)/0.1)\nG1 tanh_a 0 a 0 1e-7\nI1 0 a DC 3e-8\n"
                                          "Btanh_a 0 a I=-2e-8*(V(tanh_a)-0.01)\nRtanh_a a 0 2meg\n.tran 1n 1u uic\n.end\n",
                                          "taken.cir"),
                   1});
  const auto net = testing::small_network(8);  // bilinear: projection nodes, identity inputs
  circuit::NetlistOptions nopt;
  nopt.spring_target = Eigen::VectorXd::LinSpaced(6, -0.9, 0.8);
  const double coarse_dt_s = circuit::tau_s(dm) / 4;  // output grid of 800 points over the 200 tau
  cases.push_back({circuit::build_circuit(net, dm, nopt), net.size(1) + net.size(2), coarse_dt_s});  // one per h1, h2 unit
  nopt.mismatch_seed = 5;  // offsets on tanh and identity inputs
  cases.push_back({circuit::build_circuit(net, circuit::with_relative_mismatch(dm, 0.05), nopt), -1, coarse_dt_s});
  backend::RelaxOptions opt;
  opt.settle_tol_V = 1e-6;
  opt.stop_when_settled = false;
  backend::spice::SpiceBackend compiled, written({}, backend::spice::DeckForm::as_written);
  for (const auto& [c, b_sources, sample_dt_s] : cases) {
    CAPTURE(c.title);
    opt.sample_dt_s = sample_dt_s;
    const auto deck = backend::spice::spice_deck(c, opt), as_written = backend::spice::spice_deck(c, opt, backend::spice::DeckForm::as_written);
    auto names = element_names(deck);
    std::sort(names.begin(), names.end());
    CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
    CHECK(count_b_sources(deck) <= count_b_sources(as_written));
    if (b_sources >= 0) CHECK(count_b_sources(deck) == b_sources);
    const auto a = compiled.relax(c, opt), b = written.relax(c, opt);
    REQUIRE_MESSAGE(a.status == backend::Status::settled, a.message);
    REQUIRE_MESSAGE(b.status == backend::Status::settled, b.message);
    MESSAGE(c.title << ": " << count_b_sources(deck) << " B-sources (as written " << count_b_sources(as_written)
                    << "), max |V_compiled - V_as_written| = " << max_difference(a, b) << " V");
    CHECK(max_difference(a, b) < 1e-9);
    CHECK(std::abs(a.supply_current_final_A - b.supply_current_final_A) <= 1e-9 * std::abs(b.supply_current_final_A));
  }
}

// A bank of 40 independent RC nodes (1 MOhm, 1 fF: tau = 1 ns) and the options of a noisy run at 300 K.
circuit::Circuit rc_bank() {
  std::string text = "* bank of independent RC nodes\n";
  for (int i = 0; i < 40; ++i) {
    const std::string k = std::to_string(i);
    text += "R" + k + " n" + k + " 0 1meg\nC" + k + " n" + k + " 0 1f\n";
  }
  return circuit::parse_netlist(text, "rc_bank");
}

backend::RelaxOptions noisy_options(unsigned long long seed) {
  backend::RelaxOptions opt;
  opt.temperature_K = 300;
  opt.t_stop_s = 400e-9;
  opt.steady_start_s = 20e-9;
  opt.noise_dt_s = 2e-11;
  opt.seed = seed;
  return opt;
}

// Correlation over every node and trajectory point of the steady parts of two runs.
double correlation(const backend::RelaxSummary& a, const backend::RelaxSummary& b) {
  double ab = 0, aa = 0, bb = 0;
  for (Eigen::Index k = 0; k < a.trajectory_V.rows(); ++k) {
    if (a.t_s[static_cast<size_t>(k)] < 20e-9) continue;
    ab += a.trajectory_V.row(k).dot(b.trajectory_V.row(k));
    aa += a.trajectory_V.row(k).squaredNorm();
    bb += b.trajectory_V.row(k).squaredNorm();
  }
  return ab / std::sqrt(aa * bb);
}

TEST_CASE("spice: noise is seeded: same seed the same run, another seed an independent one, variance kT/C") {
  const auto c = rc_bank();
  backend::spice::SpiceBackend spice;
  const auto first = spice.relax(c, noisy_options(5));
  const auto other = spice.relax(c, noisy_options(6));
  const auto again = spice.relax(c, noisy_options(5));  // after another seed's run in the same engine
  REQUIRE_MESSAGE(first.noisy, first.message);
  REQUIRE(again.trajectory_V.rows() == first.trajectory_V.rows());
  CHECK((again.var_V2 - first.var_V2).cwiseAbs().maxCoeff() == 0);
  CHECK((again.trajectory_V - first.trajectory_V).cwiseAbs().maxCoeff() == 0);
  const double rho = correlation(first, other);
  // About 40 nodes x 190 steady points spaced ~2 tau apart: an independent pair gives |rho| ~ 0.01.
  MESSAGE("seed 5 vs seed 6: correlation " << rho << ", node variance " << first.var_V2.mean() << " vs "
                                           << other.var_V2.mean() << " V^2");
  CHECK(std::abs(rho) < 0.05);
  CHECK((other.var_V2 - first.var_V2).cwiseAbs().maxCoeff() > 0);
  const double kT_C = backend::boltzmann_J_per_K * 300 / 1e-15;
  for (const auto* s : {&first, &other}) {
    MESSAGE("mean variance " << s->var_V2.mean() << " V^2, kT/C " << kT_C << " V^2");
    CHECK(std::abs(s->var_V2.mean() / kT_C - 1) < 0.05);
  }
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

namespace {

// Sets EQSIM_SPICE_WORKER_FAULT (see eqsim-spice-worker) for one scope: fault
// `kind` once, at a worker's `at`-th request.
class InjectedFault {
 public:
  InjectedFault(const std::string& kind, int at)
      : once_(std::filesystem::temp_directory_path() / ("eqsim_fault_" + std::to_string(getpid()) + kind)) {
    std::filesystem::remove(once_);
    setenv("EQSIM_SPICE_WORKER_FAULT", (kind + ":" + std::to_string(at) + ":" + once_).c_str(), 1);
  }
  ~InjectedFault() {
    unsetenv("EQSIM_SPICE_WORKER_FAULT");
    std::filesystem::remove(once_);
  }
  bool happened() const { return std::filesystem::exists(once_); }

 private:
  std::string once_;
};

backend::spice::PoolOptions pool_of(int workers, double deadline_s = 0) {
  backend::spice::PoolOptions po;
  po.workers = workers;
  po.deadline_s = deadline_s;
  return po;
}

// A fault injected at the second relaxation of a one-worker backend: that
// relaxation is a backend_error whose message contains `reason`; the ones before
// and after it settle to the divider's answer.
void check_one_relaxation_lost(const std::string& kind, const std::string& reason) {
  const InjectedFault fault(kind, 2);
  backend::spice::SpiceBackend spice(pool_of(1, 3));
  const auto c = circuit::read_netlist(netlist_dir() + "/divider.cir");
  const auto before = spice.relax(c, {});
  const auto lost = spice.relax(c, {});
  const auto after = spice.relax(c, {});
  INFO(kind << ": " << lost.message);
  CHECK(fault.happened());
  CHECK(before.status == backend::Status::settled);
  CHECK(lost.status == backend::Status::backend_error);
  CHECK(lost.message.find(reason) != std::string::npos);
  REQUIRE(after.status == backend::Status::settled);
  CHECK(std::abs(node_value(after, "mid") - 0.75) < 1e-5);
}

std::vector<circuit::Circuit> dividers(int n) {
  std::vector<circuit::Circuit> cs;
  for (int k = 1; k <= n; ++k)
    cs.push_back(circuit::parse_netlist("* divider\nV1 in 0 DC " + std::to_string(k) +
                                            "\nR1 in mid 1k\nR2 mid 0 3k\nC1 mid 0 1p\n.tran 1p 50n uic\n.end\n",
                                        "divider" + std::to_string(k) + ".cir"));
  return cs;
}

}  // namespace

TEST_CASE("spice workers: a crash, abort, exit, ngspice quit or hang costs one relaxation, then a fresh worker") {
  check_one_relaxation_lost("segv", "died of signal 11");
  check_one_relaxation_lost("abort", "died of signal 6");
  check_one_relaxation_lost("exit", "exited with status 3");
  check_one_relaxation_lost("quit", "ngspice ended its engine");
  check_one_relaxation_lost("hang", "did not answer within the 3 s deadline and was killed");
}

TEST_CASE("spice workers: relax_all on two workers gives relax()'s results in input order, noisy runs included") {
  backend::spice::SpiceBackend spice(pool_of(2));
  CHECK(spice.worker_count() == 2);
  const auto cs = dividers(6);
  long reported = 0;
  const auto all = spice.relax_all(cs, std::vector<backend::RelaxOptions>(cs.size()), [&](long n) { reported += n; });
  CHECK(reported == 6);
  REQUIRE(all.size() == cs.size());
  for (size_t k = 0; k < cs.size(); ++k) {
    CHECK(all[k].status == backend::Status::settled);
    CHECK(all[k].lost_attempt.empty());
    CHECK(std::abs(node_value(all[k], "mid") - 0.75 * static_cast<double>(k + 1)) < 1e-5 * static_cast<double>(k + 1));
    CHECK((all[k].final_V - spice.relax(cs[k], {}).final_V).cwiseAbs().maxCoeff() == 0.0);
  }
  // The same seed gives the same noisy run on whichever worker takes it.
  const auto bank = rc_bank();
  const auto noisy = spice.relax_all({bank, bank, bank, bank}, std::vector<backend::RelaxOptions>(4, noisy_options(5)));
  for (const auto& s : noisy) {
    REQUIRE_MESSAGE(s.noisy, s.message);
    CHECK((s.trajectory_V - noisy[0].trajectory_V).cwiseAbs().maxCoeff() == 0);
  }
}

TEST_CASE("spice workers: relax_all runs a relaxation whose worker crashed once more on a fresh worker") {
  const auto cs = dividers(4);
  std::vector<backend::RelaxSummary> all;
  {
    const InjectedFault fault("segv", 2);
    all = backend::spice::SpiceBackend(pool_of(2)).relax_all(cs, std::vector<backend::RelaxOptions>(cs.size()));
    CHECK(fault.happened());
  }
  int lost = 0;
  for (size_t k = 0; k < cs.size(); ++k) {
    INFO(k << ": " << all[k].lost_attempt);
    CHECK(all[k].status == backend::Status::settled);
    CHECK(std::abs(node_value(all[k], "mid") - 0.75 * static_cast<double>(k + 1)) < 1e-5 * static_cast<double>(k + 1));
    lost += !all[k].lost_attempt.empty();
    if (!all[k].lost_attempt.empty()) CHECK(all[k].lost_attempt.find("died of signal 11") != std::string::npos);
  }
  CHECK(lost == 1);
}

TEST_CASE("spice workers: a missing worker executable is a backend_error naming it") {
  backend::spice::PoolOptions po;
  po.worker_path = "/nonexistent/eqsim-spice-worker";
  const auto s = backend::spice::SpiceBackend(po).relax(circuit::read_netlist(netlist_dir() + "/divider.cir"), {});
  CHECK(s.status == backend::Status::backend_error);
  CHECK(s.message.find("/nonexistent/eqsim-spice-worker") != std::string::npos);
}
