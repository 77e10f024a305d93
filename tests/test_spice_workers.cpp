// eqsim sample --backend spice through the real binary with one fault injected
// into a spice worker (EQSIM_SPICE_WORKER_FAULT, see eqsim-spice-worker) at its
// first relaxation (workers grown past their size limit are replaced, under ASan
// after nearly every run, so a later request number might never come): the run finishes, its record counts one lost relaxation with
// the reason, and the samples are the clean run's (the lost relaxation ran again
// on a fresh worker with the same seed).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_runner.hpp"
#include "config/model_dir.hpp"
#include "data/npy.hpp"
#include "helpers.hpp"

using namespace eqsim;

namespace {

const std::string kDeviceModel = testing::source_path("device_models/generic-65nm.yaml");

// A model folder holding the small bilinear test network (6 visible units).
const std::string& model_dir() {
  static const std::string dir = [] {
    std::srand(1);
    const std::string d = testing::fresh_dir("spice_workers_model") + "/model";
    config::save_model_dir(d, testing::small_network(8), "test network");
    return d;
  }();
  return dir;
}

// eqsim sample of 3 samples into dir/s.npy, under the environment `env`; the record, checked.
nlohmann::json sample(const std::string& dir, const std::string& env) {
  const auto r = testing::run_command(env + " " + EQSIM_BINARY + " sample " + model_dir() + " --n 3 --t-end 0.02 --out " +
                                      dir + "/s.npy --backend spice --device-model " + kDeviceModel);
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  std::ifstream in(dir + "/s.npy.json");
  const auto j = nlohmann::json::parse(in);
  CHECK(j["status"] == "ok");
  CHECK(j["settle"]["relaxations"] == 6);
  if (j["settle"]["backend_errors"] != 0)
    CHECK(r.output.find(std::to_string(j["settle"]["backend_errors"].get<long>()) +
                        " relaxations lost to a failed spice worker") != std::string::npos);
  return j;
}

void check_sample_survives(const std::string& fault, const std::string& reason, const Eigen::MatrixXd& clean) {
  const std::string dir = testing::fresh_dir("spice_workers_" + fault);
  const auto j = sample(dir, "EQSIM_SPICE_DEADLINE_S=10 EQSIM_SPICE_WORKER_FAULT=" + fault + ":1:" + dir + "/fault_once");
  CHECK(std::filesystem::exists(dir + "/fault_once"));
  CHECK(j["settle"]["backend_errors"] == 1);
  CHECK(j["settle"]["first_backend_error"].get<std::string>().find(reason) != std::string::npos);
  CHECK((data::read_npy(dir + "/s.npy") - clean).cwiseAbs().maxCoeff() == 0.0);
}

}  // namespace

TEST_CASE("eqsim sample --backend spice: a worker killed by SIGSEGV, one that aborts, exits or hangs each cost one relaxation") {
  const std::string dir = testing::fresh_dir("spice_workers_clean");
  CHECK(sample(dir, "")["settle"]["backend_errors"] == 0);
  const auto clean = data::read_npy(dir + "/s.npy");
  check_sample_survives("segv", "died of signal 11 (Segmentation fault)", clean);
  check_sample_survives("abort", "died of signal 6", clean);
  check_sample_survives("exit", "exited with status 3", clean);
  check_sample_survives("hang", "did not answer within the 10 s deadline and was killed", clean);
}
