// `eqsim run`: the main job. Stages (each skipped on --resume when its output exists):
// train EP -> baselines (exact gradient, backprop MLP) -> samples -> quality ->
// gradient check -> circuit check (ode against spice) -> mismatch study -> energy ->
// report (report.md, report.html, summary.json). A stage that throws leaves a report
// naming it and why.
#include <Eigen/Core>
#include <cmath>
#include <filesystem>
#include <fmt/core.h>
#include <fstream>
#include <numeric>
#include <nlohmann/json.hpp>

#include "git_revision.hpp"
#include "backend/registry.hpp"
#include "study/circuit_check.hpp"
#include "study/energy_study.hpp"
#include "study/jobs.hpp"
#include "study/run.hpp"
#include "study/mismatch.hpp"
#include "config/model_dir.hpp"
#include "data/error.hpp"
#include "data/digits.hpp"
#include "data/npy.hpp"
#include "metrics/stats.hpp"
#include "report/figures.hpp"
#include "report/html.hpp"
#include "report/markdown.hpp"


namespace eqsim::study {
namespace fs = std::filesystem;
namespace {

Eigen::MatrixXd sample_stage(const std::string& model_dir, const learn::SampleOptions& opt, const std::string& out) {
  if (fs::exists(out)) return data::read_npy(out).transpose();
  Eigen::MatrixXd x = sample_job(model_dir, opt);
  data::write_npy(out, x.transpose());
  return x;
}

// Independent sample sets of one model: set k at sampling seed opt.seed + k, kept in
// STEM.npy (k = 0, the set the figures show) and STEM_set<k>.npy.
struct LabelledSets {
  std::string label;
  std::vector<Eigen::MatrixXd> sets;  // of the model trained at the first training seed
  bool baseline = false;
  std::vector<std::vector<Eigen::MatrixXd>> other_seeds;  // the sets of the models trained at train.seeds[1..]
};

LabelledSets sample_sets(const std::string& label, const std::string& model_dir, learn::SampleOptions opt, int n_sets,
                         const std::string& stem) {
  LabelledSets out;
  out.label = label;
  const unsigned long long seed = opt.seed;
  for (int k = 0; k < n_sets; ++k) {
    opt.seed = seed + static_cast<unsigned long long>(k);
    out.sets.push_back(sample_stage(model_dir, opt, k == 0 ? stem + ".npy" : fmt::format("{}_set{}.npy", stem, k)));
  }
  return out;
}

// Quality of each model's first set, the Frechet distance of every set (equal N) and the
// first set's distance extrapolated to infinite N.
std::vector<report::LabelledQuality> quality_over_sets(const std::vector<LabelledSets>& models, const std::string& data_path,
                                                       unsigned long long seed) {
  std::vector<std::pair<std::string, Eigen::MatrixXd>> flat;
  for (const auto& m : models) {
    for (const auto& x : m.sets) flat.emplace_back(m.label, x);
    for (const auto& sets : m.other_seeds)
      for (const auto& x : sets) flat.emplace_back(m.label, x);
  }
  const auto scored = evaluate_job(flat, data_path);
  const auto digits = data::load_digits(data_path);
  std::vector<report::LabelledQuality> rows;
  size_t i = 0;
  auto next_frechets = [&](size_t n) {  // the Frechet distances of the next n scored sets, in order
    std::vector<double> f;
    for (; f.size() < n; ++i) f.push_back(scored[i].quality.frechet_distance);
    return f;
  };
  auto mean = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()); };
  for (const auto& m : models) {
    report::LabelledQuality q = scored[i];
    q.baseline = m.baseline;
    q.frechet_sets = next_frechets(m.sets.size());
    if (m.sets.front().cols() >= 4 * 64)  // subsets of N/2 and more keep a full-rank covariance
      q.frechet_inf = metrics::frechet_extrapolated(m.sets.front(), digits.images, seed);
    if (!m.other_seeds.empty()) {
      q.frechet_seeds.push_back(mean(q.frechet_sets));
      for (const auto& sets : m.other_seeds) q.frechet_seeds.push_back(mean(next_frechets(sets.size())));
    }
    rows.push_back(q);
  }
  return rows;
}

