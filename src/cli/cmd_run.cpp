// `eqsim run`: the main job. Stages (each skipped on --resume when its output exists):
// train EP -> baselines (exact gradient, backprop MLP) -> samples -> quality ->
// gradient check -> report (report.md, summary.json).
#include <filesystem>
#include <fmt/core.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/jobs.hpp"
#include "config/model_dir.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"
#include "report/figures.hpp"
#include "report/html.hpp"
#include "report/markdown.hpp"

#ifndef EQSIM_GIT_REVISION
#define EQSIM_GIT_REVISION "unknown"
#endif

namespace eqsim::cli {
namespace fs = std::filesystem;
namespace {

struct RunArgs {
  std::string config, out;
  std::vector<std::string> sets;
  bool resume = false;
};

bool training_complete(const std::string& dir, long steps) {
  std::ifstream log(dir + "/train_log.csv");
  std::string line, last;
  while (std::getline(log, line))
    if (!line.empty()) last = line;
  return fs::exists(dir + "/model/model.yaml") && !last.empty() && last[0] != 's' &&
         std::stol(last.substr(0, last.find(','))) >= steps;
}

// Trains unless a complete run is already there; continues a partial one.
void train_stage(const config::RunConfig& cfg, const std::string& dir, TrainKind kind) {
  if (training_complete(dir, cfg.train.steps)) {
    fmt::print(stderr, "{}: training already complete, skipped\n", dir);
    return;
  }
  train_job(cfg, dir, kind, fs::exists(dir + "/train_log.csv"));
}

Eigen::MatrixXd sample_stage(const std::string& model_dir, const learn::SampleOptions& opt, const std::string& out) {
  if (fs::exists(out)) return data::read_npy(out).transpose();
  Eigen::MatrixXd x = sample_job(model_dir, opt);
  data::write_npy(out, x.transpose());
  return x;
}

void run(const RunArgs& args) {
  const auto cfg = config::load_run_config(args.config, args.sets);
  const std::string dir = args.out.empty() ? "reports/" + cfg.name : args.out;
  if (fs::exists(dir + "/run_config.yaml") && !args.resume)
    throw InputError(dir, "", "a run is already here; pass --resume to continue it or choose another --out");
  make_output_dir(dir);
  make_output_dir(dir + "/samples");
  data::write_text_atomic(dir + "/run_config.yaml", config::dump_run_config(args.config, args.sets));
  fmt::print(stderr, "eqsim run '{}' -> {}\n", cfg.name, dir);

  report::RunReport rep;
  rep.name = cfg.name;
  rep.config_source = cfg.source;
  rep.git_revision = EQSIM_GIT_REVISION;
  rep.train_steps = cfg.train.steps;
  rep.batch_size = cfg.train.batch_size;
  rep.seed = cfg.train.seed;

  struct Variant {
    std::string name, label;
    TrainKind kind;
    learn::Estimator estimator;
  };
  std::vector<Variant> variants{{"ep", "EP (" + learn::to_string(cfg.estimator) + ")", TrainKind::energy, cfg.estimator}};
  if (cfg.baselines.exact) variants.push_back({"exact", "energy model, exact gradient", TrainKind::energy, learn::Estimator::exact});
  if (cfg.baselines.mlp) variants.push_back({"mlp", "backprop MLP", TrainKind::mlp, cfg.estimator});

  std::vector<std::pair<std::string, Eigen::MatrixXd>> sets;
  for (const auto& v : variants) {
    config::RunConfig vc = cfg;
    vc.estimator = v.estimator;
    const std::string vdir = dir + "/" + v.name;
    train_stage(vc, vdir, v.kind);
    sets.emplace_back(v.label, sample_stage(vdir + "/model", cfg.sample, dir + "/samples/" + v.name + ".npy"));
    rep.training.push_back({v.label, vdir + "/train_log.csv"});
  }
  learn::SampleOptions extended = cfg.sample;
  extended.t_end = 1.2;
  sets.emplace_back("EP, t_end 1.2", sample_stage(dir + "/ep/model", extended, dir + "/samples/ep_t1.2.npy"));
  learn::SampleOptions gradient_readout = cfg.sample;
  gradient_readout.readout = learn::Readout::energy_gradient;
  sets.emplace_back("EP, energy-gradient readout", sample_stage(dir + "/ep/model", gradient_readout, dir + "/samples/ep_energy_gradient.npy"));
  rep.quality = evaluate_job(sets, cfg.data_path);
  fmt::print("{}", quality_table(rep.quality));

  const std::string gc_path = dir + "/gradcheck.csv";
  if (!fs::exists(gc_path)) {
    rep.gradcheck = gradcheck_job(cfg, dir + "/ep/model");
    data::write_text_atomic(gc_path, learn::gradcheck_csv(rep.gradcheck));
  } else {
    rep.gradcheck = gradcheck_job(cfg, dir + "/ep/model");  // cheap to recompute; keeps the report whole
  }

  make_output_dir(dir + "/figures");
  auto figure = [&](const std::string& title, const std::string& file, const report::FigureResult& res) {
    if (!res.ok) fmt::print(stderr, "warning: figure {}: {}\n", file, res.message);
    return report::Figure{title, "figures/" + file, res.ok, res.message};
  };
  std::vector<report::Series> logs;
  for (const auto& t : rep.training) logs.push_back({t.label, t.log_path});
  rep.training_figures.push_back(figure("Training curves", "training_curves.png",
                                        report::plot_training_curves(logs, dir + "/figures/training_curves.png")));
  for (size_t k = 0; k < sets.size(); ++k) {
    const std::string file = fmt::format("samples_{}.png", k);
    rep.sample_figures.push_back(figure("Samples: " + sets[k].first, file,
                                        report::plot_digit_grid(sets[k].second, 8, 12, sets[k].first, dir + "/figures/" + file)));
  }
  rep.gradcheck_figures.push_back(figure("EP gradient error vs beta", "gradcheck.png",
                                         report::plot_gradcheck(rep.gradcheck, dir + "/figures/gradcheck.png")));
  const std::string md = report::markdown(rep);
  data::write_text_atomic(dir + "/report.md", md);
  data::write_text_atomic(dir + "/report.html", report::markdown_to_html(md, "eqsim report: " + cfg.name));
  nlohmann::json j;
  j["name"] = cfg.name;
  j["config"] = cfg.source;
  j["git_revision"] = EQSIM_GIT_REVISION;
  j["train_seed"] = cfg.train.seed;
  for (const auto& q : rep.quality)
    j["quality"][q.label] = {{"n", q.quality.n},
                             {"classes_covered", q.quality.classes_covered},
                             {"min_class_fraction", q.quality.min_class_fraction},
                             {"mean_confidence", q.quality.mean_confidence},
                             {"frechet_distance", q.quality.frechet_distance},
                             {"class_fraction", q.quality.class_fraction}};
  for (auto e : {learn::Estimator::symmetric, learn::Estimator::one_sided})
    j["gradcheck"]["bias_slope_" + learn::to_string(e)] = learn::bias_slope(rep.gradcheck, e);
  data::write_text_atomic(dir + "/summary.json", j.dump(2) + "\n");
  fmt::print("report: {0}/report.html ({0}/report.md), summary: {0}/summary.json\n", dir);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "The main job: train, baselines, samples, quality, gradient check, report");
  auto args = std::make_shared<RunArgs>();
  cmd->add_option("config", args->config, "YAML config (default: the embedded default, configs/default.yaml)");
  cmd->add_option("--out", args->out, "output folder (default: reports/<run name>)");
  cmd->add_option("--set", args->sets, "override a config key: path.to.key=value (repeatable)");
  cmd->add_flag("--resume", args->resume, "continue a killed run in the same folder");
  cmd->callback([args] { run(*args); });
}

}  // namespace eqsim::cli
