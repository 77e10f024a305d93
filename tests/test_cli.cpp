// End-to-end checks of the eqsim binary: bad input gives exit code 2 and a message
// naming file and key, a resumed training ends with the same numbers as an
// uninterrupted one, and outputs have the documented shapes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "circuit/equivalent.hpp"
#include "config/device_model_yaml.hpp"
#include "study/circuit_check.hpp"
#include "study/chip.hpp"
#include "study/mismatch.hpp"
#include "config/model_dir.hpp"
#include "cli_runner.hpp"
#include "study/circuit_check.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"

using namespace eqsim;
using testing::run_eqsim;
namespace fs = std::filesystem;

namespace {

const std::string kQuick = testing::source_path("configs/quick.yaml");

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// A trained quick model shared by several tests.
const std::string& trained_quick_model() {
  static const std::string dir = [] {
    const std::string d = testing::fresh_dir("cli_model");
    const auto r = run_eqsim("train " + kQuick + " --out " + d + " --set train.steps=10");
    REQUIRE(r.exit_code == 0);
    return d;
  }();
  return dir;
}

}  // namespace

TEST_CASE("--version names every library and engine, MPI included") {
  const auto r = run_eqsim("--version");
  CHECK(r.exit_code == 0);
  for (const char* part : {"(git ", "Eigen ", "backend ode: Boost.Odeint", "backend spice: ngspice", "MPI (under mpirun/srun): Open MPI"})
    CHECK_MESSAGE(r.output.find(part) != std::string::npos, part, " missing from:\n", r.output);
}

TEST_CASE("malformed YAML: exit 2 naming the file and line") {
  const std::string dir = testing::fresh_dir("cli_bad_yaml");
  const std::string cfg = write_file(dir, "broken.yaml", "train:\n  steps: [1, 2\n  seed: 3\n");
  const auto r = run_eqsim("train " + cfg + " --out " + dir + "/out");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("broken.yaml") != std::string::npos);
  CHECK(r.output.find("line") != std::string::npos);
  CHECK_FALSE(fs::exists(dir + "/out/train_log.csv"));
}

TEST_CASE("unknown key and bad values: exit 2 naming the key") {
  const std::string dir = testing::fresh_dir("cli_bad_key");
  auto r = run_eqsim("train " + kQuick + " --out " + dir + "/a --set train.stpes=3");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("train.stpes") != std::string::npos);
  r = run_eqsim("train " + kQuick + " --out " + dir + "/b --set train.beta=0.05");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("train.beta") != std::string::npos);
  CHECK(r.output.find("unstable") != std::string::npos);
  r = run_eqsim("train " + kQuick + " --out " + dir + "/c --set train.lr=.nan");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("train.lr") != std::string::npos);
  r = run_eqsim("train " + kQuick + " --out " + dir + "/d --set train.estimator=magic");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("train.estimator") != std::string::npos);
}

TEST_CASE("model folder with a wrong shape or a NaN: exit 2 naming file and array") {
  const std::string dir = testing::fresh_dir("cli_bad_model");
  fs::copy(trained_quick_model() + "/model", dir + "/model");
  data::write_npy(dir + "/model/W_x_h1.npy", Eigen::MatrixXd::Zero(64, 127));
  auto r = run_eqsim("sample " + dir + "/model --n 4 --out " + dir + "/s.npy");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("W_x_h1.npy") != std::string::npos);
  CHECK(r.output.find("wrong shape") != std::string::npos);
  CHECK_FALSE(fs::exists(dir + "/s.npy"));

  Eigen::MatrixXd w = Eigen::MatrixXd::Zero(64, 128);
  w(3, 4) = std::nan("");
  data::write_npy(dir + "/model/W_x_h1.npy", w);
  r = run_eqsim("sample " + dir + "/model --n 4 --out " + dir + "/s.npy");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("NaN") != std::string::npos);
}

TEST_CASE("an unwritable output folder is a clear error") {
  const auto r = run_eqsim("train " + kQuick + " --out /proc/eqsim_cannot_write_here");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("/proc/eqsim_cannot_write_here") != std::string::npos);
}

TEST_CASE("a second train into the same folder refuses instead of overwriting") {
  const auto r = run_eqsim("train " + kQuick + " --out " + trained_quick_model() + " --set train.steps=10");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--resume") != std::string::npos);
}

