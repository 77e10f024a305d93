#pragma once
// The report a designer reads: plain structs in, Markdown text out.
#include <limits>
#include <string>
#include <vector>

#include "learn/gradcheck.hpp"
#include "metrics/quality.hpp"
#include "metrics/stats.hpp"
#include "study/results.hpp"

namespace eqsim::report {

struct LabelledQuality {
  std::string label;
  metrics::Quality quality;          // of the first sample set
  bool baseline = false;             // a baseline model (exact gradient, MLP) EP is compared with
  std::vector<double> frechet_sets;  // Frechet distance of each independent sample set (sampling seeds), at equal N
  std::vector<double> frechet_seeds;  // per training seed (train.seeds, when several): the mean over its sample sets
  double frechet_inf = std::numeric_limits<double>::quiet_NaN();  // the first set's, extrapolated to infinite N
};

struct TrainingRecord {
  std::string label, log_path;
};

struct Figure {
  std::string title, path;  // path relative to the report
  bool ok = false;
  std::string message;      // why it is missing
};

using study::EnergyBrief;
using study::CircuitCheckSummary;
using study::MismatchRow;

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
  // sigma where quality falls 10 %, with its interval over chips (mean NaN: not within the grid; hi inf: beyond it)
  metrics::Interval drop_sigma_deploy, drop_sigma_insitu;
  std::vector<Figure> mismatch_figures;
  CircuitCheckSummary circuit_check;     // empty rows: not run
  std::string circuit_check_device_model;
  std::vector<EnergyBrief> energy;
  std::vector<Figure> energy_figures;
  std::string failed_stage, failure;  // a stage that threw, and why
};

std::string quality_table(const std::vector<LabelledQuality>& rows);
std::string markdown(const RunReport& r);

}  // namespace eqsim::report
