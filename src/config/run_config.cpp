#include "config/run_config.hpp"

#include <cmath>

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "config/network_yaml.hpp"
#include "config/yaml_reader.hpp"
#include "data/error.hpp"
#include "embedded_default_config.hpp"

namespace eqsim::config {
namespace {

template <class F>
auto parse_enum(const std::string& file, const std::string& key, const std::string& value, F from_string) {
  try {
    return from_string(value);
  } catch (const std::invalid_argument& e) {
    throw InputError(file, key, e.what());
  }
}

void require_positive(const std::string& file, const std::string& key, double v) {
  if (!(v > 0)) throw InputError(file, key, "must be positive");
}

model::RelaxOptions read_relax(YamlReader& r, const std::string& prefix, model::RelaxOptions d) {
  const std::string method = r.get<std::string>(prefix + ".method", d.method == model::RelaxMethod::block ? "block" : "euler");
  if (method == "block") d.method = model::RelaxMethod::block;
  else if (method == "euler") d.method = model::RelaxMethod::euler;
  else throw InputError(r.file(), prefix + ".method", "unknown relaxation method '" + method + "' (block, euler)");
  d.max_steps = r.get<int>(prefix + ".steps", d.max_steps);
  d.dt = r.get<double>(prefix + ".dt", d.dt);
  d.tol = r.get<double>(prefix + ".tol", d.tol);
  d.temperature = r.get<double>(prefix + ".temperature", d.temperature);
  d.precision = parse_enum(r.file(), prefix + ".precision", r.get<std::string>(prefix + ".precision", model::to_string(d.precision)),
                           model::precision_from_string);
  if (d.temperature < 0) throw InputError(r.file(), prefix + ".temperature", "must be >= 0");
  if (d.temperature > 0 && d.method == model::RelaxMethod::block)
    throw InputError(r.file(), prefix + ".temperature", "needs method: euler (Langevin); block sweeps are deterministic");
  require_positive(r.file(), prefix + ".steps", d.max_steps);
  require_positive(r.file(), prefix + ".dt", d.dt);
  return d;
}

template <class T>
std::vector<T> read_list(YamlReader& r, const std::string& key, std::vector<T> d) {
  const YAML::Node n = r.node(key);
  if (!n) return d;
  try {
    return n.as<std::vector<T>>();
  } catch (const YAML::Exception&) {
    throw InputError(r.file(), key, "expected a list of values");
  }
}

double read_number(const std::string& file, const std::string& key, const YAML::Node& n) {
  try {
    const double v = n.as<double>();
    if (!std::isfinite(v)) throw InputError(file, key, "must be finite");
    return v;
  } catch (const YAML::Exception&) {
    throw InputError(file, key, "expected a number");
  }
}

// key: [v1, v2, ...] | {lin: [lo, hi], n: N} | {log: [lo, hi], n: N}
ExploreAxis read_axis(const std::string& file, const std::string& key, const YAML::Node& n) {
  const std::string where = "explore.axes." + key;
  ExploreAxis a;
  a.key = key;
  a.device = key.rfind("device.", 0) == 0;
  if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) a.values.push_back(read_number(file, where, n[i]));
    if (a.values.empty()) throw InputError(file, where, "an axis needs at least one value");
    return a;
  }
  if (!n.IsMap() || n.size() != 2 || !n["n"] || !(n["lin"] || n["log"]))
    throw InputError(file, where, "expected a list of values, {lin: [lo, hi], n: N} or {log: [lo, hi], n: N}");
  a.scale = n["lin"] ? "lin" : "log";
  const YAML::Node b = n[a.scale];
  if (!b.IsSequence() || b.size() != 2) throw InputError(file, where + "." + a.scale, "expected [lo, hi]");
  a.lo = read_number(file, where + "." + a.scale, b[0]);
  a.hi = read_number(file, where + "." + a.scale, b[1]);
  const double count = read_number(file, where + ".n", n["n"]);
  if (count < 1 || count != std::floor(count)) throw InputError(file, where + ".n", "must be a positive integer");
  if (count > kMaxAxisValues) throw InputError(file, where + ".n", "at most " + std::to_string(kMaxAxisValues) + " values per axis");
  if (!(a.hi >= a.lo)) throw InputError(file, where + "." + a.scale, "needs lo <= hi");
  if (a.scale == "log" && !(a.lo > 0)) throw InputError(file, where + ".log", "log bounds must be positive");
  const int N = static_cast<int>(count);
  for (int i = 0; i < N; ++i) {
    const double f = N == 1 ? 0.0 : static_cast<double>(i) / (N - 1);
    a.values.push_back(a.scale == "lin" ? a.lo + f * (a.hi - a.lo) : a.lo * std::pow(a.hi / a.lo, f));
  }
  return a;
}

