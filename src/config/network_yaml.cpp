#include "config/network_yaml.hpp"

#include "config/model_dir.hpp"
#include "data/error.hpp"

namespace eqsim::config {
namespace {

int module_index(const model::NetworkSpec& s, const std::string& name, const std::string& file,
                 const std::string& key) {
  for (size_t m = 0; m < s.modules.size(); ++m)
    if (s.modules[m].name == name) return static_cast<int>(m);
  throw InputError(file, key, "no module named '" + name + "'");
}

}  // namespace

model::NetworkSpec read_network(YamlReader& r, const std::string& prefix) {
  model::NetworkSpec s = model::floweqprop_spec();
  const YAML::Node mods = r.node(prefix + ".modules");
  if (mods) {
    if (!mods.IsSequence()) throw InputError(r.file(), prefix + ".modules", "must be a list");
    s.modules.clear();
    for (size_t i = 0; i < mods.size(); ++i) {
      const std::string key = prefix + ".modules[" + std::to_string(i) + "]";
      YamlReader item(mods[i], r.file());
      model::ModuleSpec m;
      m.name = item.require<std::string>("name");
      m.size = item.require<int>("size");
      const std::string act = item.get<std::string>("activation", "tanh");
      if (act == "identity") m.activation = model::Activation::identity;
      else if (act == "tanh") m.activation = model::Activation::tanh;
      else throw InputError(r.file(), key + ".activation", "unknown activation '" + act + "' (identity, tanh)");
      m.condition_levels = item.get<int>("condition_levels", 0);
      try {
        item.reject_unknown_keys();
      } catch (const InputError& e) {
        throw InputError(r.file(), key + "." + e.key(), "unknown key");
      }
      s.modules.push_back(m);
    }
  }
  const YAML::Node cps = r.node(prefix + ".couplings");
  if (cps) {
    if (!cps.IsSequence()) throw InputError(r.file(), prefix + ".couplings", "must be a list");
    s.couplings.clear();
    for (size_t i = 0; i < cps.size(); ++i) {
      const std::string key = prefix + ".couplings[" + std::to_string(i) + "]";
      YamlReader item(cps[i], r.file());
      model::CouplingSpec c;
      c.p = module_index(s, item.require<std::string>("from"), r.file(), key + ".from");
      c.q = module_index(s, item.require<std::string>("to"), r.file(), key + ".to");
      c.name = item.get<std::string>("name", s.modules[c.p].name + "_" + s.modules[c.q].name);
      const std::string kind = item.get<std::string>("kind", "dense");
      if (kind == "dense") c.kind = model::CouplingKind::dense;
      else if (kind == "bilinear") c.kind = model::CouplingKind::bilinear;
      else throw InputError(r.file(), key + ".kind", "unknown coupling kind '" + kind + "' (dense, bilinear)");
      c.rank = item.get<int>("rank", 0);
      try {
        item.reject_unknown_keys();
      } catch (const InputError& e) {
        throw InputError(r.file(), key + "." + e.key(), "unknown key");
      }
      s.couplings.push_back(c);
    }
  }
  const std::string vis = r.get<std::string>(prefix + ".visible", s.modules[s.visible].name);
  s.visible = module_index(s, vis, r.file(), prefix + ".visible");
  s.leak = r.get<double>(prefix + ".leak", s.leak);
  s.spring_lambda = r.get<double>(prefix + ".spring_lambda", s.spring_lambda);
  s.alpha = r.get<double>(prefix + ".alpha", s.alpha);
  model::validate(s, r.file());
  return s;
}

void emit_network(YAML::Emitter& out, const model::NetworkSpec& s) {
  out << YAML::BeginMap << YAML::Key << "modules" << YAML::Value << YAML::BeginSeq;
  for (const auto& m : s.modules)
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << m.name << YAML::Key << "size"
        << YAML::Value << m.size << YAML::Key << "activation" << YAML::Value
        << (m.activation == model::Activation::tanh ? "tanh" : "identity") << YAML::Key << "condition_levels"
        << YAML::Value << m.condition_levels << YAML::EndMap;
  out << YAML::EndSeq << YAML::Key << "couplings" << YAML::Value << YAML::BeginSeq;
  for (const auto& c : s.couplings) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << c.name << YAML::Key << "from"
        << YAML::Value << s.modules[c.p].name << YAML::Key << "to" << YAML::Value << s.modules[c.q].name
        << YAML::Key << "kind" << YAML::Value << (c.kind == model::CouplingKind::dense ? "dense" : "bilinear");
    if (c.kind == model::CouplingKind::bilinear) out << YAML::Key << "rank" << YAML::Value << c.rank;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::Key << "visible" << YAML::Value << s.modules[s.visible].name << YAML::Key
      << "leak" << YAML::Value << s.leak << YAML::Key << "spring_lambda" << YAML::Value << s.spring_lambda
      << YAML::Key << "alpha" << YAML::Value << s.alpha << YAML::EndMap;
}

std::string network_yaml(const model::NetworkSpec& spec) {
  YAML::Emitter out;
  out.SetDoublePrecision(17);
  emit_network(out, spec);
  return out.c_str();
}

}  // namespace eqsim::config
