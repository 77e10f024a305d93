#pragma once
// The work behind the subcommands, shared by `eqsim run`: each job reads and
// writes files in documented places and reports progress on stderr.
#include <Eigen/Core>
#include <string>
#include <vector>

#include "config/run_config.hpp"
#include "learn/gradcheck.hpp"
#include "metrics/quality.hpp"
#include "report/markdown.hpp"
#include "study/circuit_velocity.hpp"

namespace eqsim::study {

enum class TrainKind { energy, mlp };

struct TrainSummary {
  long steps = 0;
  double final_loss = 0;   // mean loss over the last 5 % of steps
  double wall_s = 0;       // this invocation's training time
  long resumed_from = 0;
};

// Trains into DIR: DIR/model/ (model.yaml + .npy), DIR/train_log.csv, DIR/checkpoint/.
// resume continues from DIR/checkpoint; without it an existing DIR/train_log.csv is an
// InputError (nothing already written is overwritten). estimator overrides the config's.
TrainSummary train_job(const config::RunConfig& cfg, const std::string& dir, TrainKind kind, bool resume);

// Trains into DIR unless a complete training is already there; continues a partial one.
void train_stage(const config::RunConfig& cfg, const std::string& dir, TrainKind kind);

// Generates samples from a model folder (energy network or MLP), 64 x n in [-1, 1].
Eigen::MatrixXd sample_job(const std::string& model_dir, const learn::SampleOptions& opt);

// The same with every velocity read from a circuit relaxation (energy networks, spring
// readout; circuit in the loop); a diffusion folder's annealed Langevin reads every
// score from the circuit at that noise level's bias-table column. Writes record_path (JSON: backend, device model,
// mismatch and noise seeds, temperature, relaxation window, settle statistics) and a
// not-settled count on stderr. When a relaxation fails it still writes the record
// (status "failed") and then throws SimulationOutcome. InputError for an MLP folder.
Eigen::MatrixXd sample_circuit_job(const std::string& model_dir, const learn::SampleOptions& opt,
                                   const CircuitVelocityOptions& circuit, const std::string& record_path);

// Quality of sets of samples (64 x n each) under the classifier trained on the real digits.
using report::LabelledQuality;
using report::quality_table;
std::vector<LabelledQuality> evaluate_job(const std::vector<std::pair<std::string, Eigen::MatrixXd>>& sets,
                                          const std::string& data_path);

// The gradient checker on a model folder or a freshly initialised network (CONFIG).
std::vector<learn::GradcheckRow> gradcheck_job(const config::RunConfig& cfg, const std::string& model_dir);

// The batches of a config's task: flow matching (with its pairing) or denoising.
learn::BatchSource batch_source(const config::RunConfig& cfg, const Eigen::MatrixXd& data);

// `source` with each step's batch drawn once and handed to every caller, from any thread
// and in any order: the chips of one model train on one batch stream, so its OT pairings
// are solved once rather than per chip. Keeps every batch drawn (2 x dim x B doubles each;
// 100 default steps: 26 MB).
learn::BatchSource shared_batches(learn::BatchSource source);

learn::AnnealedLangevinOptions diffusion_schedule(const config::RunConfig& cfg);

// A relative path as given if it exists, else relative to the project source folder.
std::string resolve_project_path(const std::string& path);

// Creates a folder (and parents) or throws InputError naming it.
void make_output_dir(const std::string& dir);

}  // namespace eqsim::study