report::Figure figure(const std::string& title, const std::string& file,
                      const report::FigureResult& res) {
  if (!res.ok) fmt::print(stderr, "warning: figure {}: {}\n", file, res.message);
  return report::Figure{title, "figures/" + file, res.ok, res.message};
}

nlohmann::json summary_json(const config::RunConfig& cfg, const report::RunReport& rep) {
  nlohmann::json j;
  j["name"] = cfg.name;
  j["config"] = cfg.source;
  j["git_revision"] = EQSIM_GIT_REVISION;
  j["train_seed"] = cfg.train.seed;
  j["train_seeds"] = cfg.training_seeds();
  j["versions"] = rep.versions;
  if (!rep.failed_stage.empty()) j["failed"] = {{"stage", rep.failed_stage}, {"message", rep.failure}};
  auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
  for (const auto& q : rep.quality)
    j["quality"][q.label] = {{"n", q.quality.n},
                             {"classes_covered", q.quality.classes_covered},
                             {"min_class_fraction", q.quality.min_class_fraction},
                             {"mean_confidence", q.quality.mean_confidence},
                             {"frechet_distance", q.quality.frechet_distance},
                             {"frechet_sets", q.frechet_sets},
                             {"frechet_training_seeds", q.frechet_seeds},
                             {"frechet_inf", number(q.frechet_inf)},
                             {"class_fraction", q.quality.class_fraction}};
  if (!rep.gradcheck.empty())
    for (auto e : {learn::Estimator::symmetric, learn::Estimator::one_sided})
      j["gradcheck"]["bias_slope_" + learn::to_string(e)] = learn::bias_slope(rep.gradcheck, e);
  if (!rep.mismatch.empty())
    j["mismatch"] = {{"quality_drop_10pct_sigma_deploy", number(rep.drop_sigma_deploy.mean)},
                     {"quality_drop_10pct_sigma_deploy_interval", {number(rep.drop_sigma_deploy.lo), number(rep.drop_sigma_deploy.hi)}},
                     {"quality_drop_10pct_sigma_insitu", number(rep.drop_sigma_insitu.mean)},
                     {"quality_drop_10pct_sigma_insitu_interval", {number(rep.drop_sigma_insitu.lo), number(rep.drop_sigma_insitu.hi)}},
                     {"chips", rep.drop_sigma_deploy.n},
                     {"table", "mismatch.csv"}};
  for (const auto& c : rep.circuit_check.rows)
    j["circuit_check"][c.backend] = {{"engine", c.engine},
                                     {"points", c.points},
                                     {"not_settled", c.not_settled},
                                     {"equilibrium_max_vs_ideal_model", c.equilibrium_max_vs_ideal},
                                     {"equilibrium_max_vs_first_model", c.equilibrium_max_vs_first},
                                     {"wall_s_per_relaxation", c.wall_s_per_relaxation}};
  for (const auto& e : rep.energy)
    j["energy"][e.device_model] = {{"batch", e.batch},
                                   {"analog_J_per_step", e.analog_J},
                                   {"gpu_backprop_J_per_step", e.gpu_backprop_J},
                                   {"gpu_ep_sim_J_per_step", e.gpu_ep_sim_J},
                                   {"ratio_gpu_backprop_to_analog", e.gpu_backprop_J / e.analog_J},
                                   {"ratio_gpu_ep_sim_to_analog", e.gpu_ep_sim_J / e.analog_J},
                                   {"gpu_backprop_binding", e.backprop_binding},
                                   {"gpu_backprop_binding_J_per_step", e.gpu_backprop_binding_J},
                                   {"ratio_binding_gpu_backprop_to_analog", e.gpu_backprop_binding_J / e.analog_J},
                                   {"gpu_ep_sim_binding", e.ep_sim_binding},
                                   {"gpu_ep_sim_binding_J_per_step", e.gpu_ep_sim_binding_J},
                                   {"ratio_binding_gpu_ep_sim_to_analog", e.gpu_ep_sim_binding_J / e.analog_J},
                                   {"analog_time_s_per_step", e.analog_time_s},
                                   {"gpu_backprop_time_s_per_step", e.gpu_backprop_time_s},
                                   {"ledger", e.ledger_path}};
  return j;
}