TEST_CASE("a resumed run ends with the same numbers as an uninterrupted one") {
  const std::string full = testing::fresh_dir("cli_full"), part = testing::fresh_dir("cli_part");
  REQUIRE(run_eqsim("train " + kQuick + " --out " + full + " --set train.steps=20").exit_code == 0);
  // Killed after step 10: the checkpoint is at 10 and the log has a torn line past it.
  REQUIRE(run_eqsim("train " + kQuick + " --out " + part + " --set train.steps=10").exit_code == 0);
  std::ofstream(part + "/train_log.csv", std::ios::app) << "11,12.3";
  const auto r = run_eqsim("train " + kQuick + " --out " + part + " --set train.steps=20 --resume");
  REQUIRE(r.exit_code == 0);
  for (const char* name : {"W_x_h1", "W_h1_h2", "b_h2"})
    CHECK(data::read_npy(full + "/model/" + name + ".npy") == data::read_npy(part + "/model/" + name + ".npy"));
  std::ifstream a(full + "/train_log.csv"), b(part + "/train_log.csv");
  std::string la, lb;
  int rows = 0;
  while (std::getline(a, la) && std::getline(b, lb)) {
    CHECK(la.substr(0, la.rfind(',')) == lb.substr(0, lb.rfind(',')));  // all but the wall time
    ++rows;
  }
  CHECK(rows == 21);
}

TEST_CASE("sample writes N x 64 in [-1, 1], the same for the same seed") {
  const std::string dir = testing::fresh_dir("cli_sample");
  const std::string model = trained_quick_model() + "/model";
  REQUIRE(run_eqsim("sample " + model + " --n 50 --out " + dir + "/a.npy --seed 3").exit_code == 0);
  REQUIRE(run_eqsim("sample " + model + " --n 50 --out " + dir + "/b.npy --seed 3 --t-end 0.5").exit_code == 0);
  REQUIRE(run_eqsim("sample " + model + " --n 50 --out " + dir + "/c.npy --seed 3").exit_code == 0);
  const auto a = data::read_npy(dir + "/a.npy");
  CHECK(a.rows() == 50);
  CHECK(a.cols() == 64);
  CHECK(a.maxCoeff() <= 1.0);
  CHECK(a.minCoeff() >= -1.0);
  CHECK(a == data::read_npy(dir + "/c.npy"));
  CHECK(a != data::read_npy(dir + "/b.npy"));
}

TEST_CASE("gradcheck writes the documented columns") {
  const std::string dir = testing::fresh_dir("cli_gradcheck");
  const auto r = run_eqsim("gradcheck " + kQuick + " --out " + dir + "/g.csv --set gradcheck.betas=[0.001] "
                           "--set gradcheck.relax_steps=[10]");
  REQUIRE(r.exit_code == 0);
  std::ifstream in(dir + "/g.csv");
  std::string header;
  std::getline(in, header);
  for (const char* col : {"estimator", "beta", "relax_steps", "temperature_K", "cosine", "rel_error"})
    CHECK(header.find(col) != std::string::npos);
  int rows = 0;
  for (std::string line; std::getline(in, line);) ++rows;
  CHECK(rows == 2 * 3);  // 2 estimators x (K=10 with converged / cut free phase, converged)
}

namespace {

// A small but complete `eqsim run` (every stage) of configs/quick.yaml.
std::string small_run_args(const std::string& dir, long steps) {
  return testing::source_path("configs/quick.yaml") + " --out " + dir + " --set train.steps=" + std::to_string(steps) +
         " --set train.batch_size=32 --set train.checkpoint_every=10 --set baselines.exact=false --set sample.n=64"
         " --set gradcheck.batch_size=4 --set 'gradcheck.betas=[1.0e-3]' --set 'gradcheck.relax_steps=[5]'"
         " --set 'mismatch.sigmas=[0, 0.05]' --set mismatch.seeds=1 --set 'mismatch.noise=[0]' --set mismatch.samples=32"
         " --set mismatch.insitu_steps=2 --set mismatch.gradient_batch=8"
         " --set 'energy.device_models=[device_models/generic-65nm.yaml]' --set energy.sensitivity=false"
         " --set circuit_check.window_tau=2";
}

// Training steps logged in a train_log.csv, in order.
std::vector<long> logged_steps(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<long> steps;
  while (std::getline(in, line))
    if (!line.empty()) steps.push_back(std::stol(line.substr(0, line.find(','))));
  return steps;
}

}  // namespace