void read_explore(YamlReader& r, const std::string& file, RunConfig& c) {
  auto& e = c.explore;
  auto& ro = c.readout;
  ro.repeats = r.get<int>("readout.repeats", ro.repeats);
  ro.full_scale_model = r.get<double>("readout.full_scale_model", ro.full_scale_model);
  ro.products = r.get<int>("readout.products", ro.products);
  c.weights.update = parse_enum(file, "weights.update", r.get<std::string>("weights.update", learn::to_string(c.weights.update)),
                                learn::weight_update_from_string);
  c.weights.headroom = r.get<double>("weights.headroom", c.weights.headroom);

  e.design = r.get<std::string>("explore.design", e.design);
  e.points = r.get<int>("explore.points", e.points);
  e.seed = r.get<unsigned long long>("explore.seed", e.seed);
  e.chips = r.get<int>("explore.chips", e.chips);
  e.strategies = read_list(r, "explore.strategies", e.strategies);
  if (const YAML::Node axes = r.node("explore.axes")) {
    if (!axes.IsMap()) throw InputError(file, "explore.axes", "expected a map from key to values");
    e.axes.clear();
    for (const auto& kv : axes) {
      const std::string key = map_key(file, "explore.axes", kv.first);
      e.axes.push_back(read_axis(file, key, kv.second));
      r.mark("explore.axes." + key);
      for (const char* sub : {"lin", "log", "n"}) r.mark("explore.axes." + key + "." + sub);
    }
  }
  auto known_metric = [](const std::string& m) {
    for (const auto& k : chip_metrics())
      if (m == k.name) return true;
    return false;
  };
  if (const YAML::Node spec = r.node("explore.spec")) {
    if (!spec.IsMap()) throw InputError(file, "explore.spec", "expected a map from metric to {min: x} and/or {max: y}");
    for (const auto& kv : spec) {
      const std::string m = map_key(file, "explore.spec", kv.first), where = "explore.spec." + m;
      for (const char* sub : {"", ".min", ".max"}) r.mark(where + sub);
      if (!known_metric(m)) throw InputError(file, where, "unknown metric '" + m + "'");
      Threshold t;
      if (!kv.second.IsMap() || kv.second.size() == 0) throw InputError(file, where, "expected {min: x} and/or {max: y}");
      for (const auto& b : kv.second) {
        const std::string bound = map_key(file, where, b.first);
        if (bound == "min") t.min = read_number(file, where + ".min", b.second);
        else if (bound == "max") t.max = read_number(file, where + ".max", b.second);
        else throw InputError(file, where + "." + bound, "unknown bound (min, max)");
      }
      e.spec.emplace_back(m, t);
    }
  }
  e.yield_target = r.get<double>("explore.yield_target", e.yield_target);
  e.pareto_metric = r.get<std::string>("explore.pareto_metric", e.pareto_metric);
  if (!known_metric(e.pareto_metric)) throw InputError(file, "explore.pareto_metric", "unknown metric '" + e.pareto_metric + "'");
  e.sigma = r.get<double>("explore.sigma", e.sigma);
  e.temperature_K = r.get<double>("explore.temperature_K", e.temperature_K);
  e.samples = r.get<int>("explore.samples", e.samples);
  e.insitu_steps = r.get<int>("explore.insitu_steps", e.insitu_steps);
  e.gradient_batch = r.get<int>("explore.gradient_batch", e.gradient_batch);
  e.settle_tol = r.get<double>("explore.settle_tol", e.settle_tol);
  e.device_model = r.get<std::string>("explore.device_model", e.device_model);
  e.baseline = r.get<std::string>("explore.baseline", e.baseline);
  e.backend = r.get<std::string>("explore.backend", e.backend);
}

}  // namespace

void DiffusionOptions::validate(const std::string& file) const {
  require_positive(file, "diffusion.sigma_min", sigma_min);
  require_positive(file, "diffusion.levels", levels);
  if (!(sigma_max >= sigma_min)) throw InputError(file, "diffusion.sigma_max", "must be >= diffusion.sigma_min");
}