void write_report(const std::string& dir, const config::RunConfig& cfg, const report::RunReport& rep) {
  const std::string md = report::markdown(rep);
  data::write_text_atomic(dir + "/report.md", md);
  data::write_text_atomic(dir + "/report.html", report::markdown_to_html(md, "eqsim report: " + cfg.name));
  data::write_text_atomic(dir + "/summary.json", summary_json(cfg, rep).dump(2) + "\n");
}

// Train, sample and score the EP model and its baselines.
void models_stage(const std::string& dir, const config::RunConfig& cfg, report::RunReport& rep, std::string& stage) {
  struct Variant {
    std::string name, label;
    TrainKind kind;
    learn::Estimator estimator;
  };
  std::vector<Variant> variants{{"ep", "EP (" + learn::to_string(cfg.estimator) + ")", TrainKind::energy, cfg.estimator}};
  if (cfg.baselines.exact) variants.push_back({"exact", "energy model, exact gradient", TrainKind::energy, learn::Estimator::exact});
  if (cfg.baselines.mlp) variants.push_back({"mlp", "backprop MLP", TrainKind::mlp, cfg.estimator});

  const std::vector<unsigned long long> seeds = cfg.training_seeds();
  std::vector<LabelledSets> sets;
  for (const auto& v : variants) {
    // The first training seed keeps the plain folder (dir/ep/model feeds every later stage);
    // seed S of train.seeds[1..] trains into dir/NAME_seedS.
    for (size_t k = 0; k < seeds.size(); ++k) {
      config::RunConfig vc = cfg;
      vc.estimator = v.estimator;
      vc.train.seed = seeds[k];
      const std::string name = k == 0 ? v.name : fmt::format("{}_seed{}", v.name, seeds[k]);
      const std::string vdir = dir + "/" + name;
      stage = "train " + name;
      train_stage(vc, vdir, v.kind);
      stage = "sample " + name;
      LabelledSets s = sample_sets(v.label, vdir + "/model", cfg.sample, cfg.sample_sets, dir + "/samples/" + name);
      if (k > 0) {
        sets.back().other_seeds.push_back(std::move(s.sets));
        continue;
      }
      rep.training.push_back({v.label, vdir + "/train_log.csv"});
      sets.push_back(std::move(s));
      sets.back().baseline = v.name != "ep";
    }
  }
  stage = "sample ep (t_end 1.2, energy-gradient readout)";
  learn::SampleOptions extended = cfg.sample;
  extended.t_end = 1.2;
  sets.push_back(sample_sets("EP, t_end 1.2", dir + "/ep/model", extended, cfg.sample_sets, dir + "/samples/ep_t1.2"));
  learn::SampleOptions gradient_readout = cfg.sample;
  gradient_readout.readout = learn::Readout::energy_gradient;
  sets.push_back(sample_sets("EP, energy-gradient readout", dir + "/ep/model", gradient_readout, cfg.sample_sets,
                             dir + "/samples/ep_energy_gradient"));
  stage = "quality";
  rep.quality = quality_over_sets(sets, cfg.data_path, cfg.sample.seed);
  fmt::print("{}", quality_table(rep.quality));

  std::vector<report::Series> logs;
  for (const auto& t : rep.training) logs.push_back({t.label, t.log_path});
  rep.training_figures.push_back(figure("Training curves", "training_curves.png",
                                        report::plot_training_curves(logs, dir + "/figures/training_curves.png")));
  for (size_t k = 0; k < sets.size(); ++k) {
    const std::string file = fmt::format("samples_{}.png", k);
    rep.sample_figures.push_back(figure("Samples: " + sets[k].label, file,
                                        report::plot_digit_grid(sets[k].sets.front(), 8, 12, sets[k].label, dir + "/figures/" + file)));
  }
}

void gradcheck_stage(const std::string& dir, const config::RunConfig& cfg, report::RunReport& rep) {
  const std::string gc_path = dir + "/gradcheck.csv";
  rep.gradcheck = gradcheck_job(cfg, dir + "/ep/model");  // cheap to recompute; keeps the report whole
  if (!fs::exists(gc_path)) data::write_text_atomic(gc_path, learn::gradcheck_csv(rep.gradcheck));
  rep.gradcheck_figures.push_back(figure("EP gradient error vs beta", "gradcheck.png",
                                         report::plot_gradcheck(rep.gradcheck, dir + "/figures/gradcheck.png")));
}