TEST_CASE("a killed eqsim run resumes and completes; each training step is logged once") {
  const std::string dir = testing::fresh_dir("run_killed") + "/run";
  const long steps = 1500;
  const auto killed = testing::run_command("timeout -s KILL 4 " + std::string(EQSIM_BINARY) + " run " + small_run_args(dir, steps));
  REQUIRE_MESSAGE(killed.exit_code == 137, "the run should still be training after 4 s:\n" << killed.output);
  CHECK_FALSE(std::filesystem::exists(dir + "/report.md"));
  const auto before = logged_steps(dir + "/ep/train_log.csv");
  REQUIRE(!before.empty());
  REQUIRE(before.size() < static_cast<size_t>(steps));  // killed while training
  const auto resumed = testing::run_eqsim("run " + small_run_args(dir, steps) + " --resume");
  REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.output);
  MESSAGE("killed after " << before.size() << " logged steps of " << steps);
  const auto after = logged_steps(dir + "/ep/train_log.csv");
  REQUIRE(after.size() == static_cast<size_t>(steps));
  for (long k = 0; k < steps; ++k) CHECK(after[k] == k + 1);
  std::ifstream md(dir + "/report.md");
  const std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  CHECK(text.find("## Fidelity vs mismatch") != std::string::npos);
  CHECK(text.find("## Energy per training step") != std::string::npos);
  CHECK(text.find("## The model's circuit on every backend") != std::string::npos);
  // ngspice and the ode backend on the trained model's own circuit, same window, same start.
  const auto check = study::read_circuit_check_csv(dir + "/circuit_check.csv");
  REQUIRE(check.rows.size() == 2);
  CHECK(check.rows[1].backend == "spice");
  CHECK(check.rows[1].equilibrium_max_vs_first < 1e-4);
  CHECK(check.rows[1].equilibrium_max_vs_ideal > 0);
  // A 2 tau window: relaxations that all ran out of it have no slowest settle time (not 0 s).
  const bool none_settled = check.rows[1].not_settled >= check.rows[1].points;
  CHECK((text.find(" | none settled | ") != std::string::npos) == none_settled);
  CHECK((check.rows[1].settle_time_max_s == 0) == none_settled);
}

TEST_CASE("eqsim run rejects a circuit-check window that is not positive, naming the key") {
  const std::string dir = testing::fresh_dir("run_bad_window") + "/run";
  const auto r = testing::run_eqsim("run " + small_run_args(dir, 10) + " --set circuit_check.window_tau=-1");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("circuit_check.window_tau") != std::string::npos);
}

TEST_CASE("a failing stage of eqsim run leaves a report naming the stage and why") {
  const std::string dir = testing::fresh_dir("run_failed") + "/run";
  const auto r = testing::run_eqsim("run " + small_run_args(dir, 20) + " --set 'energy.device_models=[no/such_model.yaml]'");
  CHECK(r.exit_code == 2);
  std::ifstream md(dir + "/report.md");
  const std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  CHECK(text.find("stage `energy` failed") != std::string::npos);
  CHECK(text.find("such_model.yaml") != std::string::npos);
  CHECK(text.find("## Fidelity vs mismatch") != std::string::npos);  // finished stages stay in the report
  std::ifstream js(dir + "/summary.json");
  const std::string summary((std::istreambuf_iterator<char>(js)), std::istreambuf_iterator<char>());
  CHECK(summary.find("\"failed\"") != std::string::npos);
}

