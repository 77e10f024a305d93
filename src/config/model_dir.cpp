#include "config/model_dir.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/network_yaml.hpp"
#include "config/yaml_reader.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"

namespace eqsim::config {
namespace fs = std::filesystem;
namespace {

std::string arrays_yaml(const std::vector<std::string>& names, const model::ParamList& params) {
  YAML::Emitter out;
  out << YAML::BeginSeq;
  for (size_t i = 0; i < names.size(); ++i)
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << names[i] << YAML::Key << "file"
        << YAML::Value << names[i] + ".npy" << YAML::Key << "shape" << YAML::Value << YAML::Flow << YAML::BeginSeq
        << params[i].rows() << params[i].cols() << YAML::EndSeq << YAML::EndMap;
  out << YAML::EndSeq;
  return out.c_str();
}

// Writes model.yaml + arrays into dir.tmp, then swaps it into place.
void write_dir(const std::string& dir, const std::string& header, const std::vector<std::string>& names,
               const model::ParamList& params) {
  const fs::path tmp = dir + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw InputError(dir, "", "cannot create model folder: " + ec.message());
  for (size_t i = 0; i < names.size(); ++i)
    data::write_npy((tmp / (names[i] + ".npy")).string(), params[i], params[i].cols() == 1);
  std::string yaml = header;
  yaml += "arrays:\n";
  std::istringstream lines(arrays_yaml(names, params));
  for (std::string line; std::getline(lines, line);) yaml += "  " + line + "\n";
  data::write_text_atomic((tmp / "model.yaml").string(), yaml);
  // Two renames, so that a kill at any moment leaves dir whole (old or new) or, between
  // them, the old one whole at dir.old (recover_interrupted_write puts it back).
  const fs::path old = dir + ".old";
  fs::remove_all(old, ec);
  if (fs::exists(dir)) fs::rename(dir, old, ec);
  if (!ec) fs::rename(tmp, dir, ec);
  if (ec) throw InputError(dir, "", "cannot move model folder into place: " + ec.message());
  fs::remove_all(old, ec);
}

// Loads each expected array, checking the listing, shape and finiteness.
void read_arrays(const std::string& dir, YamlReader& r, const std::vector<std::string>& names,
                 model::ParamList& params) {
  const std::string yaml_path = dir + "/model.yaml";
  const YAML::Node arrays = r.node("arrays");
  if (!arrays || !arrays.IsSequence()) throw InputError(yaml_path, "arrays", "missing list of arrays");
  if (arrays.size() != names.size())
    throw InputError(yaml_path, "arrays", "lists " + std::to_string(arrays.size()) + " arrays, the network needs " +
                                              std::to_string(names.size()));
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string key = "arrays[" + std::to_string(i) + "]";
    if (!arrays[i].IsMap()) throw InputError(yaml_path, key, "expected a map with name and file");
    if (arrays[i]["name"].as<std::string>("") != names[i])
      throw InputError(yaml_path, key + ".name", "expected array '" + names[i] + "'");
    const std::string file = dir + "/" + arrays[i]["file"].as<std::string>(names[i] + ".npy");
    Eigen::MatrixXd m = data::read_npy(file);
    if (m.rows() != params[i].rows() || m.cols() != params[i].cols())
      throw InputError(file, names[i], "wrong shape (" + std::to_string(m.rows()) + ", " + std::to_string(m.cols()) +
                                           "), the network needs (" + std::to_string(params[i].rows()) + ", " +
                                           std::to_string(params[i].cols()) + ")");
    if (!m.allFinite()) throw InputError(file, names[i], "contains NaN or Inf");
    params[i] = std::move(m);
  }
}

YamlReader open_model_yaml(const std::string& dir) {
  const std::string path = dir + "/model.yaml";
  if (!fs::exists(path)) throw InputError(path, "", "not a model folder (no model.yaml)");
  YamlReader r(load_yaml_file(path), path);
  if (r.get<int>("eqsim_model", 0) != 1) throw InputError(path, "eqsim_model", "unsupported model format version");
  r.get<std::string>("note", "");
  return r;
}

void emit_relax(YAML::Emitter& out, const std::string& key, const model::RelaxOptions& o) {
  out << YAML::Key << key << YAML::Value << YAML::BeginMap << YAML::Key << "method" << YAML::Value
      << (o.method == model::RelaxMethod::block ? "block" : "euler") << YAML::Key << "steps" << YAML::Value << o.max_steps
      << YAML::Key << "dt" << YAML::Value << o.dt << YAML::Key << "tol" << YAML::Value << o.tol << YAML::Key
      << "temperature" << YAML::Value << o.temperature << YAML::Key << "precision" << YAML::Value
      << model::to_string(o.precision) << YAML::EndMap;
}

std::string training_yaml(const learn::TrainingRecord& t) {
  YAML::Emitter out;
  out.SetDoublePrecision(17);
  const auto& g = t.gradient;
  const auto& a = t.train.adam;
  out << YAML::BeginMap << YAML::Key << "training" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "task" << YAML::Value << t.task << YAML::Key << "estimator" << YAML::Value
      << learn::to_string(g.estimator) << YAML::Key << "beta" << YAML::Value << g.beta << YAML::Key << "batch_size"
      << YAML::Value << t.train.batch_size << YAML::Key << "steps" << YAML::Value << t.train.steps << YAML::Key
      << "steps_done" << YAML::Value << t.steps_done << YAML::Key << "pairing" << YAML::Value
      << learn::to_string(t.train.pairing) << YAML::Key << "seed" << YAML::Value << t.train.seed << YAML::Key
      << "init_seed" << YAML::Value << t.init_seed << YAML::Key << "init_gain" << YAML::Value << t.init_gain;
  emit_relax(out, "relax", g.free_relax);
  emit_relax(out, "nudged_relax", g.nudged_relax);
  out << YAML::Key << "adjoint_tol" << YAML::Value << g.adjoint.rel_tol;
  out << YAML::Key << "adam" << YAML::Value << YAML::BeginMap << YAML::Key << "lr" << YAML::Value << a.lr << YAML::Key
      << "beta1" << YAML::Value << a.beta1 << YAML::Key << "beta2" << YAML::Value << a.beta2 << YAML::Key << "eps"
      << YAML::Value << a.eps << YAML::Key << "clip_norm" << YAML::Value << a.clip_norm << YAML::EndMap;
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

model::RelaxOptions read_record_relax(YamlReader& r, const std::string& key) {
  model::RelaxOptions o;
  const auto method = r.require<std::string>(key + ".method");
  if (method != "block" && method != "euler") throw InputError(r.file(), key + ".method", "expected block or euler");
  o.method = method == "block" ? model::RelaxMethod::block : model::RelaxMethod::euler;
  o.max_steps = r.require<int>(key + ".steps");
  o.dt = r.require<double>(key + ".dt");
  o.tol = r.require<double>(key + ".tol");
  o.temperature = r.require<double>(key + ".temperature");
  try {  // records written before float32 relaxations have no precision: they ran in float64
    o.precision = model::precision_from_string(r.get<std::string>(key + ".precision", "float64"));
  } catch (const std::invalid_argument& e) {
    throw InputError(r.file(), key + ".precision", e.what());
  }
  return o;
}

template <class F>
auto record_enum(YamlReader& r, const std::string& key, F from_string) {
  try {
    return from_string(r.require<std::string>(key));
  } catch (const std::invalid_argument& e) {
    throw InputError(r.file(), key, e.what());
  }
}

std::optional<learn::TrainingRecord> read_training(YamlReader& r) {
  if (!r.node("training")) return std::nullopt;
  learn::TrainingRecord t;
  t.task = r.require<std::string>("training.task");
  if (t.task != "flow" && t.task != "diffusion") throw InputError(r.file(), "training.task", "expected flow or diffusion");
  t.gradient.estimator = record_enum(r, "training.estimator", learn::estimator_from_string);
  t.gradient.beta = r.require<double>("training.beta");
  t.train.batch_size = r.require<int>("training.batch_size");
  t.train.steps = r.require<long>("training.steps");
  t.steps_done = r.require<long>("training.steps_done");
  t.train.pairing = record_enum(r, "training.pairing", learn::pairing_from_string);
  t.train.seed = r.require<unsigned long long>("training.seed");
  t.init_seed = r.require<unsigned long long>("training.init_seed");
  t.init_gain = r.require<double>("training.init_gain");
  t.gradient.free_relax = read_record_relax(r, "training.relax");
  t.gradient.nudged_relax = read_record_relax(r, "training.nudged_relax");
  t.gradient.adjoint.rel_tol = r.require<double>("training.adjoint_tol");
  auto& a = t.train.adam;
  a.lr = r.require<double>("training.adam.lr");
  a.beta1 = r.require<double>("training.adam.beta1");
  a.beta2 = r.require<double>("training.adam.beta2");
  a.eps = r.require<double>("training.adam.eps");
  a.clip_norm = r.require<double>("training.adam.clip_norm");
  if (!(t.gradient.beta > 0) || t.train.batch_size < 1)
    throw InputError(r.file(), "training", "beta must be positive and batch_size at least 1");
  return t;
}

learn::AnnealedLangevinOptions load_schedule(YamlReader& r) {
  learn::AnnealedLangevinOptions s;
  const YAML::Node sig = r.node("diffusion.sigmas");
  if (sig) s.sigmas = sig.as<std::vector<double>>();
  s.steps_per_level = r.get<int>("diffusion.steps_per_level", s.steps_per_level);
  s.step_scale = r.get<double>("diffusion.step_scale", s.step_scale);
  s.relax.dt = r.get<double>("diffusion.relax_dt", s.relax.dt);
  s.relax.max_steps = r.get<int>("diffusion.relax_steps", s.relax.max_steps);
  return s;
}

}  // namespace

std::string model_dir_kind(const std::string& dir) {
  YamlReader r = open_model_yaml(dir);
  return r.get<std::string>("kind", "energy");
}

void save_model_dir(const std::string& dir, const model::Network& net, const std::string& note,
                    const learn::AnnealedLangevinOptions* diffusion, const learn::TrainingRecord* training) {
  std::string header = "eqsim_model: 1\nkind: energy\nnote: " + YAML::Dump(YAML::Node(note)) + "\n";
  if (diffusion) {
    YAML::Emitter out;
    out.SetDoublePrecision(17);
    out << YAML::BeginMap << YAML::Key << "diffusion" << YAML::Value << YAML::BeginMap << YAML::Key << "sigmas"
        << YAML::Value << YAML::Flow << diffusion->sigmas << YAML::Key << "steps_per_level" << YAML::Value
        << diffusion->steps_per_level << YAML::Key << "step_scale" << YAML::Value << diffusion->step_scale
        << YAML::Key << "relax_dt" << YAML::Value << diffusion->relax.dt << YAML::Key << "relax_steps" << YAML::Value
        << diffusion->relax.max_steps << YAML::EndMap << YAML::EndMap;
    header += std::string(out.c_str()) + "\n";
  }
  if (training) header += training_yaml(*training);
  header += "network:\n";
  std::istringstream lines(network_yaml(net.spec()));
  for (std::string line; std::getline(lines, line);) header += "  " + line + "\n";
  write_dir(dir, header, net.param_names(), net.params());
}

model::Network load_model_dir(const std::string& dir) {
  YamlReader r = open_model_yaml(dir);
  if (r.get<std::string>("kind", "energy") != "energy")
    throw InputError(r.file(), "kind", "expected an energy-network model folder");
  model::Network net(read_network(r, "network"));
  read_arrays(dir, r, net.param_names(), net.params());
  load_schedule(r);
  read_training(r);
  r.reject_unknown_keys();
  return net;
}

std::optional<learn::TrainingRecord> load_training_record(const std::string& dir) {
  YamlReader r = open_model_yaml(dir);
  return read_training(r);
}

learn::AnnealedLangevinOptions load_diffusion_schedule(const std::string& dir) {
  YamlReader r = open_model_yaml(dir);
  return load_schedule(r);
}

void save_mlp_dir(const std::string& dir, const learn::Mlp& mlp) {
  const int hidden = static_cast<int>(mlp.params()[0].rows());
  const int dim = static_cast<int>(mlp.params()[4].rows());
  std::string header = "eqsim_model: 1\nkind: mlp\nnote: backprop MLP velocity field baseline\nmlp:\n  dim: " +
                       std::to_string(dim) + "\n  hidden: " + std::to_string(hidden) + "\n";
  write_dir(dir, header, std::vector<std::string>(learn::Mlp::kNames, learn::Mlp::kNames + 6), mlp.params());
}

learn::Mlp load_mlp_dir(const std::string& dir) {
  YamlReader r = open_model_yaml(dir);
  if (r.get<std::string>("kind", "energy") != "mlp") throw InputError(r.file(), "kind", "expected an MLP model folder");
  learn::Mlp mlp(r.require<int>("mlp.dim"), r.require<int>("mlp.hidden"));
  read_arrays(dir, r, std::vector<std::string>(learn::Mlp::kNames, learn::Mlp::kNames + 6), mlp.params());
  r.reject_unknown_keys();
  return mlp;
}

}  // namespace eqsim::config

