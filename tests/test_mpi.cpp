// eqsim explore under `mpirun -np 2` (Open MPI) against the same exploration in one
// process: chips.csv, points.csv and pareto.csv byte for byte; then a resumed run under
// -np 2 after deleting task files redoes only those. Skipped with a message when
// mpirun is not installed.
#include <doctest/doctest.h>

#include <filesystem>

#include "cli_runner.hpp"

using namespace eqsim;
using testing::read_text;
using testing::run_command;

namespace {

// Open MPI refuses root without these; --oversubscribe: more ranks than free cores is fine here.
const std::string kMpirun =
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 mpirun --oversubscribe -np 2 ";

std::string explore_command(const std::string& out) {
  return std::string(EQSIM_BINARY) + " " + testing::small_explore_args(out);
}

}  // namespace

TEST_CASE("mpirun -np 2 eqsim explore: the same tables as one process, and --resume redoes only what is missing") {
  if (run_command("command -v mpirun").exit_code != 0) {
    MESSAGE("mpirun is not installed (Debian: openmpi-bin): the MPI test is skipped");
    return;
  }
  const std::string dir = testing::fresh_dir("mpi");
  auto r = run_command("OMP_NUM_THREADS=1 " + explore_command(dir + "/one"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  r = run_command(kMpirun + explore_command(dir + "/two"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  // Rank 0 computed some tasks and rank 1 the others, and it says what it exchanged.
  CHECK_MESSAGE(r.output.find("eqsim mpi: explore batch of 6 tasks on 2 ranks") != std::string::npos, r.output);
  CHECK(r.output.find("(rank 0 computed 6)") == std::string::npos);
  for (const char* table : {"chips.csv", "points.csv", "pareto.csv"}) {
    CAPTURE(table);
    const std::string one = read_text(dir + "/one/explore/" + table);
    CHECK(!one.empty());
    CHECK(read_text(dir + "/two/explore/" + table) == one);
  }
  // The task files rank 0 wrote from rank 1's results are the single process's bytes.
  for (const char* task : {"p0_c0.json", "p0_c1.json", "p1_c2.json"})
    CHECK(read_text(dir + "/two/explore/tasks/" + task) == read_text(dir + "/one/explore/tasks/" + task));

  std::filesystem::remove(dir + "/two/explore/tasks/p0_c1.json");
  std::filesystem::remove(dir + "/two/explore/tasks/p1_c2.json");
  std::filesystem::remove(dir + "/two/explore/chips.csv");
  r = run_command(kMpirun + explore_command(dir + "/two") + " --resume");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(r.output.find("6 tasks, 2 to run") != std::string::npos);
  CHECK(read_text(dir + "/two/explore/chips.csv") == read_text(dir + "/one/explore/chips.csv"));
}

TEST_CASE("mpirun -np 2 eqsim run: the mismatch study's table and kept samples as in one process") {
  if (run_command("command -v mpirun").exit_code != 0) {
    MESSAGE("mpirun is not installed (Debian: openmpi-bin): the MPI test is skipped");
    return;
  }
  const std::string dir = testing::fresh_dir("mpi_run");
  auto args = [&](const std::string& out) {
    return std::string(EQSIM_BINARY) + " run " + testing::source_path("configs/quick.yaml") + " --out " + dir + "/" + out +
           " --set train.steps=60 --set train.batch_size=32 --set baselines.exact=false --set sample.n=64"
           " --set gradcheck.batch_size=4 --set 'gradcheck.betas=[1.0e-3]' --set 'gradcheck.relax_steps=[5]'"
           " --set 'mismatch.sigmas=[0, 0.05]' --set mismatch.seeds=2 --set 'mismatch.noise=[0]' --set mismatch.samples=32"
           " --set mismatch.insitu_steps=2 --set mismatch.gradient_batch=8 --set energy.enabled=false";
  };
  auto r = run_command("OMP_NUM_THREADS=1 " + args("one"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  r = run_command(kMpirun + args("two"));
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK_MESSAGE(r.output.find("eqsim mpi: mismatch batch of 4 tasks on 2 ranks") != std::string::npos, r.output);
  const std::string table = read_text(dir + "/one/mismatch.csv");
  CHECK(table.find("0.05,1,") != std::string::npos);
  CHECK(read_text(dir + "/two/mismatch.csv") == table);
  for (const char* npy : {"mismatch_sigma0.000_deploy.npy", "mismatch_sigma0.050_insitu.npy"}) {
    CAPTURE(npy);
    const std::string one = read_text(dir + "/one/samples/" + npy);
    CHECK(!one.empty());
    CHECK(read_text(dir + "/two/samples/" + npy) == one);
  }
}