TEST_CASE("train.seeds: every model trained once per seed; the quality table's intervals and EP's difference over training seeds") {
  const std::string dir = testing::fresh_dir("run_seeds") + "/run";
  const auto r = run_eqsim("run " + small_run_args(dir, 10) +
                           " --set 'train.seeds=[3, 4]' --set sample.sets=2 --set mismatch.enabled=false"
                           " --set energy.enabled=false --set circuit_check.enabled=false");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  for (const char* model : {"/ep/model", "/ep_seed4/model", "/mlp/model", "/mlp_seed4/model"})
    REQUIRE_MESSAGE(fs::exists(dir + model + "/model.yaml"), model);
  CHECK(config::load_training_record(dir + "/ep/model")->train.seed == 3);
  CHECK(config::load_training_record(dir + "/ep_seed4/model")->train.seed == 4);
  CHECK(data::read_npy(dir + "/ep/model/W_x_h1.npy") != data::read_npy(dir + "/ep_seed4/model/W_x_h1.npy"));
  const auto summary = nlohmann::json::parse(std::ifstream(dir + "/summary.json"));
  CHECK(summary["train_seed"] == 3);
  for (const auto& [label, q] : summary["quality"].items()) {
    const auto sets = q["frechet_sets"].get<std::vector<double>>();
    const auto seeds = q["frechet_training_seeds"].get<std::vector<double>>();
    if (seeds.empty()) continue;  // the EP model's other readouts: one training seed
    REQUIRE(seeds.size() == 2);
    REQUIRE(sets.size() == 2);
    CHECK(seeds[0] == doctest::Approx((sets[0] + sets[1]) / 2).epsilon(1e-12));  // seed 3's mean over its sets
    CHECK(seeds[1] != doctest::Approx(seeds[0]).epsilon(1e-6));                   // seed 4 is another training run
  }
  CHECK(summary["quality"]["EP (symmetric)"]["frechet_training_seeds"].size() == 2);
  std::ifstream md(dir + "/report.md");
  const std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  CHECK(text.find("over training seeds [95 %]") != std::string::npos);
  CHECK(text.find("over 2 paired training seeds") != std::string::npos);
}

TEST_CASE("the mismatch table round-trips, and the 10 % drop sigma interpolates the noiseless chip means") {
  std::vector<study::MismatchRow> rows;
  auto add = [&](double sigma, int seed, bool noise, double deploy, double insitu) {
    study::MismatchRow r;
    r.sigma = sigma, r.seed = seed, r.noise = noise;
    r.deploy.frechet_distance = deploy, r.insitu.frechet_distance = insitu;
    r.deploy.classes_covered = 10, r.gradient_cosine = 0.5, r.settle_time_max_s = 2e-6;
    rows.push_back(r);
  };
  add(0, 0, false, 2.0, 2.0), add(0, 1, false, 2.0, 2.0);
  add(0.02, 0, false, 2.1, 2.0), add(0.02, 1, false, 2.1, 2.0);
  add(0.05, 0, false, 2.3, 2.1), add(0.05, 1, false, 2.5, 2.1);
  add(0.05, 0, true, 9.0, 9.0);  // noisy chips do not count
  // deploy: limit 2.2 crosses between 2.1 (2 %) and the mean 2.4 (5 %): 2 % + 3 % / 3
  CHECK(study::quality_drop_sigma(rows, false) == doctest::Approx(0.03));
  CHECK(std::isnan(study::quality_drop_sigma(rows, true)));
  // Over chips: chip 0 alone crosses 2.2 at 2 % + 3 % x 0.1/0.2 = 3.5 %, chip 1 alone at 2 % + 3 % x 0.1/0.4 = 2.75 %;
  // every bootstrap resample of the two chips falls in [2.75 %, 3.5 %] and both ends occur.
  const auto iv = study::quality_drop_sigma_interval(rows, false, 7);
  CHECK(iv.n == 2);
  CHECK(iv.mean == doctest::Approx(0.03));
  CHECK(iv.lo == doctest::Approx(0.0275));
  CHECK(iv.hi == doctest::Approx(0.035));
  const auto never = study::quality_drop_sigma_interval(rows, true, 7);
  CHECK(std::isnan(never.mean));
  CHECK(std::isinf(never.hi));
  const std::string path = testing::fresh_dir("mismatch_csv") + "/m.csv";
  std::ofstream(path) << study::mismatch_csv(rows);
  const auto back = study::read_mismatch_csv(path);
  REQUIRE(back.size() == rows.size());
  CHECK(back[4].deploy.frechet_distance == doctest::Approx(2.3));
  CHECK(back[6].noise);
  CHECK(back[1].deploy.classes_covered == 10);
  CHECK(back[2].settle_time_max_s == doctest::Approx(2e-6));
  CHECK(study::mismatch_csv(back) == study::mismatch_csv(rows));
  std::ofstream(path) << "not,a,table\n";
  CHECK_THROWS_AS(study::read_mismatch_csv(path), eqsim::InputError);
}

