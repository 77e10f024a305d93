#pragma once
// The fidelity-vs-mismatch study of `eqsim run` (DESIGN.md §6):
// for each relative mismatch sigma, chip (mismatch seed) and noise setting, the
// trained EP model's chip is drawn (circuit::draw_factors, as the netlister draws it)
// and relaxed by the circuit-equivalent model (circuit/equivalent.hpp). The training
// step (estimator, beta, budgets, batch, Adam) is the model folder's training record;
// a flow model is sampled by its flow, a diffusion model by annealed Langevin over the
// noise schedule its folder records (every score read on the chip). Two strategies:
//   deploy:  the ideal-trained weights programmed as they are;
//   in situ: the same chip then trains itself by EP for insitu_steps steps, every
//            phase relaxed and every product read on the mismatched (noisy) circuit.
// Per chip: sample quality of both strategies, the EP gradient measured on the chip
// against the ideal network's exact gradient (cosine), the equilibrium error against
// the ideal network and the settling time of the node dynamics.
#include <string>
#include <vector>

#include "config/run_config.hpp"
#include "metrics/stats.hpp"
#include "report/markdown.hpp"
#include "study/tasks.hpp"

namespace eqsim::study {

using report::MismatchRow;

// Runs the study on the EP model in model_dir; progress on stderr. The samples of the
// first noiseless chip of each sigma go to mismatch_samples_path(samples_dir, ...).
// The chips are a TaskBatch of kind "mismatch" (study/tasks.hpp): under MPI other ranks
// evaluate them from the model folder and config_as_run (the YAML cfg was parsed from,
// DIR/run_config.yaml), and every file is written here.
std::vector<MismatchRow> mismatch_study(const config::RunConfig& cfg, const std::string& config_as_run,
                                        const std::string& model_dir, const std::string& samples_dir);
// On a worker rank: the study's chip evaluation from the batch's shared state.
TaskFunction mismatch_worker(const std::string& shared);
std::string mismatch_samples_path(const std::string& samples_dir, double sigma, bool insitu);

// One row per chip: sigma,seed,mismatch_seed,noise,deploy_*,insitu_*,gradient_cosine,equilibrium_rms,settle_time_*_s.
std::string mismatch_csv(const std::vector<MismatchRow>& rows);
std::vector<MismatchRow> read_mismatch_csv(const std::string& path);

// The smallest sigma (linear interpolation of the seed mean, noiseless rows) at which
// the Frechet distance exceeds the sigma = 0 one by `rise` (0.1: 10 %); NaN when it never does.
double quality_drop_sigma(const std::vector<MismatchRow>& rows, bool insitu, double rise = 0.1);

// The same with its 95 % interval over chips (n: chips): a seeded percentile bootstrap
// resampling chips, each with its rows at every sigma (chip k is the same draw at every
// sigma). A resample whose quality never falls within the grid counts as beyond it:
// hi = +inf then (and mean = NaN when the full set never falls).
metrics::Interval quality_drop_sigma_interval(const std::vector<MismatchRow>& rows, bool insitu, unsigned long long seed,
                                              double rise = 0.1);

}  // namespace eqsim::study
