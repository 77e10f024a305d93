// eqsim: a thin main. Subcommands live in cmd_*.cpp; exit codes per DESIGN.md §8:
// 0 success, 2 bad input, 1 internal failure or a simulation outcome short of the
// request (SimulationOutcome, e.g. a circuit that did not settle). Started by mpirun or
// srun (and only then) it joins MPI (study/mpi): rank 0 runs the command and spreads the
// studies' task batches over the ranks; the other ranks compute what rank 0 sends.
#include <Eigen/Core>
#include <iostream>

#include "cli/commands.hpp"
#include "study/explore.hpp"
#include "study/mismatch.hpp"
#include "study/mpi/mpi_session.hpp"
#include "study/outcome.hpp"
#include "study/run.hpp"
#include "data/error.hpp"
#include "model/allocator.hpp"

namespace {

int run_command_line(int argc, char** argv) {
  CLI::App app{"eqsim: co-design analog hardware that trains itself with Equilibrium Propagation"};
  std::string version = std::string("eqsim ") + EQSIM_VERSION + " (git " + eqsim::study::git_revision() + ")";
  for (const auto& v : eqsim::study::versions()) version += "\n" + v;
  version += "\nMPI (under mpirun/srun): " + eqsim::study::mpi::library_version();
  app.set_version_flag("--version", version, "print eqsim's version, git revision and library/engine versions");
  app.require_subcommand(1);
  eqsim::cli::add_train_command(app);
  eqsim::cli::add_sample_command(app);
  eqsim::cli::add_evaluate_command(app);
  eqsim::cli::add_gradcheck_command(app);
  eqsim::cli::add_run_command(app);
  eqsim::cli::add_relax_command(app);
  eqsim::cli::add_netlist_command(app);
  eqsim::cli::add_energy_command(app);
  eqsim::cli::add_explore_command(app);
  eqsim::cli::add_characterize_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const eqsim::InputError& e) {
    std::cerr << "eqsim: error: " << e.what() << "\n";
    return 2;
  } catch (const eqsim::study::SimulationOutcome& e) {
    std::cerr << "eqsim: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "eqsim: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Eigen::setNbThreads(1);  // parallel work runs in column chunks (model::column_chunks)
  eqsim::model::keep_freed_memory();
  if (!eqsim::study::mpi::launched_by_mpi()) return run_command_line(argc, argv);
  eqsim::study::mpi::Session mpi(argc, argv);
  if (mpi.rank() > 0)
    return mpi.serve({{"explore", eqsim::study::explore_worker}, {"mismatch", eqsim::study::mismatch_worker}});
  eqsim::study::set_task_executor(mpi.executor());
  return mpi.finish(run_command_line(argc, argv));
}
