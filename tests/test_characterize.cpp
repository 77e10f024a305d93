// Transistor-level cells (DESIGN.md §13): the shipped cell characterised in the real
// libngspice and checked against weak-inversion physics and Pelgrom's law; subcircuit
// netlists (X, .subckt, .model) through the parser, both backends and the netlister.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "backend/ode/ode_backend.hpp"
#include "backend/spice/spice_backend.hpp"
#include "circuit/netlist.hpp"
#include "circuit/netlister.hpp"
#include "circuit/transistor_level.hpp"
#include "cli_runner.hpp"
#include "config/device_model_yaml.hpp"
#include "data/error.hpp"
#include "study/characterize/characterize.hpp"

using namespace eqsim;

namespace {

std::string src(const std::string& rel) { return std::string(EQSIM_SOURCE_DIR) + "/" + rel; }

std::string fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("eqsim_test_characterize_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

constexpr double kT_over_q_300K = 1.380649e-23 * 300 / 1.602176634e-19;

const study::CharacterizeSummary& shipped_cell() {
  static const auto s = [] {
    study::CharacterizeOptions opt;
    opt.mc_instances = 200;
    return study::characterize(study::read_cell(src("device_models/cells/ota_tanh.cir")),
                               config::load_device_model(src("device_models/generic-65nm.yaml")), opt);
  }();
  return s;
}

}  // namespace

TEST_CASE("the shipped cell behaves as a weak-inversion differential pair") {
  const auto& s = shipped_cell();
  REQUIRE_MESSAGE(s.ok, s.message);
  // v_unit = 2 n U_T with a slope factor n between 1.2 and 1.8.
  CHECK(s.v_unit_V > 2 * 1.2 * kT_over_q_300K);
  CHECK(s.v_unit_V < 2 * 1.8 * kT_over_q_300K);
  CHECK(s.fit_residual_max < 0.03);
  CHECK(s.fit_residual_max_trimmed < s.fit_residual_max);  // most of the residual is the systematic offset
  // The tanh's amplitude is the tail current, which mirrors the bias 1:1.
  CHECK(s.amplitude_A == doctest::Approx(s.tail_A).epsilon(0.03));
  CHECK(s.tail_A == doctest::Approx(s.bias_A).epsilon(0.03));
  // gm/I_D of one pair device = 1/(n U_T) = 2 / v_unit, and the pair's gm = A / v_unit.
  CHECK(s.gm_over_id_per_V == doctest::Approx(2 / s.v_unit_V).epsilon(0.05));
  CHECK(s.gm_S == doctest::Approx(s.amplitude_A / s.v_unit_V).epsilon(0.05));
  CHECK(s.supply_A == doctest::Approx(s.bias_A + s.tail_A).epsilon(1e-6));
  CHECK(s.g_out_S > 0);
  CHECK(s.g_out_S < 0.02 * s.gm_S);
}

TEST_CASE("the cell's white output noise is within a factor 2 of the shot noise of its four signal devices") {
  const auto& s = shipped_cell();
  REQUIRE(s.ok);
  const double shot = 4 * 1.602176634e-19 * s.tail_A;  // 2 q (I_tail / 2) from each of the pair and mirror devices
  CHECK(s.noise_white_A2_per_Hz > 0.5 * shot);
  CHECK(s.noise_white_A2_per_Hz < 2 * shot);
  CHECK(s.noise_gamma == doctest::Approx(s.noise_white_A2_per_Hz / (4 * 1.380649e-23 * 300 * s.gm_S)));
}

TEST_CASE("Monte-Carlo offset sigma follows Pelgrom's law") {
  const auto& s = shipped_cell();
  REQUIRE(s.ok);
  // 200 instances: the sigma estimate itself scatters by 1/sqrt(2 * 200) = 5 %.
  CHECK(s.offset_sigma_pair_only_V == doctest::Approx(s.pelgrom_pair_V).epsilon(0.2));
  CHECK(s.offset_sigma_pair_only_V == doctest::Approx(s.pelgrom_pair_sensitivity_V).epsilon(0.15));
  CHECK(s.offset_sigma_V == doctest::Approx(s.offset_predicted_V).epsilon(0.15));
  CHECK(s.offset_predicted_V > 1.05 * s.pelgrom_pair_sensitivity_V);  // the mirror load adds its own mismatch
  CHECK(s.gain_sigma == doctest::Approx(s.gain_predicted).epsilon(0.2));
}

TEST_CASE("the derived device model says where each derived number comes from and loads like any other") {
  const auto& s = shipped_cell();
  REQUIRE(s.ok);
  const auto cell = study::read_cell(src("device_models/cells/ota_tanh.cir"));
  const auto dm = config::load_device_model(src("device_models/generic-65nm.yaml"));
  const std::string dir = fresh_dir("characterize");
  study::write_characterization(s, cell, dm, dir + "/derived.yaml");
  const auto d = config::load_device_model(dir + "/derived.yaml");
  CHECK(d.v_unit_V == doctest::Approx(s.v_unit_V));
  CHECK(d.noise_gamma == doctest::Approx(s.noise_gamma));
  CHECK(d.pelgrom_offset_V_m == doctest::Approx(s.offset_sigma_V * 1e-6));
  CHECK(d.g_unit_siemens == dm.g_unit_siemens);
  std::ifstream in(dir + "/derived.yaml");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text.find("v_unit_V: {value: " ) != std::string::npos);
  CHECK(text.find("derived by eqsim characterize from cell") != std::string::npos);
  CHECK(text.find("copied from") != std::string::npos);
  CHECK(std::filesystem::exists(dir + "/derived.txt"));
  CHECK(std::filesystem::file_size(dir + "/derived.png") > 1000);
}

