// Golden cases (tests/golden/<case>/): a model folder and a device model in, the
// expected netlist and each backend's relaxed unit voltages out. The test rebuilds
// the netlist from the stored inputs and diffs it against expected.cir, then
// relaxes it on every backend and compares with results.json. A change in the
// order devices are drawn, a unit slip in the netlister or a backend's drift fails
// here. `test_golden --update` rewrites the expected files on purpose (review the
// diff before committing it).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "backend/registry.hpp"
#include "circuit/netlist.hpp"
#include "circuit/netlister.hpp"
#include "config/device_model_yaml.hpp"
#include "config/model_dir.hpp"
#include "helpers.hpp"

using namespace eqsim;
namespace fs = std::filesystem;

namespace {

bool g_update = false;
const std::string kGolden = std::string(EQSIM_SOURCE_DIR) + "/tests/golden";

struct GoldenCase {
  std::string name;
  model::Network net;
  std::string device_model;  // under device_models/
  double relative_mismatch;  // every device's sigma (circuit::with_relative_mismatch); < 0: the device model's own
  unsigned long long mismatch_seed;
  double nudge_g;            // 0: free phase
};

// The cases' inputs, written into tests/golden/<case>/model by --update only.
std::vector<GoldenCase> cases() {
  auto dense = testing::small_network(11, false);
  return {{"small_dense_mismatch", dense, "generic-65nm.yaml", 0.05, 7, 0.0},
          {"small_dense_nudged_ideal", dense, "generic-28nm.yaml", 0.0, 1, -0.5},
          {"small_bilinear_mismatch", testing::small_network(12, true), "generic-65nm.yaml", 0.05, 3, 0.0}};
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

circuit::Circuit golden_circuit(const GoldenCase& g, const std::string& dir) {
  const auto net = config::load_model_dir(dir + "/model");
  auto dm = config::load_device_model(std::string(EQSIM_SOURCE_DIR) + "/device_models/" + g.device_model);
  dm.source = "device_models/" + g.device_model;  // as the repository names it, wherever the clone is
  if (g.relative_mismatch >= 0) dm = circuit::with_relative_mismatch(dm, g.relative_mismatch);
  circuit::NetlistOptions opt;
  opt.mismatch_seed = g.mismatch_seed;
  opt.model_name = "golden case " + g.name;
  const int nv = net.size(net.spec().visible);
  opt.spring_target = Eigen::VectorXd::LinSpaced(nv, -0.9, 0.8);
  opt.nudge_g = g.nudge_g;
  if (g.nudge_g != 0) opt.nudge_target = Eigen::VectorXd::LinSpaced(nv, 0.7, -0.6);
  return circuit::build_circuit(net, dm, opt);
}

backend::RelaxOptions tight() {
  backend::RelaxOptions o;
  o.settle_tol_V = 1e-7;
  o.rel_tol = 1e-10;
  o.abs_tol_V = 1e-12;
  return o;
}

}  // namespace

TEST_CASE("golden cases: netlists as stored, and every backend's equilibrium as stored") {
  for (const auto& g : cases()) {
    CAPTURE(g.name);
    const std::string dir = kGolden + "/" + g.name;
    if (g_update) {
      fs::create_directories(dir);
      config::save_model_dir(dir + "/model", g.net, "golden case input");
    }
    const std::string text = circuit::write_netlist(golden_circuit(g, dir));
    if (g_update) std::ofstream(dir + "/expected.cir") << text;
    const std::string expected = read_text(dir + "/expected.cir");
    REQUIRE_MESSAGE(!expected.empty(), dir << "/expected.cir is missing: run test_golden --update");
    CHECK_MESSAGE(text == expected, "the netlist differs from " << dir << "/expected.cir (diff it; --update rewrites it)");

    const auto c = circuit::parse_netlist(expected, dir + "/expected.cir");
    nlohmann::json results = g_update ? nlohmann::json::object() : nlohmann::json::parse(std::ifstream(dir + "/results.json"));
    for (const auto& name : backend::backend_names()) {
      const auto backend = backend::make_backend(name);
      if (!backend->takes_netlist_files()) continue;  // generated circuits only: test_chip_backend holds it to ode
      CAPTURE(name);
      const auto s = backend->relax(c, tight());
      REQUIRE_MESSAGE(s.status == backend::Status::settled, s.message);
      for (size_t k = 0; k < s.nodes.size(); ++k) {
        const double v = s.final_V(static_cast<Eigen::Index>(k));
        if (g_update) {
          results[name][s.nodes[k]] = v;
          continue;
        }
        CAPTURE(s.nodes[k]);
        CHECK(v == doctest::Approx(results[name][s.nodes[k]].get<double>()).epsilon(1e-5).scale(1e-6));
      }
    }
    if (g_update) std::ofstream(dir + "/results.json") << results.dump(2) << "\n";
  }
}

int main(int argc, char** argv) {
  doctest::Context ctx;
  for (int i = 1; i < argc; ++i) g_update = g_update || std::string(argv[i]) == "--update";
  ctx.applyCommandLine(argc, argv);
  return ctx.run();
}
