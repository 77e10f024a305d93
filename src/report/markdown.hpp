#pragma once
// The report a designer reads: plain structs in, Markdown text out.
#include <string>
#include <vector>

#include "learn/gradcheck.hpp"
#include "metrics/quality.hpp"

namespace eqsim::report {

struct LabelledQuality {
  std::string label;
  metrics::Quality quality;
};

struct TrainingRecord {
  std::string label, log_path;
};

struct Figure {
  std::string title, path;  // path relative to the report
  bool ok = false;
  std::string message;      // why it is missing
};

// One chip of the fidelity-vs-mismatch study (cli/mismatch_study.hpp).
struct MismatchRow {
  double sigma = 0;
  int seed = 0;
  bool noise = false;
  metrics::Quality deploy, insitu;  // ideal-trained weights deployed; then trained in situ on the chip
  double gradient_cosine = 0;       // EP on the chip vs the ideal network's exact gradient
  double equilibrium_rms = 0;       // free equilibrium, chip vs ideal, model units
  double settle_time_median_s = 0, settle_time_max_s = 0;
};

// One device model's energy ledger (eqsim energy), as the report quotes it.
struct EnergySummary {
  std::string device_model, ledger_path;
  double analog_J = 0, gpu_backprop_J = 0, gpu_ep_sim_J = 0;
};

struct RunReport {
  std::string name, config_source, git_revision;
  long train_steps = 0;
  int batch_size = 0;
  unsigned long long seed = 0;
  std::vector<TrainingRecord> training;
  std::vector<LabelledQuality> quality;
  std::vector<learn::GradcheckRow> gradcheck;
  std::vector<Figure> training_figures, sample_figures, gradcheck_figures;
  std::vector<std::string> versions;  // libraries and backends
  std::vector<MismatchRow> mismatch;
  std::string mismatch_settings;
  double drop_sigma_deploy = 0, drop_sigma_insitu = 0;  // NaN: no 10 % drop within the grid
  std::vector<Figure> mismatch_figures;
  std::vector<EnergySummary> energy;
  std::vector<Figure> energy_figures;
  std::string failed_stage, failure;  // a stage that threw, and why
};

std::string quality_table(const std::vector<LabelledQuality>& rows);
std::string markdown(const RunReport& r);

}  // namespace eqsim::report
