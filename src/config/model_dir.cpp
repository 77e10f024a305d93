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
                    const learn::AnnealedLangevinOptions* diffusion) {
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
  r.reject_unknown_keys();
  return net;
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