TEST_CASE("a model folder whose replacement was killed between its two renames is put back") {
  const std::string d = testing::fresh_dir("recover") + "/model";
  model::Network net(model::floweqprop_spec());
  net.init_xavier(0.5, 3);
  config::save_model_dir(d, net, "first");
  config::save_model_dir(d, net, "second");  // replaces it: no .old or .tmp left behind
  CHECK_FALSE(std::filesystem::exists(d + ".old"));
  CHECK_FALSE(std::filesystem::exists(d + ".tmp"));
  std::filesystem::rename(d, d + ".old");  // the state after a kill between the renames
  config::recover_interrupted_write(d);
  CHECK(config::load_model_dir(d).w(0) == net.w(0));
  CHECK_FALSE(std::filesystem::exists(d + ".old"));
}

TEST_CASE("eqsim netlist --mismatch-seed with a seed from the mismatch study's table rebuilds that chip") {
  const std::string dir = testing::fresh_dir("cli_chip_seed");
  REQUIRE(run_eqsim("run " + small_run_args(dir + "/run", 10) + " --set energy.enabled=false").exit_code == 0);
  const auto rows = study::read_mismatch_csv(dir + "/run/mismatch.csv");
  const auto row = std::find_if(rows.begin(), rows.end(), [](const study::MismatchRow& r) { return r.sigma > 0; });
  REQUIRE(row != rows.end());
  const std::string model = dir + "/run/ep/model", dm_path = testing::source_path("device_models/generic-65nm.yaml");
  const auto net = config::load_model_dir(model);
  const auto dm = circuit::with_relative_mismatch(config::load_device_model(dm_path), row->sigma);
  const Eigen::VectorXd x_t = Eigen::VectorXd::LinSpaced(net.size(net.spec().visible), -0.8, 0.7);
  data::write_npy(dir + "/xt.npy", x_t, true);

  // The chip model's free equilibrium of chip `seed` at x_t, per visible unit.
  auto chip_equilibrium = [&](unsigned long long seed) {
    const circuit::EquivalentCircuit eq(net, circuit::draw_factors(net, dm, seed), dm.noise_gamma);
    auto s = model::initial_state(net, x_t);
    REQUIRE(eq.relax(learn::free_clamp(net, x_t), s, {model::RelaxMethod::block, 5000, 0.1, 1e-13}).converged);
    return Eigen::VectorXd(s.u[net.spec().visible].col(0));
  };
  const std::string cir = dir + "/chip.cir", json = dir + "/chip.json";
  REQUIRE(run_eqsim(fmt::format("netlist {} --device-model {} --out {} --x-t {}/xt.npy --mismatch-seed {} --relative-mismatch {}",
                                model, dm_path, cir, dir, row->mismatch_seed, row->sigma)).exit_code == 0);
  REQUIRE(run_eqsim("relax " + cir + " --backend ode --out " + json).exit_code == 0);
  const auto j = nlohmann::json::parse(std::ifstream(json));
  Eigen::VectorXd netlisted(x_t.size());
  for (Eigen::Index i = 0; i < x_t.size(); ++i)
    netlisted(i) = j["nodes"][circuit::unit_node(net, net.spec().visible, static_cast<int>(i))]["final_V"].get<double>() /
                   dm.v_unit_V;
  const double err = (netlisted - chip_equilibrium(row->mismatch_seed)).cwiseAbs().maxCoeff();
  const double other = (netlisted - chip_equilibrium(row->mismatch_seed + 1)).cwiseAbs().maxCoeff();
  MESSAGE("chip seed " << row->mismatch_seed << " at sigma " << row->sigma << ": netlist (ode) vs chip model " << err
                       << " model units; vs the next seed's chip " << other);
  CHECK(err < 1e-4);        // the relaxation's settling tolerance is 1e-4 V = 1e-3 model units; tanh offsets to third order
  CHECK(other > 20 * err);  // another seed is another chip
}

