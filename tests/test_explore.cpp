// eqsim explore end to end on a small exploration of configs/explore_demo.yaml: the
// files and their fixed columns, determinism under another thread count and after
// --resume, and bad input that exits 2 naming the file and key.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "cli_runner.hpp"

using namespace eqsim;
using testing::run_command;
using testing::read_text;
using testing::run_eqsim;

namespace {

const std::string kDemo = testing::source_path("configs/explore_demo.yaml");

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

TEST_CASE("eqsim explore: fixed columns; the same chips.csv with 1 or 2 threads and after --resume") {
  const std::string dir = testing::fresh_dir("explore");
  auto r = run_command("OMP_NUM_THREADS=1 " + std::string(EQSIM_BINARY) + " " + testing::small_explore_args(dir + "/a"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const std::string a = dir + "/a/explore/";
  CHECK(first_line(a + "chips.csv") ==
        "point,chip,seed,strategy,frechet_rise,gradient_cosine,equilibrium_rms_model,settle_time_s,coverage,confidence,"
        "writes_per_step,frechet,pass");
  const std::string points_head = first_line(a + "points.csv");
  CHECK(points_head.rfind("point,strategy,readout.repeats,n_chips,frechet_rise_mean,frechet_rise_lo,frechet_rise_hi,", 0) == 0);
  CHECK(points_head.find(",yield,yield_lo,yield_hi,energy_J_per_step,pareto") != std::string::npos);
  CHECK(first_line(a + "pareto.csv") == points_head);
  const auto summary = nlohmann::json::parse(std::ifstream(dir + "/a/summary.json"));
  CHECK(summary["chips_per_point"] == 3);
  CHECK(read_text(dir + "/a/report.md").find("## The answer") != std::string::npos);
  // In situ against deploy, chip by chip: the mean of the per-chip differences is the
  // difference of the strategies' means in chips.csv (sign: in situ minus deploy).
  double insitu_sum = 0, deploy_sum = 0;
  {
    std::ifstream csv(a + "chips.csv");
    std::string line;
    std::getline(csv, line);
    while (std::getline(csv, line)) {
      std::vector<std::string> f;
      std::stringstream ls(line);
      for (std::string cell; std::getline(ls, cell, ',');) f.push_back(cell);
      if (f.at(0) != "0") continue;
      (f.at(3) == "insitu" ? insitu_sum : deploy_sum) += std::stod(f.at(4));  // frechet_rise
    }
  }
  const auto& paired = summary["insitu_minus_deploy"].at(0);
  CHECK(paired["point"] == 0);
  CHECK(paired["n_chips"] == 3);
  CHECK(std::abs(paired["mean"].get<double>() - (insitu_sum - deploy_sum) / 3) < 1e-5);  // the csv's six digits
  CHECK(paired["lo"].get<double>() <= paired["mean"].get<double>());
  CHECK(paired["hi"].get<double>() >= paired["mean"].get<double>());
  CHECK(read_text(dir + "/a/report.md").find("## In situ against deploy, chip by chip") != std::string::npos);
  // Chip k has the same mismatch seed at every point (common random numbers).
  CHECK(read_text(a + "chips.csv").find("1,2,1002,deploy") != std::string::npos);
  CHECK(read_text(a + "chips.csv").find("0,2,1002,deploy") != std::string::npos);

  // Two threads and a resumed run give the same bytes: delete two finished tasks and --resume.
  std::filesystem::remove(a + "tasks/p0_c1.json");
  std::filesystem::remove(a + "tasks/p1_c2.json");
  const std::string before = read_text(a + "chips.csv");
  r = run_command("OMP_NUM_THREADS=2 " + std::string(EQSIM_BINARY) + " " + testing::small_explore_args(dir + "/a") + " --resume");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(r.output.find("6 tasks, 2 to run") != std::string::npos);
  CHECK(read_text(a + "chips.csv") == before);
  // A second exploration into the same folder without --resume refuses.
  r = run_eqsim(testing::small_explore_args(dir + "/a"));
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--resume") != std::string::npos);
}

TEST_CASE("eqsim explore: bad axes and specs exit 2 naming the file and key") {
  const std::string dir = testing::fresh_dir("explore_bad");
  struct Case {
    std::string set, key;
  };
  const Case cases[] = {
      {"'explore.axes={readout.repeeats: [1, 2]}'", "readout.repeeats"},
      {"'explore.axes={readout.repeats: []}'", "explore.axes.readout.repeats"},
      {"'explore.axes={device.c_node_F: {log: [0, 1.0e-13], n: 3}}'", "explore.axes.device.c_node_F.log"},
      {"'explore.axes={device.c_node_Farad: [1.0e-13]}'", "explore.axes.device.c_node_Farad"},
      {"'explore.spec={frechet_rize: {max: 0.2}}'", "explore.spec.frechet_rize"},
      {"explore.pareto_metric=energy", "explore.pareto_metric"},
      {"explore.backend=chipp", "explore.backend"},
      {"'explore.axes={readout.products: [0, 2]}'", "readout.products"},
      {"'explore.axes={device.c_node_F: {lin: [1.0e-13, 2.0e-13], n: 1.0e+9}}'", "explore.axes.device.c_node_F.n"},
      {"'explore.axes={readout.repeats: {lin: [1, 8], n: 2000}, readout.full_scale_model: {lin: [1, 2], n: 2000}}'",
       "explore.axes"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.set);
    const auto r = run_eqsim("explore " + kDemo + " --out " + dir + "/x --set train.steps=5 --set " + c.set);
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(r.output.find(c.key) != std::string::npos, r.output);
    CHECK_MESSAGE(r.output.find("explore_demo.yaml") != std::string::npos, r.output);
  }
}
