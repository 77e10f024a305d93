#include "study/explore.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

#include "backend/registry.hpp"
#include "config/device_model_yaml.hpp"
#include "config/energy_yaml.hpp"
#include "config/model_dir.hpp"
#include "data/digits.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"
#include "metrics/stats.hpp"
#include "report/figures.hpp"
#include "report/html.hpp"
#include "study/chip.hpp"
#include "study/energy_study.hpp"
#include "study/jobs.hpp"
#include "study/progress.hpp"
#include "study/run.hpp"

namespace eqsim::study {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// One (point, chip) task; its name (p3_c7) is its task file's stem.
struct ExploreTask {
  int point = 0, chip = 0;
};

std::string task_name(const ExploreTask& t) { return fmt::format("p{}_c{}", t.point, t.chip); }

ExploreTask parse_task_name(const std::string& name) {
  ExploreTask t;
  char end = 0;
  if (std::sscanf(name.c_str(), "p%d_c%d%c", &t.point, &t.chip, &end) != 2)
    throw std::runtime_error("not an exploration task: " + name);
  return t;
}

const char* const kTrainingPrefixes[] = {"train.", "network.", "relax.", "nudged_relax.", "task", "diffusion."};

bool is_training_key(const std::string& key) {
  for (const char* p : kTrainingPrefixes)
    if (key.rfind(p, 0) == 0) return true;
  return false;
}

std::string number(double v) { return fmt::format("{:.17g}", v); }

// The design's points: each a value per axis, in axis order.
std::vector<std::vector<double>> design_points(const config::ExploreOptions& e) {
  std::vector<std::vector<double>> pts{{}};
  if (e.design == "grid") {
    for (const auto& a : e.axes) {
      std::vector<std::vector<double>> next;
      for (const auto& p : pts)
        for (double v : a.values) {
          auto q = p;
          q.push_back(v);
          next.push_back(std::move(q));
        }
      pts = std::move(next);
    }
    return pts;
  }
  // Latin hypercube: per axis a seeded permutation of the n strata, a uniform draw in each.
  const int n = e.points;
  pts.assign(static_cast<size_t>(n), {});
  for (size_t k = 0; k < e.axes.size(); ++k) {
    const auto& a = e.axes[k];
    std::mt19937_64 rng(e.seed * 1000003ULL + k);
    std::vector<int> perm(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    for (int i = 0; i < n; ++i) {
      const double f = (perm[static_cast<size_t>(i)] + u01(rng)) / n;
      double v;
      if (a.scale == "lin") v = a.lo + f * (a.hi - a.lo);
      else if (a.scale == "log") v = a.lo * std::pow(a.hi / a.lo, f);
      else v = a.values[std::min(a.values.size() - 1, static_cast<size_t>(f * static_cast<double>(a.values.size())))];
      pts[static_cast<size_t>(i)].push_back(v);
    }
  }
  return pts;
}

// Everything a point's chips share, loaded once.
struct Point {
  config::RunConfig cfg;            // base config + the point's run-config values (train section: the record's)
  std::string device_path;          // the point's device model (DIR/explore/points/pK_device.yaml)
  circuit::DeviceModel dm;          // with the point's relative mismatch
  energy::EnergyParams ep;
  int model = 0;                    // index into the trained models
  std::vector<double> values;       // per axis
};

struct Model {
  std::string dir;                  // DIR/explore/models/mK (model/, train_log.csv)
  model::Network net;
  learn::TrainingRecord record;
  learn::AnnealedLangevinOptions schedule;  // a diffusion model's; no sigmas for a flow model
  double ideal_frechet = 0;
  learn::BatchSource insitu_batches;  // the record's batch stream, drawn once for all the model's chips
};

// The significant digits (3 to 6) at which the distinct values of v print distinctly: the
// points' energies may differ only in their weight writes, a few parts in 10^4, and the
// Pareto column must be readable against them.
int digits_to_tell_apart(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  for (int d = 3; d < 6; ++d) {
    std::vector<std::string> shown;
    for (double x : v) shown.push_back(fmt::format("{:.{}g}", x, d));
    if (std::adjacent_find(shown.begin(), shown.end()) == shown.end()) return d;
  }
  return 6;
}

class Exploration {
 public:
  // A worker (explore_worker) finds its models in DIR and trains nothing.
  Exploration(const ExploreOptions& opt, bool worker = false) : opt_(opt), worker_(worker) {
    base_ = config::load_run_config(opt.config, opt.sets);
    e_ = base_.explore;
    if (opt.out.empty()) throw InputError("command line", "--out", "eqsim explore needs an output folder");
    dir_ = opt.out;
    source_ = base_.source;
    backend::make_backend(e_.backend, "explore.backend", source_);  // InputError for an unknown name
  }

  ExploreSummary run(const TaskExecutor& executor) {
    prepare();
    std::vector<ExploreTask> todo;
    for (int k = 0; k < static_cast<int>(points_.size()); ++k)
      for (int c = 0; c < e_.chips; ++c)
        if (!fs::exists(task_path({k, c}))) todo.push_back({k, c});
    const long total = static_cast<long>(points_.size()) * e_.chips;
    fmt::print(stderr, "eqsim explore: {} points x {} chips = {} tasks, {} to run\n", points_.size(), e_.chips, total, todo.size());
    ProgressLine progress("explore", static_cast<long>(todo.size()));
    long done = 0;
    TaskBatch batch;
    batch.kind = "explore";
    for (const auto& t : todo) batch.tasks.push_back(task_name(t));
    batch.shared = [this] { return shared_state(); };
    batch.compute = [this](const std::string& name) { return compute(name); };
    batch.store = [&](size_t i, const std::string& result) {
      data::write_text_atomic(task_path(todo[i]), result);
      progress.update(++done, fmt::format("point {} chip {}", todo[i].point, todo[i].chip));
    };
    run_tasks(batch, executor);
    progress.finish();
    load_results();
    ledgers();
    ExploreSummary sum{dir_, static_cast<int>(points_.size()), total, static_cast<long>(todo.size()), ""};
    sum.answer = write_outputs();
    return sum;
  }

  // Points and trained models, what every task reads.
  void prepare() {
    prepare_dir();
    make_points();
    train_models();
  }

  // A task's result: its task file's text.
  std::string compute(const std::string& task_name) const {
    const ExploreTask t = parse_task_name(task_name);
    const ChipResult r = evaluate(t);
    json j{{"point", t.point}, {"chip", t.chip}, {"seed", r.mismatch_seed}};
    if (r.has_deploy) j["deploy"] = metrics_json(r.deploy);
    if (r.has_insitu) j["insitu"] = metrics_json(r.insitu);
    return j.dump(2) + "\n";
  }

  // What a worker needs besides the inputs: the config as run and the trained models
  // (model folders and reference samples' distance; no checkpoints).
  std::string shared_state() const {
    Bundle files{{"run_config.yaml", config::dump_run_config(opt_.config, opt_.sets)}};
    for (auto& [name, bytes] : read_tree(edir() + "/models", {"checkpoint"})) files["explore/models/" + name] = std::move(bytes);
    return pack(files);
  }

 private:
  std::string edir() const { return dir_ + "/explore"; }
  std::string task_path(const ExploreTask& t) const { return edir() + "/tasks/" + task_name(t) + ".json"; }

  void prepare_dir() {
    if (fs::exists(edir() + "/design.csv") && !opt_.resume)
      throw InputError(dir_, "", "an exploration is already here; pass --resume to continue it or choose another --out");
    for (const auto& d : {dir_, edir(), edir() + "/tasks", edir() + "/points", edir() + "/models", dir_ + "/figures"})
      make_output_dir(d);
    data::write_text_atomic(dir_ + "/run_config.yaml", config::dump_run_config(opt_.config, opt_.sets));
  }

  void make_points() {
    const auto pts = design_points(e_);
    const std::string dm_path = resolve_project_path(e_.device_model);
    std::map<std::string, int> models;  // training signature -> model index
    std::string design = "point";
    for (const auto& a : e_.axes) design += "," + a.key;
    design += "\n";
    for (size_t k = 0; k < pts.size(); ++k) {
      std::vector<std::string> sets = opt_.sets;
      std::vector<std::pair<std::string, double>> device;
      std::string signature;
      design += std::to_string(k);
      for (size_t i = 0; i < e_.axes.size(); ++i) {
        const auto& a = e_.axes[i];
        design += "," + fmt::format("{:.6g}", pts[k][i]);
        if (a.device) {
          device.emplace_back(a.key.substr(7), pts[k][i]);
          continue;
        }
        sets.push_back(a.key + "=" + number(pts[k][i]));
        if (is_training_key(a.key)) signature += a.key + "=" + number(pts[k][i]) + ";";
      }
      design += "\n";
      Point p;
      p.values = pts[k];
      p.cfg = config::load_run_config(opt_.config, sets);  // InputError names an unknown run-config axis key
      p.device_path = fmt::format("{}/points/p{}_device.yaml", edir(), k);
      data::write_text_atomic(p.device_path,
                              config::device_model_with(dm_path, device, "explore axis value", source_, "explore.axes.device."));
      p.dm = circuit::with_relative_mismatch(config::load_device_model(p.device_path), p.cfg.explore.sigma);
      p.ep = config::load_energy_params(p.device_path);
      const auto [it, fresh] = models.emplace(signature, static_cast<int>(models.size()));
      p.model = it->second;
      if (fresh) model_cfgs_.push_back(p.cfg);
      points_.push_back(std::move(p));
    }
    data::write_text_atomic(edir() + "/design.csv", design);
  }

  void train_models() {
    digits_ = data::load_digits(base_.data_path);
    clf_ = std::make_unique<metrics::DigitClassifier>(digits_);
    for (size_t m = 0; m < model_cfgs_.size(); ++m) {
      const std::string dir = fmt::format("{}/models/m{}", edir(), m);
      if (!worker_) train_stage(model_cfgs_[m], dir, TrainKind::energy);  // once per training signature, resumable
      Model md{dir, config::load_model_dir(dir + "/model"), *config::load_training_record(dir + "/model"),
               config::load_diffusion_schedule(dir + "/model"), 0, {}};
      const std::string ref = md.dir + "/reference.json";
      if (fs::exists(ref)) {
        md.ideal_frechet = json::parse(std::ifstream(ref))["frechet"].get<double>();
      } else {
        md.ideal_frechet = ideal_frechet(model_cfgs_[m], md.net, digits_, *clf_, e_.samples, md.schedule);
        data::write_text_atomic(ref, json{{"samples", e_.samples}, {"frechet", md.ideal_frechet}}.dump(2) + "\n");
      }
      config::RunConfig batch_cfg = model_cfgs_[m];
      batch_cfg.train = md.record.train;
      md.insitu_batches = shared_batches(batch_source(batch_cfg, digits_.images));
      models_.push_back(std::move(md));
    }
  }

  ChipResult evaluate(const ExploreTask& t) const {
    const Point& p = points_[static_cast<size_t>(t.point)];
    const Model& m = models_[static_cast<size_t>(p.model)];
    config::RunConfig cfg = p.cfg;
    cfg.train = m.record.train;  // the batches of the training the model records
    ChipContext c;
    c.cfg = &cfg;
    c.record = &m.record;
    c.digits = &digits_;
    c.clf = clf_.get();
    c.ideal = &m.net;
    c.schedule = m.schedule;
    c.insitu_batches = m.insitu_batches;
    c.backend = cfg.explore.backend;
    c.dm = p.dm;
    c.temperature = circuit::model_temperature(p.dm, cfg.explore.temperature_K);
    c.readout = {cfg.readout.repeats, static_cast<int>(p.ep.adc_bits), cfg.readout.full_scale_model};
    c.products = cfg.readout.products != 0;
    c.weights = {static_cast<int>(p.ep.weight_bits), cfg.weights.update, cfg.weights.headroom, cfg.explore.seed};
    c.samples = cfg.explore.samples;
    c.insitu_steps = cfg.explore.insitu_steps;
    c.gradient_batch = cfg.explore.gradient_batch;
    c.settle_tol = cfg.explore.settle_tol;
    c.ideal_frechet = m.ideal_frechet;
    const auto& s = cfg.explore.strategies;
    return evaluate_chip(c, t.chip, std::count(s.begin(), s.end(), "deploy") > 0, std::count(s.begin(), s.end(), "insitu") > 0);
  }

  static json metrics_json(const ChipMetrics& m) {
    json j;
    for (const auto& k : config::chip_metrics()) j[k.name] = m.get(k.name);
    j["frechet"] = m.frechet;
    return j;
  }

  struct Row {
    int point, chip;
    unsigned long long seed;
    std::string strategy;
    std::map<std::string, double> m;
    bool pass = false;
  };

  bool passes(const std::map<std::string, double>& m) const {
    for (const auto& [metric, t] : e_.spec) {
      const double v = m.at(metric);
      if (!(v >= t.min && v <= t.max)) return false;
    }
    return true;
  }

  void load_results() {
    rows_.clear();
    for (int k = 0; k < static_cast<int>(points_.size()); ++k)
      for (int c = 0; c < e_.chips; ++c) {
        const std::string path = task_path({k, c});
        json j;
        try {
          j = json::parse(std::ifstream(path));
        } catch (const json::exception& ex) {
          throw InputError(path, "", std::string("damaged task result (delete it and --resume): ") + ex.what());
        }
        for (const auto& s : e_.strategies) {
          if (!j.contains(s)) throw InputError(path, s, "task result lacks this strategy (delete it and --resume)");
          Row r{k, c, j["seed"].get<unsigned long long>(), s, {}, false};
          for (const auto& [key, v] : j[s].items()) r.m[key] = v.get<double>();
          r.pass = passes(r.m);
          rows_.push_back(std::move(r));
        }
      }
  }

  double mean_writes(int k) const {
    double sum = 0;
    int n = 0;
    for (const auto& r : rows_)
      if (r.point == k && r.strategy == "insitu") sum += r.m.at("writes_per_step"), ++n;
    return n ? sum / n : -1;
  }

  void ledgers() {
    ledger_.assign(points_.size(), {});
    for (size_t k = 0; k < points_.size(); ++k) {
      const Point& p = points_[k];
      const std::string out = fmt::format("{}/points/p{}_ledger.json", edir(), k);
      if (!fs::exists(out)) {
        EnergyOptions eo;
        eo.model_dir = models_[static_cast<size_t>(p.model)].dir + "/model";
        eo.device_model = p.device_path;
        eo.baseline = resolve_project_path(p.cfg.explore.baseline);
        eo.out = out;
        eo.data_path = base_.data_path;
        eo.sensitivity = false;
        eo.readout_repeats = p.cfg.readout.repeats;
        eo.readout = p.cfg.readout.products ? "products" : "units";
        eo.writes_per_step = mean_writes(static_cast<int>(k));
        fmt::print(stderr, "eqsim explore: energy ledger of point {}\n", k);
        energy_study(eo);
      }
      const json l = json::parse(std::ifstream(out));
      auto& f = ledger_[k];
      f.analog_J = l["analog_J_per_step"].get<double>();
      f.gpu_flop_J = l["gpu_backprop_J_per_step"].get<double>();
      f.gpu_binding_J = l["gpu"]["backprop"]["binding_J_per_step"].get<double>();
      f.gpu_binding = l["gpu"]["backprop"]["binding"].get<std::string>();
      f.nudge_signal_V = l["measurement"]["nudge_signal_rms_V"].get<double>();
    }
  }

  struct Aggregate {
    int point;
    std::string strategy;
    std::map<std::string, metrics::Interval> m;
    metrics::Interval yield;
    double energy_J = 0;
    bool pareto = false;
  };

  static bool higher_is_better(const std::string& metric) {
    return std::find_if(config::chip_metrics().begin(), config::chip_metrics().end(), [&](const auto& m) {
             return metric == m.name;
           })->higher_is_better;
  }

  // Per point: each chip's Pareto metric in situ minus deployed (the same chip, devices
  // and noise streams under both strategies, so what they share drops out), its mean over
  // chips and seeded bootstrap interval. Empty unless both strategies ran.
  std::vector<metrics::Interval> insitu_minus_deploy() const {
    const auto& st = e_.strategies;
    if (std::find(st.begin(), st.end(), "deploy") == st.end() || std::find(st.begin(), st.end(), "insitu") == st.end())
      return {};
    std::vector<metrics::Interval> out;
    for (int k = 0; k < static_cast<int>(points_.size()); ++k) {
      std::map<int, double> deployed;
      for (const auto& r : rows_)
        if (r.point == k && r.strategy == "deploy") deployed[r.chip] = r.m.at(e_.pareto_metric);
      std::vector<double> diff;
      for (const auto& r : rows_)
        if (r.point == k && r.strategy == "insitu") diff.push_back(r.m.at(e_.pareto_metric) - deployed.at(r.chip));
      out.push_back(metrics::bootstrap_mean(diff, e_.seed * 104729 + static_cast<unsigned long long>(k)));
    }
    return out;
  }

  std::string paired_section(const std::vector<metrics::Interval>& diffs) const {
    if (diffs.empty()) return "";
    const bool higher = higher_is_better(e_.pareto_metric);
    std::string s = fmt::format(
        "## In situ against deploy, chip by chip\n\nPer point, the mean over its N chips of each chip's {0} trained in "
        "situ minus deployed, with a seeded 95 % bootstrap interval. Each chip is the same under both strategies, so what "
        "the chips share drops out of the comparison; an interval that contains 0 shows no difference.\n\n"
        "| point | design | N | {0}, in situ - deploy | in situ is |\n|---|---|---|---|---|\n",
        e_.pareto_metric);
    for (size_t k = 0; k < diffs.size(); ++k) {
      const auto& d = diffs[k];
      const bool shown = d.lo > 0 || d.hi < 0;
      const char* verdict = !shown ? "not shown to differ" : (d.mean > 0) == higher ? "better" : "worse";
      s += fmt::format("| {} | {} | {} | {:+.3g} [{:+.3g}, {:+.3g}] | {} |\n", k, point_label(static_cast<int>(k)), d.n,
                       d.mean, d.lo, d.hi, verdict);
    }
    return s + "\n";
  }

  std::vector<Aggregate> aggregate() const {
    std::vector<Aggregate> out;
    for (int k = 0; k < static_cast<int>(points_.size()); ++k)
      for (const auto& s : e_.strategies) {
        Aggregate a{k, s, {}, {}, ledger_[static_cast<size_t>(k)].analog_J, false};
        long pass = 0, n = 0;
        std::map<std::string, std::vector<double>> vals;
        for (const auto& r : rows_)
          if (r.point == k && r.strategy == s) {
            for (const auto& mk : config::chip_metrics()) vals[mk.name].push_back(r.m.at(mk.name));
            pass += r.pass, ++n;
          }
        unsigned long long mseed = e_.seed * 7919 + static_cast<unsigned long long>(k);
        for (const auto& mk : config::chip_metrics()) a.m[mk.name] = metrics::bootstrap_mean(vals[mk.name], ++mseed);
        a.yield = metrics::wilson(pass, n);
        out.push_back(std::move(a));
      }
    const bool higher = higher_is_better(e_.pareto_metric);
    auto better_or_equal = [&](double x, double y) { return higher ? x >= y : x <= y; };
    for (auto& a : out) {
      a.pareto = true;
      for (const auto& b : out) {
        if (b.strategy != a.strategy || &a == &b) continue;
        const double fa = a.m.at(e_.pareto_metric).mean, fb = b.m.at(e_.pareto_metric).mean;
        const bool dominates = b.energy_J <= a.energy_J && better_or_equal(fb, fa) && (b.energy_J < a.energy_J || fb != fa);
        if (dominates) {
          a.pareto = false;
          break;
        }
      }
    }
    return out;
  }

  std::string chips_csv() const {
    std::string s = "point,chip,seed,strategy";
    for (const auto& mk : config::chip_metrics()) s += std::string(",") + mk.name;
    s += ",frechet,pass\n";
    for (const auto& r : rows_) {
      s += fmt::format("{},{},{},{}", r.point, r.chip, r.seed, r.strategy);
      for (const auto& mk : config::chip_metrics()) s += fmt::format(",{:.6g}", r.m.at(mk.name));
      s += fmt::format(",{:.6g},{}\n", r.m.at("frechet"), r.pass ? 1 : 0);
    }
    return s;
  }

  std::string points_csv(const std::vector<Aggregate>& ag, bool pareto_only) const {
    std::string s = "point,strategy";
    for (const auto& a : e_.axes) s += "," + a.key;
    s += ",n_chips";
    for (const auto& mk : config::chip_metrics()) s += fmt::format(",{0}_mean,{0}_lo,{0}_hi", mk.name);
    s += ",yield,yield_lo,yield_hi,energy_J_per_step,pareto\n";
    for (const auto& a : ag) {
      if (pareto_only && !a.pareto) continue;
      s += fmt::format("{},{}", a.point, a.strategy);
      for (double v : points_[static_cast<size_t>(a.point)].values) s += fmt::format(",{:.6g}", v);
      s += fmt::format(",{}", a.yield.n);
      for (const auto& mk : config::chip_metrics()) {
        const auto& iv = a.m.at(mk.name);
        s += fmt::format(",{:.6g},{:.6g},{:.6g}", iv.mean, iv.lo, iv.hi);
      }
      s += fmt::format(",{:.6g},{:.6g},{:.6g},{:.6g},{}\n", a.yield.mean, a.yield.lo, a.yield.hi, a.energy_J, a.pareto ? 1 : 0);
    }
    return s;
  }

  std::string point_label(int k) const {
    std::string s;
    for (size_t i = 0; i < e_.axes.size(); ++i)
      s += fmt::format("{}{} = {:.4g}", s.empty() ? "" : ", ", e_.axes[i].key, points_[static_cast<size_t>(k)].values[i]);
    return s.empty() ? "the config as given" : s;
  }

  bool axis_varies(size_t axis) const {
    for (const auto& p : points_)
      if (p.values[axis] != points_.front().values[axis]) return true;
    return false;
  }

  std::string spec_text() const {
    std::string s;
    for (const auto& [m, t] : e_.spec) {
      if (!s.empty()) s += ", ";
      if (std::isfinite(t.min)) s += fmt::format("{} >= {:.4g}", m, t.min);
      if (std::isfinite(t.min) && std::isfinite(t.max)) s += " and ";
      if (std::isfinite(t.max)) s += fmt::format("{} <= {:.4g}", m, t.max);
    }
    return s.empty() ? "no thresholds (every chip passes)" : s;
  }

  // The cheapest row of a strategy whose yield meets the target (null: none).
  const Aggregate* cheapest_meeting_yield(const std::vector<Aggregate>& ag, const std::string& strat) const {
    const Aggregate* best = nullptr;
    for (const auto& a : ag)
      if (a.strategy == strat && a.yield.mean >= e_.yield_target && (!best || a.energy_J < best->energy_J)) best = &a;
    return best;
  }

  // What a step of point k costs against the GPU, and where that leaves the seed's
  // 10^3-10^4x claim.
  std::string gpu_comparison(int k) const {
    const auto& f = ledger_[static_cast<size_t>(k)];
    const double flop = f.gpu_flop_J / f.analog_J, binding = f.gpu_binding_J / f.analog_J;
    auto verdict = [](double r) {
      return r >= 1e4 ? "above the claimed 10^3-10^4x" : r >= 1e3 ? "within the claimed 10^3-10^4x" : "below the claimed 10^3-10^4x";
    };
    return fmt::format(
        "A training step of point {} costs {:.3g} J on the chip against {:.3g} J for the GPU's backprop step at its FLOP "
        "count ({:.3g}x, {}) and {:.3g} J at what binds a step this small on the GPU ({}: {:.3g}x, {}).",
        k, f.analog_J, f.gpu_flop_J, flop, verdict(flop), f.gpu_binding_J, f.gpu_binding, binding, verdict(binding));
  }

  // The cheapest point per strategy whose yield meets the target.
  std::string answer(const std::vector<Aggregate>& ag) const {
    std::string s;
    for (const auto& strat : e_.strategies) {
      const Aggregate* best = cheapest_meeting_yield(ag, strat);
      if (!best) {
        s += fmt::format("- **{}**: no point meets the yield target {:.0f} % (spec: {}).\n", strat, 100 * e_.yield_target,
                         spec_text());
        continue;
      }
      const auto& f = best->m.at(e_.pareto_metric);
      s += fmt::format(
          "- **{}**: the cheapest point meeting the yield target {:.0f} % is point {} ({}): {:.3g} J per step, yield "
          "{:.0f} % [{:.0f}, {:.0f}] of {} chips, {} {:.3g} [{:.3g}, {:.3g}], gradient cosine {:.3f} [{:.3f}, {:.3f}].\n",
          strat, 100 * e_.yield_target, best->point, point_label(best->point), best->energy_J, 100 * best->yield.mean,
          100 * best->yield.lo, 100 * best->yield.hi, best->yield.n, e_.pareto_metric, f.mean, f.lo, f.hi,
          best->m.at("gradient_cosine").mean, best->m.at("gradient_cosine").lo, best->m.at("gradient_cosine").hi);
    }
    const Aggregate* best = e_.strategies.empty() ? nullptr : cheapest_meeting_yield(ag, e_.strategies.back());
    if (best) s += "- " + gpu_comparison(best->point) + "\n";
    return s;
  }

  // Per point with the per-node readout: the ADC's LSB against the nudge signal it must
  // resolve, beside the gradient's cosine (where the LSB is the larger, EP's phase
  // difference is below one code and the gradient is left to the noise's dithering).
  std::string resolution_section(const std::vector<Aggregate>& ag) const {
    std::string s =
        "## Readout resolution against the nudge signal\n\n"
        "The per-node ADC must resolve the difference between the +beta and -beta equilibria (the nudge signal, rms over "
        "nodes and samples, from each point's ledger). Its LSB is 2 full_scale v_unit / (2^adc_bits - 1); where it "
        "exceeds the nudge signal a phase difference is below one code. The analog products readout has no per-node "
        "ADC (its accumulators' ADC reads the gradient itself).\n\n"
        "| point | design | readout | ADC LSB (mV) | nudge signal (mV) | LSB / signal | gradient cosine, " +
        e_.strategies.front() + " |\n|---|---|---|---|---|---|---|\n";
    for (const auto& a : ag) {
      if (a.strategy != e_.strategies.front()) continue;
      const Point& p = points_[static_cast<size_t>(a.point)];
      const auto& g = a.m.at("gradient_cosine");
      const double signal_mV = 1e3 * ledger_[static_cast<size_t>(a.point)].nudge_signal_V;
      if (p.cfg.readout.products) {
        s += fmt::format("| {} | {} | products | - | {:.3g} | - | {:.3f} [{:.3f}, {:.3f}] |\n", a.point, point_label(a.point),
                         signal_mV, g.mean, g.lo, g.hi);
        continue;
      }
      const double lsb_mV = 1e3 * 2 * p.cfg.readout.full_scale_model * p.dm.v_unit_V / (std::ldexp(1.0, static_cast<int>(p.ep.adc_bits)) - 1);
      s += fmt::format("| {} | {} | ADC per node | {:.3g} | {:.3g} | {:.2f}{} | {:.3f} [{:.3f}, {:.3f}] |\n", a.point,
                       point_label(a.point), lsb_mV, signal_mV, lsb_mV / signal_mV, lsb_mV > signal_mV ? " (LSB larger)" : "",
                       g.mean, g.lo, g.hi);
    }
    return s + "\n";
  }

  report::FigureResult pareto_figure(const std::vector<Aggregate>& ag) const {
    const std::string png = dir_ + "/figures/explore_pareto.png", dat = png + ".dat";
    std::ofstream d(dat);
    std::string plots;
    int idx = 0;
    for (const auto& strat : e_.strategies) {
      d << "# " << strat << "\n";
      for (const auto& a : ag)
        if (a.strategy == strat) {
          const auto& f = a.m.at(e_.pareto_metric);
          d << fmt::format("{:.6g} {:.6g} {:.6g} {:.6g} {} {}\n", a.energy_J, f.mean, f.lo, f.hi, a.point, a.pareto ? 1 : 0);
        }
      d << "\n\n";
      // Each strategy's points with their interval bars and numbers; its Pareto points ringed.
      const std::string q = report::gnuplot_quoted(dat);
      plots += fmt::format(
          "{0}{1} index {2} using 1:2:3:4 with yerrorbars pt 7 lc {3} title {4}, "
          "{1} index {2} using 1:($6 > 0 ? $2 : 1/0) with points pt 6 ps 2.2 lc {3} title {5}, "
          "{1} index {2} using 1:2:5 with labels offset char 1.2,0.7 tc lt {3} notitle",
          plots.empty() ? "" : ", ", q, idx, idx + 1, report::gnuplot_text(strat),
          report::gnuplot_text(strat + ", Pareto front"));
      ++idx;
    }
    d.close();
    const std::string script = fmt::format(
        "set logscale x\nset format x '%.1e'\nset offsets graph 0.08, graph 0.08, graph 0.08, "
        "graph 0.08\nset xlabel 'energy per training step (J)'\nset ylabel {}\nset grid\nset key top right\n"
        "set title 'Design points (numbered): mean over chips with 95 % bootstrap intervals'\nplot {}\n",
        report::gnuplot_text(e_.pareto_metric + " (mean, 95 % CI)"), plots);
    return report::run_gnuplot(script, png);
  }

  report::FigureResult yield_figure(size_t axis, const std::vector<Aggregate>& ag) const {
    const std::string png = fmt::format("{}/figures/explore_yield_{}.png", dir_, axis), dat = png + ".dat";
    std::ofstream d(dat);
    std::string plots;
    int idx = 0;
    for (const auto& strat : e_.strategies) {
      for (const auto& a : ag)
        if (a.strategy == strat)
          d << fmt::format("{:.6g} {:.6g} {:.6g} {:.6g}\n", points_[static_cast<size_t>(a.point)].values[axis], a.yield.mean,
                           a.yield.lo, a.yield.hi);
      d << "\n\n";
      plots += fmt::format("{}{} index {} using 1:2:3:4 with yerrorbars pt {} ps 1.3 title {}", plots.empty() ? "" : ", ",
                           report::gnuplot_quoted(dat), idx, idx % 2 ? 4 : 7, report::gnuplot_text(strat));
      ++idx;
    }
    d.close();
    const auto& a = e_.axes[axis];
    const std::string script = fmt::format(
        "{}set offsets graph 0.05, graph 0.05, 0, 0\nset xlabel {}\n"
        "set ylabel 'yield (Wilson 95 % interval)'\nset yrange [-0.05:1.05]\nset grid\nset key below\nplot {}\n",
        a.scale == "log" ? "set logscale x\n" : "", report::gnuplot_text(a.key), plots);
    return report::run_gnuplot(script, png);
  }

  std::string write_outputs() {
    const auto ag = aggregate();
    data::write_text_atomic(edir() + "/chips.csv", chips_csv());
    data::write_text_atomic(edir() + "/points.csv", points_csv(ag, false));
    data::write_text_atomic(edir() + "/pareto.csv", points_csv(ag, true));
    const std::string ans = answer(ag);
    std::string md = "# eqsim exploration: " + base_.name + "\n\n## The answer\n\n" + ans + "\n";
    md += fmt::format(
        "Spec per chip: {}. Every figure is the mean over N chips (N = {} per point; chip k has the same mismatch seed at "
        "every point) with a seeded 95 % bootstrap interval; yields carry their Wilson 95 % interval. Two points whose "
        "intervals overlap are not shown to differ.\n\n",
        spec_text(), e_.chips);
    md += fmt::format(
        "- config: `{}` (as run: `run_config.yaml`), git revision `{}`\n- design: {} ({} points), relative mismatch sigma "
        "{:.3g}, thermal noise at {} K, {} samples per chip, {} in-situ steps, gradient batch {}\n- device model: `{}` "
        "with each point's values (`explore/points/pK_device.yaml`); GPU baseline `{}`\n\n",
        base_.source, git_revision(), e_.design, points_.size(), e_.sigma, e_.temperature_K, e_.samples, e_.insitu_steps,
        e_.gradient_batch, e_.device_model, e_.baseline);
    md += "## Points\n\n| point | strategy | design | N | " + e_.pareto_metric +
          " | gradient cosine | yield | energy J/step | Pareto |\n|---|---|---|---|---|---|---|---|---|\n";
    std::vector<double> energies;
    for (const auto& a : ag) energies.push_back(a.energy_J);
    const int energy_digits = digits_to_tell_apart(energies);
    for (const auto& a : ag) {
      const auto& f = a.m.at(e_.pareto_metric);
      const auto& g = a.m.at("gradient_cosine");
      md += fmt::format("| {} | {} | {} | {} | {:.3g} [{:.3g}, {:.3g}] | {:.3f} [{:.3f}, {:.3f}] | {:.0f} % [{:.0f}, {:.0f}] | {:.{}g} | {} |\n",
                        a.point, a.strategy, point_label(a.point), a.yield.n, f.mean, f.lo, f.hi, g.mean, g.lo, g.hi,
                        100 * a.yield.mean, 100 * a.yield.lo, 100 * a.yield.hi, a.energy_J, energy_digits,
                        a.pareto ? "yes" : "");
    }
    const auto diffs = insitu_minus_deploy();
    md += "\n" + paired_section(diffs) + resolution_section(ag);
    md += "Tables: `explore/chips.csv` (a row per point, chip and strategy, with its mismatch seed: `eqsim netlist "
          "--mismatch-seed S --relative-mismatch SIGMA` rebuilds that chip), `explore/points.csv`, `explore/pareto.csv`.\n\n";
    const auto pf = pareto_figure(ag);
    md += pf.ok ? "![Energy per step against the Pareto metric](figures/explore_pareto.png)\n\n"
                : "*Figure missing: " + pf.message + "*\n\n";
    for (size_t i = 0; i < e_.axes.size(); ++i) {
      if (!axis_varies(i)) {
        md += fmt::format("*{} is {:.4g} at every point: no yield figure against it.*\n\n", e_.axes[i].key,
                          points_.front().values[i]);
        continue;
      }
      const auto yf = yield_figure(i, ag);
      md += yf.ok ? fmt::format("![Yield against {0}](figures/explore_yield_{1}.png)\n\n", e_.axes[i].key, i)
                  : "*Figure missing: " + yf.message + "*\n\n";
    }
    data::write_text_atomic(dir_ + "/report.md", md);
    data::write_text_atomic(dir_ + "/report.html", report::markdown_to_html(md, "eqsim exploration: " + base_.name));
    json j{{"name", base_.name}, {"config", base_.source}, {"git_revision", git_revision()}, {"points", points_.size()},
           {"chips_per_point", e_.chips}, {"yield_target", e_.yield_target}, {"pareto_metric", e_.pareto_metric},
           {"tables", {{"chips", "explore/chips.csv"}, {"points", "explore/points.csv"}, {"pareto", "explore/pareto.csv"}}}};
    for (const auto& strat : e_.strategies) {
      const Aggregate* best = cheapest_meeting_yield(ag, strat);
      j["cheapest_meeting_yield"][strat] =
          best ? json{{"point", best->point}, {"energy_J_per_step", best->energy_J},
                      {"gpu_backprop_flop_J_per_step", ledger_[static_cast<size_t>(best->point)].gpu_flop_J},
                      {"gpu_backprop_binding_J_per_step", ledger_[static_cast<size_t>(best->point)].gpu_binding_J},
                      {"yield", best->yield.mean},
                      {"yield_lo", best->yield.lo}, {"yield_hi", best->yield.hi}, {"n_chips", best->yield.n}}
               : json(nullptr);
    }
    for (size_t k = 0; k < diffs.size(); ++k)
      j["insitu_minus_deploy"].push_back({{"point", k}, {"metric", e_.pareto_metric}, {"mean", diffs[k].mean},
                                          {"lo", diffs[k].lo}, {"hi", diffs[k].hi}, {"n_chips", diffs[k].n}});
    data::write_text_atomic(dir_ + "/summary.json", j.dump(2) + "\n");
    return ans;
  }

  ExploreOptions opt_;
  bool worker_ = false;
  config::RunConfig base_;
  config::ExploreOptions e_;
  std::string dir_, source_;
  std::vector<Point> points_;
  std::vector<config::RunConfig> model_cfgs_;
  std::vector<Model> models_;
  data::Digits digits_;
  std::unique_ptr<metrics::DigitClassifier> clf_;
  std::vector<Row> rows_;
  // A point's ledger figures (explore/points/pK_ledger.json).
  struct LedgerFigures {
    double analog_J = 0;       // the chip's energy per training step
    double gpu_flop_J = 0;     // the GPU's backprop step at its FLOP count
    double gpu_binding_J = 0;  // ... at the flavour that binds (FLOPs or kernel latency)
    std::string gpu_binding;
    double nudge_signal_V = 0;  // rms difference of the +beta and -beta equilibria
  };
  std::vector<LedgerFigures> ledger_;
};

}  // namespace

ExploreSummary explore(const ExploreOptions& opt, const TaskExecutor& executor) {
  return Exploration(opt).run(executor);
}

TaskFunction explore_worker(const std::string& shared) {
  auto scratch = std::make_shared<ScratchDir>();
  write_tree(scratch->path(), unpack(shared));
  auto ex = std::make_shared<Exploration>(ExploreOptions{scratch->path() + "/run_config.yaml", {}, scratch->path(), true}, true);
  ex->prepare();
  return [scratch, ex](const std::string& task) { return ex->compute(task); };
}

}  // namespace eqsim::study
