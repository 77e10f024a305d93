#pragma once
// Device models from YAML (device_models/*.yaml). Every number is a map
//   KEY: {value: NUMBER, source: "where it comes from"}   or   {value: ..., assumption: "why"}
// so each figure carries its provenance.
#include <string>

#include "circuit/device_model.hpp"

namespace eqsim::config {

// Reads and validates a device model. Throws InputError naming the file and key
// on a missing or unknown key, a non-number, a missing source:/assumption: note,
// or a value circuit::validate rejects (e.g. non-positive capacitance).
circuit::DeviceModel load_device_model(const std::string& path);

}  // namespace eqsim::config
