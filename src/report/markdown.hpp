#pragma once
// The report a designer reads: plain structs in, Markdown text out.
#include <string>
#include <vector>

#include "learn/gradcheck.hpp"
#include "metrics/quality.hpp"
#include "study/results.hpp"

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
  double drop_sigma_deploy = 0, drop_sigma_insitu = 0;  // NaN: no 10 % drop within the grid
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