void GradcheckOptions::validate(const std::string& file) const {
  for (int k : relax_steps)
    if (k < 0) throw InputError(file, "gradcheck.relax_steps", "must be >= 0 (0: converged)");
}

void MismatchStudyOptions::validate(const std::string& file) const {
  for (double v : sigmas)
    if (!(v >= 0 && v < 1)) throw InputError(file, "mismatch.sigmas", "every sigma must be in [0, 1)");
  for (int v : noise)
    if (v != 0 && v != 1) throw InputError(file, "mismatch.noise", "entries are 0 (noiseless) or 1 (thermal noise)");
  for (const auto& [key, v] : {std::pair<const char*, double>{"mismatch.seeds", seeds}, {"mismatch.samples", samples},
                               {"mismatch.gradient_batch", gradient_batch}, {"mismatch.temperature_K", temperature_K},
                               {"mismatch.settle_tol", settle_tol}})
    require_positive(file, key, v);
  if (insitu_steps < 0) throw InputError(file, "mismatch.insitu_steps", "must be >= 0");
}

void CircuitCheckStageOptions::validate(const std::string& file) const {
  require_positive(file, "circuit_check.points", points);
  require_positive(file, "circuit_check.window_tau", window_tau);
  if (backends.empty()) throw InputError(file, "circuit_check.backends", "name at least one backend");
}

void ReadoutOptions::validate(const std::string& file) const {
  if (repeats < 1) throw InputError(file, "readout.repeats", "must be at least 1");
  require_positive(file, "readout.full_scale_model", full_scale_model);
  if (products != 0 && products != 1)
    throw InputError(file, "readout.products", "0 (an ADC per node, digital products) or 1 (analog products)");
}

void WeightOptions::validate(const std::string& file) const {
  if (!(headroom >= 1)) throw InputError(file, "weights.headroom", "must be >= 1");
}

void ExploreOptions::validate(const std::string& file) const {
  if (design != "grid" && design != "lhs") throw InputError(file, "explore.design", "expected grid or lhs");
  for (const auto& s : strategies)
    if (s != "deploy" && s != "insitu") throw InputError(file, "explore.strategies", "entries are deploy or insitu, got '" + s + "'");
  if (strategies.empty()) throw InputError(file, "explore.strategies", "needs deploy, insitu or both");
  if (!(yield_target >= 0 && yield_target <= 1)) throw InputError(file, "explore.yield_target", "must be in [0, 1]");
  if (!(sigma >= 0 && sigma < 1)) throw InputError(file, "explore.sigma", "must be in [0, 1)");
  if (!(temperature_K >= 0)) throw InputError(file, "explore.temperature_K", "must be >= 0");
  for (const auto& [key, v] : {std::pair<const char*, double>{"explore.chips", chips}, {"explore.points", points},
                               {"explore.samples", samples}, {"explore.gradient_batch", gradient_batch},
                               {"explore.settle_tol", settle_tol}})
    require_positive(file, key, v);
  if (samples < 2 * 64) throw InputError(file, "explore.samples", "needs at least 128 (a Frechet distance of 64 pixels)");
  if (insitu_steps < 0) throw InputError(file, "explore.insitu_steps", "must be >= 0");
  double grid = 1;
  for (const auto& a : axes) grid *= static_cast<double>(a.values.size());
  if (design == "grid" && grid > kMaxDesignPoints)
    throw InputError(file, "explore.axes", "the full grid has more than " + std::to_string(kMaxDesignPoints) + " points");
  if (points > kMaxDesignPoints) throw InputError(file, "explore.points", "at most " + std::to_string(kMaxDesignPoints));
}

const std::vector<ChipMetric>& chip_metrics() {
  static const std::vector<ChipMetric> m{{"frechet_rise", false},          {"gradient_cosine", true},
                                         {"equilibrium_rms_model", false}, {"settle_time_s", false},
                                         {"coverage", true},               {"confidence", true},
                                         {"writes_per_step", false}};
  return m;
}

learn::GradientOptions RunConfig::gradient_options() const {
  learn::GradientOptions g;
  g.estimator = estimator;
  g.beta = beta;
  g.free_relax = relax;
  g.nudged_relax = nudged_relax;
  g.adjoint.rel_tol = adjoint_tol;
  return g;
}

std::vector<unsigned long long> RunConfig::training_seeds() const {
  return train_seeds.empty() ? std::vector<unsigned long long>{train.seed} : train_seeds;
}