void circuit_check_stage(const std::string& dir, const config::RunConfig& cfg, report::RunReport& rep) {
  const std::string csv = dir + "/circuit_check.csv";
  if (fs::exists(csv)) {
    rep.circuit_check = read_circuit_check_csv(csv);
  } else {
    CircuitCheckOptions co;
    co.model_dir = dir + "/ep/model";
    co.data_path = cfg.data_path;
    co.device_model = resolve_project_path(cfg.circuit_check.device_model);
    co.backends = cfg.circuit_check.backends;
    co.points = cfg.circuit_check.points;
    co.window_tau = cfg.circuit_check.window_tau;
    co.seed = cfg.sample.seed;
    rep.circuit_check = circuit_check(co);
    data::write_text_atomic(csv, circuit_check_csv(rep.circuit_check));
  }
  rep.circuit_check_device_model = cfg.circuit_check.device_model;
}

void mismatch_stage(const std::string& dir, const config::RunConfig& cfg, report::RunReport& rep) {
  const auto& ms = cfg.mismatch;
  const std::string csv = dir + "/mismatch.csv";
  if (fs::exists(csv)) {
    rep.mismatch = read_mismatch_csv(csv);
  } else {
    rep.mismatch = mismatch_study(cfg, dir + "/run_config.yaml", dir + "/ep/model", dir + "/samples");
    data::write_text_atomic(csv, mismatch_csv(rep.mismatch));
  }
  rep.drop_sigma_deploy = quality_drop_sigma_interval(rep.mismatch, false, cfg.train.seed);
  rep.drop_sigma_insitu = quality_drop_sigma_interval(rep.mismatch, true, cfg.train.seed);
  rep.mismatch_settings = fmt::format(
      "The EP model on chips of `{}` with every device's relative mismatch set to sigma (transconductor gain, "
      "resistors, capacitors; input offsets sigma x v_unit), {} chips (mismatch seeds) per sigma, thermal noise off and "
      "at {} K (each reading carries the circuit's own thermal fluctuation about the relaxed state, the linearised node "
      "dynamics' noise, correlated across coupled nodes as the Lyapunov covariance says), relaxed by the circuit-equivalent model "
      "(the netlister's node equations with every device's draw; checked against the ode backend in test_circuit). "
      "*Deploy*: the ideal-trained weights programmed as they are. *In situ*: the same chip then trains itself by EP "
      "for {} steps (batch {}), every phase relaxed and every product read on the chip. Each reading is a single one, "
      "unquantised, and the weights are analog values: the study isolates mismatch and thermal noise (`eqsim explore` adds "
      "the ADC, averaged readings and weight codes). Quality from {} samples per chip; "
      "EP cosine (the config's relaxation budget) and equilibrium error on a batch of {}; settle time of the free phase "
      "to {} model units (median and max over 8 samples).",
      ms.device_model, ms.seeds, ms.temperature_K, ms.insitu_steps, cfg.train.batch_size, ms.samples, ms.gradient_batch,
      ms.settle_tol);
  rep.mismatch_figures.push_back(figure("Fidelity vs mismatch", "mismatch.png",
                                        report::plot_mismatch(rep.mismatch, dir + "/figures/mismatch.png")));
  for (double sigma : ms.sigmas)
    for (bool insitu : {false, true}) {
      const std::string npy = mismatch_samples_path(dir + "/samples", sigma, insitu);
      if (!fs::exists(npy)) continue;
      const std::string title = fmt::format("Samples on chip 0 at sigma {:.0f} %, {}", 100 * sigma, insitu ? "in situ" : "deployed");
      const std::string file = fs::path(npy).stem().string() + ".png";
      rep.mismatch_figures.push_back(figure(title, file,
                                            report::plot_digit_grid(data::read_npy(npy).transpose(), 4, 12, title, dir + "/figures/" + file)));
    }
}

