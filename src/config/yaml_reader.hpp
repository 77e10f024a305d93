#pragma once
// Reads typed values out of a YAML tree while recording every key it was asked
// for, so that a single pass afterwards reports any key nobody knows (a typo
// must not be silently ignored). Errors name the file and the dotted key.
#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

namespace eqsim::config {

class YamlReader {
 public:
  YamlReader(YAML::Node root, std::string file) : root_(std::move(root)), file_(std::move(file)) {}

  // Value at a dotted path ("train.steps"); `fallback` when absent.
  template <class T>
  T get(const std::string& path, const T& fallback);
  // Value at a dotted path; InputError when absent.
  template <class T>
  T require(const std::string& path);
  // The node at a path (invalid when absent); marks the path and its children known.
  YAML::Node node(const std::string& path);
  // Marks a path as known without reading it.
  void mark(const std::string& path);

  // Throws InputError naming the first key in the tree that was never asked for.
  void reject_unknown_keys() const;
  const std::string& file() const { return file_; }

 private:
  YAML::Node find(const std::string& path) const;
  void check_unknown(const YAML::Node& n, const std::string& prefix) const;
  YAML::Node root_;
  std::string file_;
  std::set<std::string> known_;
};

// The text of a map's key; InputError naming `where` and the key's line when the key is
// not a plain name (YAML allows a map or a list as a key: `? {a: 1}`).
std::string map_key(const std::string& file, const std::string& where, const YAML::Node& key);

// Applies `--set path.to.key=value` overrides to a YAML tree (value parsed as YAML).
void apply_override(YAML::Node& root, const std::string& assignment, const std::string& file);

// Loads a YAML file; malformed YAML is an InputError with the line number.
YAML::Node load_yaml_file(const std::string& path);
YAML::Node load_yaml_text(const std::string& text, const std::string& name);

// A documented number `{value: NUMBER, source: ...}` (or `assumption:` instead of
// `source:`), as device models and GPU baselines write them; InputError naming
// file and key when the map, its note or the number is missing.
double read_documented_number(const std::string& file, const std::string& key, const YAML::Node& n);

}  // namespace eqsim::config
