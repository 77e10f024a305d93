#include "config/device_model_yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <map>
#include <set>

#include "config/yaml_reader.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"

namespace eqsim::config {

namespace {

using Field = double circuit::DeviceModel::*;

const std::map<std::string, Field>& fields() {
  using D = circuit::DeviceModel;
  static const std::map<std::string, Field> f{
      {"VDD_V", &D::VDD_V},
      {"temperature_K", &D::temperature_K},
      {"v_unit_V", &D::v_unit_V},
      {"g_unit_siemens", &D::g_unit_siemens},
      {"c_node_F", &D::c_node_F},
      {"transconductor_bias_A", &D::transconductor_bias_A},
      {"gm_over_id_per_V", &D::gm_over_id_per_V},
      {"noise_gamma", &D::noise_gamma},
      {"pelgrom_gain_m", &D::pelgrom_gain_m},
      {"pelgrom_offset_V_m", &D::pelgrom_offset_V_m},
      {"pelgrom_resistor_m", &D::pelgrom_resistor_m},
      {"pelgrom_capacitor_m", &D::pelgrom_capacitor_m},
      {"transconductor_area_m2", &D::transconductor_area_m2},
      {"resistor_area_m2", &D::resistor_area_m2},
      {"capacitor_area_m2", &D::capacitor_area_m2}};
  return f;
}

}  // namespace

circuit::DeviceModel load_device_model(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw InputError(path, "", "cannot read device model");
  } catch (const YAML::Exception& e) {
    throw InputError(path, "line " + std::to_string(e.mark.line + 1), e.msg);
  }
  if (!root.IsMap()) throw InputError(path, "", "expected a map of keys");
  circuit::DeviceModel dm;
  dm.source = path;
  if (root["name"] && !root["name"].IsScalar()) throw InputError(path, "name", "expected a text");
  dm.name = root["name"] ? root["name"].as<std::string>() : path;
  for (const auto& kv : root) {
    if (!kv.first.IsScalar())
      throw InputError(path, "line " + std::to_string(kv.first.Mark().line + 1), "a key must be a plain name");
    const auto key = kv.first.as<std::string>();
    const bool section = key == "name" || key == "description" || key == "energy";  // energy: read by energy_yaml
    if (!section && !fields().count(key)) throw InputError(path, key, "unknown key");
  }
  for (const auto& [key, field] : fields()) {
    if (!root[key]) throw InputError(path, key, "missing");
    dm.*field = read_documented_number(path, key, root[key]);
  }
  circuit::validate(dm);
  return dm;
}

std::string device_model_with(const std::string& path, const std::vector<std::pair<std::string, double>>& values,
                              const std::string& why, const std::string& why_file, const std::string& why_key) {
  YAML::Node root = load_yaml_file(path);
  for (const auto& [key, v] : values) {
    YAML::Node n = root;
    std::string rest = key;
    for (size_t dot; !rest.empty();) {
      dot = rest.find('.');
      const std::string part = rest.substr(0, dot);
      rest = dot == std::string::npos ? "" : rest.substr(dot + 1);
      if (!n.IsMap() || !n[part]) throw InputError(why_file, why_key + key, "the device model " + path + " has no number '" + key + "'");
      n.reset(n[part]);
    }
    if (!n.IsMap() || !n["value"]) throw InputError(why_file, why_key + key, "'" + key + "' in " + path + " is not a documented number");
    n["value"] = v;
    n.remove("source");
    n["assumption"] = why;
  }
  YAML::Emitter out;
  out.SetDoublePrecision(17);
  out << root;
  return std::string(out.c_str()) + "\n";
}

circuit::DeviceModel write_derived_device_model(const std::string& base_path, const std::string& out_path,
                                                const std::string& name, const std::string& description,
                                                const std::map<std::string, DocumentedNumber>& derived,
                                                const std::string& copied_prefix) {
  load_device_model(base_path);  // the base must be a valid device model itself
  YAML::Node root = YAML::LoadFile(base_path);
  for (const auto& [key, n] : derived)
    if (!fields().count(key)) throw InputError(out_path, key, "not a device-model key");
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << name << YAML::Key << "description" << YAML::Value
      << description;
  for (const auto& [key, field] : fields()) {
    const YAML::Node base = root[key];
    const auto it = derived.find(key);
    const std::string note_key = it != derived.end() ? "source" : (base["source"] ? "source" : "assumption");
    const std::string note = it != derived.end() ? it->second.source : copied_prefix + base[note_key].as<std::string>();
    const double value = it != derived.end() ? it->second.value : base["value"].as<double>();
    out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "value" << YAML::Value
        << value << YAML::Key << note_key << YAML::Value << YAML::DoubleQuoted << note << YAML::EndMap;
  }
  if (root["energy"]) out << YAML::Key << "energy" << YAML::Value << root["energy"];
  out << YAML::EndMap;
  data::write_text_atomic(out_path, std::string("# Derived by eqsim characterize: every number says where it comes from.\n") +
                                        out.c_str() + "\n");
  return load_device_model(out_path);
}

}  // namespace eqsim::config
