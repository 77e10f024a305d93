#include "config/energy_yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <set>

#include "config/yaml_reader.hpp"
#include "data/error.hpp"

namespace eqsim::config {

namespace {

YAML::Node load(const std::string& path, const std::string& what) {
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (!root.IsMap()) throw InputError(path, "", "expected a map of keys");
    return root;
  } catch (const YAML::BadFile&) {
    throw InputError(path, "", "cannot read " + what);
  } catch (const YAML::Exception& e) {
    throw InputError(path, "line " + std::to_string(e.mark.line + 1), e.msg);
  }
}

// Reads every field of table from map (keys prefixed for messages); rejects unknown keys except `extra`.
template <class T>
void read_fields(const std::string& path, const YAML::Node& map, const std::string& prefix,
                 const energy::FieldTable<T>& table, const std::set<std::string>& extra, T& out) {
  std::set<std::string> known(extra);
  for (const auto& [key, field] : table) known.insert(key);
  const std::string section = prefix.empty() ? prefix : prefix.substr(0, prefix.size() - 1);  // "energy." -> "energy"
  for (const auto& kv : map) {
    const auto key = map_key(path, section, kv.first);
    if (!known.count(key)) throw InputError(path, prefix + key, "unknown key");
  }
  for (const auto& [key, field] : table) {
    if (!map[key]) throw InputError(path, prefix + key, "missing");
    out.*field = read_documented_number(path, prefix + key, map[key]);
  }
}

}  // namespace

energy::EnergyParams load_energy_params(const std::string& device_model_path) {
  const YAML::Node root = load(device_model_path, "device model");
  const YAML::Node section = root["energy"];
  if (!section) throw InputError(device_model_path, "energy", "missing: the energy ledger needs this section (converter, "
                                                              "arithmetic and weight-write energies)");
  if (!section.IsMap()) throw InputError(device_model_path, "energy", "expected a map of keys");
  energy::EnergyParams p;
  p.source = device_model_path;
  read_fields(device_model_path, section, "energy.", energy::energy_param_fields(), {}, p);
  energy::validate(p);
  return p;
}

energy::GpuModel load_gpu_model(const std::string& path) {
  const YAML::Node root = load(path, "GPU model");
  energy::GpuModel g;
  g.source = path;
  read_fields(path, root, "", energy::gpu_model_fields(), {"name", "description", "precision"}, g);
  g.name = root["name"] ? root["name"].as<std::string>() : path;
  if (!root["precision"]) throw InputError(path, "precision", "missing (fp64, fp32, tf32, bf16, fp8)");
  g.precision = root["precision"].as<std::string>();
  energy::validate(g);
  return g;
}

}  // namespace eqsim::config
