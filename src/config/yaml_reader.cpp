#include "config/yaml_reader.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include "data/error.hpp"

namespace eqsim::config {
namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  return parts;
}

}  // namespace

YAML::Node YamlReader::find(const std::string& path) const {
  YAML::Node n;
  n.reset(root_);  // rebind, never assign: assignment writes through yaml-cpp nodes
  for (const auto& part : split_path(path)) {
    if (!n.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& cn = n;
    YAML::Node child = cn[part];
    if (!child) return YAML::Node(YAML::NodeType::Undefined);
    n.reset(child);
  }
  return n;
}

void YamlReader::mark(const std::string& path) {
  for (size_t dot = path.find('.'); dot != std::string::npos; dot = path.find('.', dot + 1))
    known_.insert(path.substr(0, dot));
  known_.insert(path);
}

YAML::Node YamlReader::node(const std::string& path) {
  mark(path);
  return find(path);
}

template <class T>
T YamlReader::get(const std::string& path, const T& fallback) {
  mark(path);
  YAML::Node n = find(path);
  if (!n || n.IsNull()) return fallback;
  try {
    T v = n.as<T>();
    if constexpr (std::is_floating_point_v<T>)
      if (!std::isfinite(v)) throw InputError(file_, path, "must be a finite number");
    return v;
  } catch (const YAML::Exception&) {
    std::ostringstream msg;
    msg << "cannot read '" << YAML::Dump(n) << "' as the expected type (line " << n.Mark().line + 1 << ")";
    throw InputError(file_, path, msg.str());
  }
}

template <class T>
T YamlReader::require(const std::string& path) {
  if (!find(path)) throw InputError(file_, path, "required key is missing");
  return get<T>(path, T{});
}

template int YamlReader::get<int>(const std::string&, const int&);
template long YamlReader::get<long>(const std::string&, const long&);
template double YamlReader::get<double>(const std::string&, const double&);
template bool YamlReader::get<bool>(const std::string&, const bool&);
template std::string YamlReader::get<std::string>(const std::string&, const std::string&);
template unsigned long long YamlReader::get<unsigned long long>(const std::string&, const unsigned long long&);
template int YamlReader::require<int>(const std::string&);
template double YamlReader::require<double>(const std::string&);
template long YamlReader::require<long>(const std::string&);
template unsigned long long YamlReader::require<unsigned long long>(const std::string&);
template std::string YamlReader::require<std::string>(const std::string&);

std::string map_key(const std::string& file, const std::string& where, const YAML::Node& key) {
  if (!key.IsScalar()) throw InputError(file, where, "a key that is not a name (line " + std::to_string(key.Mark().line + 1) + ")");
  return key.as<std::string>();
}

void YamlReader::check_unknown(const YAML::Node& n, const std::string& prefix) const {
  if (!n.IsMap()) return;
  for (const auto& kv : n) {
    const std::string key = map_key(file_, prefix, kv.first);
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    if (!known_.count(path))
      throw InputError(file_, path, "unknown key (line " + std::to_string(kv.first.Mark().line + 1) + ")");
    check_unknown(kv.second, path);
  }
}

void YamlReader::reject_unknown_keys() const { check_unknown(root_, ""); }

void apply_override(YAML::Node& root, const std::string& assignment, const std::string& file) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError(file, assignment, "--set expects path.to.key=value");
  const auto parts = split_path(assignment.substr(0, eq));
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw InputError(file, assignment.substr(0, eq), std::string("bad --set value: ") + e.what());
  }
  YAML::Node cur;
  cur.reset(root);
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!cur[parts[i]] || !cur[parts[i]].IsMap()) cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
    YAML::Node next = cur[parts[i]];
    cur.reset(next);
  }
  cur[parts.back()] = value;
}

YAML::Node load_yaml_text(const std::string& text, const std::string& name) {
  try {
    YAML::Node n = YAML::Load(text);
    if (!n.IsMap()) throw InputError(name, "", "expected a YAML mapping at the top level");
    return n;
  } catch (const YAML::Exception& e) {
    throw InputError(name, "line " + std::to_string(e.mark.line + 1), "malformed YAML: " + e.msg);
  }
}

YAML::Node load_yaml_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "", "cannot open file");
  std::stringstream ss;
  ss << in.rdbuf();
  return load_yaml_text(ss.str(), path);
}

double read_documented_number(const std::string& file, const std::string& key, const YAML::Node& n) {
  if (!n.IsMap() || !n["value"]) throw InputError(file, key, "expected {value: NUMBER, source: ...}");
  if (!n["source"] && !n["assumption"]) throw InputError(file, key, "needs a source: or assumption: note");
  try {
    return n["value"].as<double>();
  } catch (const YAML::Exception&) {
    throw InputError(file, key + ".value", "not a number");
  }
}

}  // namespace eqsim::config