learn::TrainingRecord RunConfig::training_record() const {
  learn::TrainingRecord t;
  t.task = task == Task::diffusion ? "diffusion" : "flow";
  t.gradient = gradient_options();
  t.train = train;
  t.init_seed = train.seed;  // Network::init_xavier draws from the training seed
  t.init_gain = init_gain;
  return t;
}

RunConfig parse_run_config(const std::string& text, const std::string& source,
                           const std::vector<std::string>& overrides) {
  YAML::Node root = load_yaml_text(text, source);
  for (const auto& o : overrides) apply_override(root, o, source);
  YamlReader r(root, source);
  RunConfig c;
  c.source = source;
  c.name = r.get<std::string>("name", c.name);
  const std::string task = r.get<std::string>("task", "flow");
  if (task == "flow") c.task = Task::flow;
  else if (task == "diffusion") c.task = Task::diffusion;
  else throw InputError(source, "task", "unknown task '" + task + "' (flow, diffusion)");
  auto& d = c.diffusion;
  d.sigma_max = r.get<double>("diffusion.sigma_max", d.sigma_max);
  d.sigma_min = r.get<double>("diffusion.sigma_min", d.sigma_min);
  d.levels = r.get<int>("diffusion.levels", d.levels);
  d.steps_per_level = r.get<int>("diffusion.steps_per_level", d.steps_per_level);
  d.step_scale = r.get<double>("diffusion.step_scale", d.step_scale);
  d.validate(source);
  c.network = read_network(r, "network");
  c.init_gain = r.get<double>("network.init_gain", c.init_gain);
  c.data_path = r.get<std::string>("data.path", "");

  auto& t = c.train;
  t.steps = r.get<long>("train.steps", t.steps);
  t.batch_size = r.get<int>("train.batch_size", t.batch_size);
  t.seed = r.get<unsigned long long>("train.seed", t.seed);
  c.train_seeds = read_list(r, "train.seeds", std::vector<unsigned long long>{t.seed});
  if (c.train_seeds.empty()) throw InputError(source, "train.seeds", "needs at least one seed");
  if (std::set<unsigned long long>(c.train_seeds.begin(), c.train_seeds.end()).size() != c.train_seeds.size())
    throw InputError(source, "train.seeds", "seeds must be distinct (a repeated seed repeats the same training run)");
  t.seed = c.train_seeds.front();
  t.pairing = parse_enum(source, "train.pairing", r.get<std::string>("train.pairing", "ot"), learn::pairing_from_string);
  t.adam.lr = r.get<double>("train.lr", t.adam.lr);
  t.adam.beta1 = r.get<double>("train.adam_beta1", t.adam.beta1);
  t.adam.beta2 = r.get<double>("train.adam_beta2", t.adam.beta2);
  t.adam.clip_norm = r.get<double>("train.clip_norm", t.adam.clip_norm);
  c.estimator = parse_enum(source, "train.estimator", r.get<std::string>("train.estimator", "symmetric"),
                           learn::estimator_from_string);
  c.beta = r.get<double>("train.beta", c.beta);
  c.checkpoint_every = r.get<long>("train.checkpoint_every", c.checkpoint_every);
  c.adjoint_tol = r.get<double>("train.adjoint_tol", c.adjoint_tol);
  require_positive(source, "train.adjoint_tol", c.adjoint_tol);
  require_positive(source, "train.steps", static_cast<double>(t.steps));
  require_positive(source, "train.batch_size", t.batch_size);
  require_positive(source, "train.lr", t.adam.lr);
  require_positive(source, "train.beta", c.beta);
  const double beta_max = learn::max_stable_beta(c.network);
  if (c.estimator == learn::Estimator::symmetric && c.beta >= beta_max) {
    std::ostringstream m;
    m << "beta = " << c.beta << " makes the -beta phase unstable: the nudge conductance beta*(alpha*lambda)^2 "
      << "must stay below 1 + lambda, i.e. |beta| < " << beta_max;
    throw InputError(source, "train.beta", m.str());
  }

  c.relax = read_relax(r, "relax", c.relax);
  model::RelaxOptions nudged = c.relax;
  nudged.max_steps = r.get<int>("relax.nudged_steps", c.relax.max_steps);
  c.nudged_relax = nudged;

  auto& s = c.sample;
  s.n = r.get<int>("sample.n", s.n);
  s.t_end = r.get<double>("sample.t_end", s.t_end);
  s.dt = r.get<double>("sample.dt", s.dt);
  s.seed = r.get<unsigned long long>("sample.seed", s.seed);
  s.readout = parse_enum(source, "sample.readout", r.get<std::string>("sample.readout", "spring"), learn::readout_from_string);
  s.relax = read_relax(r, "sample.relax", c.relax);
  c.sample_sets = r.get<int>("sample.sets", c.sample_sets);
  require_positive(source, "sample.sets", c.sample_sets);
  require_positive(source, "sample.n", s.n);
  require_positive(source, "sample.t_end", s.t_end);
  require_positive(source, "sample.dt", s.dt);

  c.energy.enabled = r.get<bool>("energy.enabled", c.energy.enabled);
  c.energy.device_models = read_list(r, "energy.device_models", c.energy.device_models);
  c.energy.baseline = r.get<std::string>("energy.baseline", c.energy.baseline);
  c.energy.sensitivity = r.get<bool>("energy.sensitivity", c.energy.sensitivity);
  auto& cc = c.circuit_check;
  cc.enabled = r.get<bool>("circuit_check.enabled", cc.enabled);
  cc.backends = read_list(r, "circuit_check.backends", cc.backends);
  cc.points = r.get<int>("circuit_check.points", cc.points);
  cc.window_tau = r.get<double>("circuit_check.window_tau", cc.window_tau);
  cc.device_model = r.get<std::string>("circuit_check.device_model", cc.device_model);
  cc.validate(source);
  auto& ms = c.mismatch;
  ms.enabled = r.get<bool>("mismatch.enabled", ms.enabled);
  ms.sigmas = read_list(r, "mismatch.sigmas", ms.sigmas);
  ms.seeds = r.get<int>("mismatch.seeds", ms.seeds);
  ms.noise = read_list(r, "mismatch.noise", ms.noise);
  ms.temperature_K = r.get<double>("mismatch.temperature_K", ms.temperature_K);
  ms.samples = r.get<int>("mismatch.samples", ms.samples);
  ms.insitu_steps = r.get<int>("mismatch.insitu_steps", ms.insitu_steps);
  ms.gradient_batch = r.get<int>("mismatch.gradient_batch", ms.gradient_batch);
  ms.settle_tol = r.get<double>("mismatch.settle_tol", ms.settle_tol);
  ms.device_model = r.get<std::string>("mismatch.device_model", ms.device_model);
  ms.backend = r.get<std::string>("mismatch.backend", ms.backend);
  ms.validate(source);
  auto& g = c.gradcheck;
  g.batch_size = r.get<int>("gradcheck.batch_size", g.batch_size);
  g.repeats = r.get<int>("gradcheck.repeats", g.repeats);
  g.betas = read_list(r, "gradcheck.betas", g.betas);
  g.relax_steps = read_list(r, "gradcheck.relax_steps", g.relax_steps);
  g.estimators = read_list(r, "gradcheck.estimators", g.estimators);
  for (const auto& e : g.estimators) parse_enum(source, "gradcheck.estimators", e, learn::estimator_from_string);
  g.temperatures = read_list(r, "gradcheck.temperatures", g.temperatures);
  g.device_model = r.get<std::string>("gradcheck.device_model", g.device_model);
  g.validate(source);

  read_explore(r, source, c);
  c.readout.validate(source);
  c.weights.validate(source);
  c.explore.validate(source);
  c.baselines.exact = r.get<bool>("baselines.exact", c.baselines.exact);
  c.baselines.mlp = r.get<bool>("baselines.mlp", c.baselines.mlp);
  c.baselines.mlp_hidden = r.get<int>("baselines.mlp_hidden", c.baselines.mlp_hidden);
  for (size_t k = 0; k < c.network.couplings.size(); ++k)
    if (c.network.couplings[k].p == c.network.couplings[k].q && c.relax.method == model::RelaxMethod::block)
      throw InputError(source, "relax.method", "block sweeps need modules without internal couplings (network.couplings[" +
                                                   std::to_string(k) + "]): use euler");
  r.reject_unknown_keys();
  return c;
}

const std::string& embedded_default_config() {
  static const std::string text = kEmbeddedDefaultConfig;
  return text;
}

namespace {
std::string read_config_text(const std::string& path) {
  if (path.empty()) return embedded_default_config();
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "cannot open config file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_run_config(read_config_text(path), path.empty() ? "<embedded default config>" : path, overrides);
}

std::string dump_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  YAML::Node root = load_yaml_text(read_config_text(path), path);
  for (const auto& o : overrides) apply_override(root, o, path);
  return YAML::Dump(root);
}

}  // namespace eqsim::config