TEST_CASE("eqsim run on the diffusion model: the mismatch study, deploy against in situ, with the report's section") {
  const std::string dir = testing::fresh_dir("run_diffusion") + "/run";
  const auto r = run_eqsim(
      "run " + testing::source_path("configs/diffusion_bilinear_digits.yaml") + " --out " + dir +
      " --set train.steps=10 --set train.batch_size=16 --set train.checkpoint_every=10 --set sample.n=32 --set sample.sets=2"
      " --set sample.relax.steps=20 --set relax.steps=40 --set relax.nudged_steps=10 --set diffusion.steps_per_level=3"
      " --set gradcheck.batch_size=4 --set gradcheck.repeats=1 --set 'gradcheck.betas=[1.0e-2]' --set 'gradcheck.relax_steps=[5]'"
      " --set 'gradcheck.temperatures=[0]' --set 'mismatch.sigmas=[0, 0.05]' --set mismatch.seeds=2 --set 'mismatch.noise=[0, 1]'"
      " --set mismatch.samples=32 --set mismatch.insitu_steps=2 --set mismatch.gradient_batch=8 --set energy.enabled=false"
      " --set circuit_check.enabled=false");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const auto rows = study::read_mismatch_csv(dir + "/mismatch.csv");
  REQUIRE(rows.size() == 8);  // 2 sigmas x 2 chips x noise off / on
  // Noiseless at sigma 0 the chip is the ideal circuit: its deployed samples are the ideal
  // network's annealed Langevin samples at the same N and seed, but for the lag of the
  // bilinear coupling's projection nodes within a score's 20 Euler steps (measured 0.2 %).
  const std::string model = dir + "/ep/model";
  const auto cfg = config::load_run_config(dir + "/run_config.yaml");
  const auto digits = data::load_digits(cfg.data_path);
  const metrics::DigitClassifier clf(digits);
  const double ideal = study::ideal_frechet(cfg, config::load_model_dir(model), digits, clf, 32,
                                            config::load_diffusion_schedule(model));
  const double chip_ideal = rows.front().deploy.frechet_distance;
  const double chip_ideal_confidence = rows.front().deploy.mean_confidence;
  REQUIRE((rows.front().sigma == 0 && !rows.front().noise));
  CHECK(chip_ideal == doctest::Approx(ideal).epsilon(0.01));
  for (const auto& row : rows) {
    CHECK(std::isfinite(row.deploy.frechet_distance));
    CHECK(std::isfinite(row.insitu.frechet_distance));
    CHECK(std::isfinite(row.gradient_cosine));
    if (row.sigma == 0 && !row.noise) CHECK(row.deploy.frechet_distance == chip_ideal);  // chip 1 is the same ideal circuit
    else  // mismatch or noise moves the samples (300 K noise alone moves this Frechet distance by ~1e-5, below
          // the csv's six digits for some streams: the classifier's confidence shows it then)
      CHECK((row.deploy.frechet_distance != doctest::Approx(chip_ideal).epsilon(1e-6) ||
             row.deploy.mean_confidence != doctest::Approx(chip_ideal_confidence).epsilon(1e-6)));
    if (row.sigma > 0 && !row.noise) CHECK(row.equilibrium_rms > 1e-4);
    CHECK(row.insitu.frechet_distance != doctest::Approx(row.deploy.frechet_distance).epsilon(1e-6));  // in situ trained
  }
  // At sigma 0 the two chips are one circuit; with noise each still reads its own noise
  // stream (chips are the statistics' independent units), so their samples differ.
  const auto noisy_ideal = [&](int chip) {
    for (const auto& row : rows)
      if (row.sigma == 0 && row.noise && row.seed == chip) return row.deploy;
    FAIL("no noisy sigma-0 row of chip " << chip);
    return metrics::Quality{};
  };
  CHECK(noisy_ideal(0).mean_confidence != noisy_ideal(1).mean_confidence);
  std::ifstream md(dir + "/report.md");
  const std::string text((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
  CHECK(text.find("## Fidelity vs mismatch") != std::string::npos);
  const auto summary = nlohmann::json::parse(std::ifstream(dir + "/summary.json"));
  CHECK(summary.contains("mismatch"));
}