void energy_stage(const std::string& dir, const config::RunConfig& cfg, report::RunReport& rep) {
  make_output_dir(dir + "/energy");
  for (const auto& dm : cfg.energy.device_models) {
    const std::string stem = fs::path(dm).stem().string();
    const std::string out = dir + "/energy/ledger_" + stem + ".json";
    const bool sensitivity = cfg.energy.sensitivity && rep.energy.empty();  // the first device model's
    EnergyOptions eo;
    eo.model_dir = dir + "/ep/model";
    eo.device_model = resolve_project_path(dm);
    eo.baseline = resolve_project_path(cfg.energy.baseline);
    eo.out = out;
    eo.data_path = cfg.data_path;
    eo.sensitivity = sensitivity;
    const auto e = energy_study(eo);  // the training step the model records
    const auto& l = e.ledger;
    rep.energy.push_back({dm, "energy/ledger_" + stem + ".json", e.step.batch, l.analog_J_per_step,
                          l.gpu_backprop_J_per_step, l.gpu_ep_sim_J_per_step, l.backprop.binding(), l.ep_sim.binding(),
                          l.backprop.binding_J(), l.ep_sim.binding_J(), l.analog_time_s_per_step,
                          l.backprop.binding_time_s()});
    for (const auto& [suffix, title] : {std::pair<std::string, std::string>{"_breakdown.png", "Energy breakdown"},
                                        {"_sensitivity.png", "Sensitivity of the GPU / analog ratio"}})
      if (suffix == "_breakdown.png" || sensitivity)
        rep.energy_figures.push_back({title + " (" + stem + ")", "energy/ledger_" + stem + suffix,
                                    fs::exists(dir + "/energy/ledger_" + stem + suffix), "gnuplot failed"});
  }
}

}  // namespace

std::string git_revision() { return EQSIM_GIT_REVISION; }

std::vector<std::string> versions() {
  std::vector<std::string> v{fmt::format("Eigen {}.{}.{}", EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION)};
  for (const auto& b : backend::backend_names()) {
    try {
      const auto backend = backend::make_backend(b);
      v.push_back(fmt::format("backend {}: {}", backend->name(), backend->version()));
    } catch (const std::exception& e) {
      v.push_back(fmt::format("backend {}: unavailable ({})", b, e.what()));
    }
  }
  return v;
}

RunSummary run(const RunOptions& args) {
  const auto cfg = config::load_run_config(args.config, args.sets);
  const std::string dir = args.out.empty() ? "reports/" + cfg.name : args.out;
  if (fs::exists(dir + "/run_config.yaml") && !args.resume)
    throw InputError(dir, "", "a run is already here; pass --resume to continue it or choose another --out");
  make_output_dir(dir);
  make_output_dir(dir + "/samples");
  make_output_dir(dir + "/figures");
  data::write_text_atomic(dir + "/run_config.yaml", config::dump_run_config(args.config, args.sets));
  fmt::print(stderr, "eqsim run '{}' -> {}\n", cfg.name, dir);

  report::RunReport rep;
  rep.name = cfg.name;
  rep.config_source = cfg.source;
  rep.git_revision = EQSIM_GIT_REVISION;
  rep.train_steps = cfg.train.steps;
  rep.batch_size = cfg.train.batch_size;
  rep.seed = cfg.train.seed;
  rep.versions = versions();
  std::string stage = "start";
  try {
    models_stage(dir, cfg, rep, stage);
    stage = "gradient check";
    gradcheck_stage(dir, cfg, rep);
    if (cfg.circuit_check.enabled) {
      stage = "circuit check";
      circuit_check_stage(dir, cfg, rep);
    }
    if (cfg.mismatch.enabled) {
      stage = "mismatch study";
      mismatch_stage(dir, cfg, rep);
    }
    if (cfg.energy.enabled) {
      stage = "energy";
      energy_stage(dir, cfg, rep);
    }
  } catch (const std::exception& e) {
    rep.failed_stage = stage;
    rep.failure = e.what();
    write_report(dir, cfg, rep);
    fmt::print(stderr, "eqsim run: stage '{}' failed; the report in {} says so\n", stage, dir);
    throw;
  }
  write_report(dir, cfg, rep);
  return {dir};
}

}  // namespace eqsim::study