TEST_CASE("a cell file with other pins is refused naming the file") {
  const std::string dir = fresh_dir("badcell");
  std::ofstream(dir + "/bad.cir") << "* bad cell\n.subckt bad out in vdd vss bias\nM1 out in vss vss nch w=1u l=1u\n.ends\n";
  CHECK_THROWS_WITH_AS(study::read_cell(dir + "/bad.cir"), doctest::Contains("pins must be"), InputError);
}

TEST_CASE("subcircuit netlists: parsed, written back, refused by the ode backend, relaxed by ngspice") {
  const std::string text =
      "* divider in a subcircuit\n.subckt half a b\nR1 a m 1k\nR2 m b 1k\n.ends half\nV1 in 0 DC 1\nX1 in out half\n"
      "R3 out 0 2k\nC1 out 0 1p\n.tran 1n 100n\n.end\n";
  const auto c = circuit::parse_netlist(text, "x.cir");
  REQUIRE(c.library.size() == 4);
  const auto again = circuit::parse_netlist(circuit::write_netlist(c), "again.cir");
  CHECK(again.library == c.library);
  CHECK(circuit::node_names(c) == std::vector<std::string>{"in", "out"});
  CHECK_THROWS_WITH_AS(backend::ode::OdeBackend().relax(c, {}), doctest::Contains("need a SPICE engine"), InputError);
  backend::RelaxOptions opt;
  opt.t_stop_s = 100e-9;
  const auto s = backend::spice::SpiceBackend().relax(c, opt);
  REQUIRE_MESSAGE(s.status == backend::Status::settled, s.message);
  for (size_t i = 0; i < s.nodes.size(); ++i)
    if (s.nodes[i] == "out") CHECK(s.final_V(static_cast<Eigen::Index>(i)) == doctest::Approx(0.5).epsilon(1e-4));
}

TEST_CASE("a transistor-level netlist of a small network lands near the behavioural equilibrium at small signals") {
  model::NetworkSpec spec;
  spec.modules = {{"x", 4, model::Activation::identity}, {"h", 3, model::Activation::tanh}};
  spec.couplings = {{"x_h", 0, 1}};
  model::Network net(spec);
  net.init_xavier(0.5, 5);
  auto dm = config::load_device_model(src("device_models/generic-65nm.yaml"));
  const auto& s = shipped_cell();
  REQUIRE(s.ok);
  dm.v_unit_V = s.v_unit_V;  // the cell's tanh scale
  circuit::NetlistOptions opt;
  opt.spring_target = Eigen::VectorXd::LinSpaced(4, -0.2, 0.2);
  const auto behavioural = circuit::build_circuit(net, dm, opt);
  auto cell = study::transistor_cell(study::read_cell(src("device_models/cells/ota_tanh.cir")));
  cell.offset_trim_V = s.systematic_offset_V;
  const auto tl = circuit::parse_netlist(circuit::write_netlist(circuit::with_transistor_cells(behavioural, cell, dm)), "tl.cir");
  int cells = 0;
  for (const auto& e : tl.elements) cells += e.kind == circuit::ElementKind::subckt;
  CHECK(cells == 2 * 4 * 3);
  backend::RelaxOptions ro;
  ro.t_stop_s = 20e-6;
  ro.sample_dt_s = 50e-9;
  ro.settle_tol_V = 1e-5;
  const auto b = backend::ode::OdeBackend().relax(behavioural, ro);
  const auto t = backend::spice::SpiceBackend().relax(tl, ro);
  REQUIRE_MESSAGE(t.status == backend::Status::settled, t.message);
  double worst = 0;
  for (size_t i = 0; i < b.nodes.size(); ++i)
    for (size_t j = 0; j < t.nodes.size(); ++j)
      if (b.nodes[i] == t.nodes[j] && (b.nodes[i][0] == 'x' || b.nodes[i][0] == 'h') && b.nodes[i].find('_') == 1)
        worst = std::max(worst, std::abs(b.final_V(static_cast<Eigen::Index>(i)) - t.final_V(static_cast<Eigen::Index>(j))));
  CHECK(worst / dm.v_unit_V < 0.05);  // model units: gain, output-conductance and residual-offset errors of the cells
  CHECK(worst > 0);
}

TEST_CASE("eqsim: a bad cell and a transistor-level netlist on the ode backend are bad input (exit 2)") {
  const std::string dir = fresh_dir("cli");
  std::ofstream(dir + "/bad.cir") << "* bad cell\n.subckt bad out in vdd vss bias\nM1 out in vss vss nch w=1u l=1u\n.ends\n";
  const auto bad = eqsim::testing::run_eqsim("characterize " + dir + "/bad.cir --device-model " +
                                             src("device_models/generic-65nm.yaml") + " --out " + dir + "/d.yaml");
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("bad.cir") != std::string::npos);
  std::ofstream(dir + "/x.cir") << "* x\n.subckt half a b\nR1 a b 1k\n.ends\nV1 in 0 DC 1\nX1 in out half\nR2 out 0 1k\n"
                                   "C1 out 0 1p\n.end\n";
  const auto ode = eqsim::testing::run_eqsim("relax " + dir + "/x.cir --backend ode --out " + dir + "/r.json");
  CHECK(ode.exit_code == 2);
  CHECK(ode.output.find("line 6") != std::string::npos);
  const auto spice = eqsim::testing::run_eqsim("relax " + dir + "/x.cir --backend spice --out " + dir + "/r.json --t-stop-s 1e-7");
  CHECK(spice.exit_code == 0);
}