namespace eqsim::config {

void recover_interrupted_write(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir + "/model.yaml") && fs::exists(dir + ".old/model.yaml")) {
    fs::remove_all(dir, ec);
    fs::rename(dir + ".old", dir, ec);
    if (ec) throw InputError(dir, "", "cannot restore the previous folder from " + dir + ".old: " + ec.message());
  }
}

void save_checkpoint(const std::string& dir, const Checkpoint& ck) {
  std::vector<std::string> names;
  model::ParamList arrays;
  for (size_t i = 0; i < ck.names.size(); ++i) {
    names.insert(names.end(), {ck.names[i], "adam_m_" + ck.names[i], "adam_v_" + ck.names[i]});
    const bool has_moments = !ck.adam.m.empty();
    arrays.push_back(ck.params[i]);
    arrays.push_back(has_moments ? ck.adam.m[i] : Eigen::MatrixXd::Zero(ck.params[i].rows(), ck.params[i].cols()));
    arrays.push_back(has_moments ? ck.adam.v[i] : Eigen::MatrixXd::Zero(ck.params[i].rows(), ck.params[i].cols()));
  }
  const std::string header = "eqsim_model: 1\nkind: checkpoint\nstep: " + std::to_string(ck.step) +
                             "\nadam_step: " + std::to_string(ck.adam.step) + "\n";
  write_dir(dir, header, names, arrays);
}

void load_checkpoint(const std::string& dir, Checkpoint& ck) {
  YamlReader r = open_model_yaml(dir);
  if (r.get<std::string>("kind", "") != "checkpoint") throw InputError(r.file(), "kind", "not a checkpoint");
  ck.step = r.require<int>("step");
  ck.adam.step = r.require<int>("adam_step");
  std::vector<std::string> names;
  model::ParamList arrays;
  for (size_t i = 0; i < ck.names.size(); ++i) {
    names.insert(names.end(), {ck.names[i], "adam_m_" + ck.names[i], "adam_v_" + ck.names[i]});
    for (int k = 0; k < 3; ++k) arrays.push_back(ck.params[i]);
  }
  read_arrays(dir, r, names, arrays);
  r.reject_unknown_keys();
  ck.adam.m.clear();
  ck.adam.v.clear();
  for (size_t i = 0; i < ck.names.size(); ++i) {
    ck.params[i] = arrays[3 * i];
    ck.adam.m.push_back(arrays[3 * i + 1]);
    ck.adam.v.push_back(arrays[3 * i + 2]);
  }
}

}  // namespace eqsim::config
