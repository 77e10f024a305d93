#pragma once
// The `network:` schema shared by run configs and model.yaml.
#include "config/yaml_reader.hpp"
#include "model/network.hpp"

namespace eqsim::config {

// Reads a network description under `prefix` ("network"); a missing section
// gives the FlowEqProp network. Validates it.
model::NetworkSpec read_network(YamlReader& r, const std::string& prefix);

// Emits the description as a YAML map.
void emit_network(YAML::Emitter& out, const model::NetworkSpec& spec);

}  // namespace eqsim::config
