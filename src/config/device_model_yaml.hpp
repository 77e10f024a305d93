#pragma once
// Device models from YAML (device_models/*.yaml). Every number is a map
//   KEY: {value: NUMBER, source: "where it comes from"}   or   {value: ..., assumption: "why"}
// so each figure carries its provenance.
#include <string>
#include <utility>
#include <vector>

#include "circuit/device_model.hpp"

namespace eqsim::config {

// Reads and validates a device model. Throws InputError naming the file and key
// on a missing or unknown key, a non-number, a missing source:/assumption: note,
// or a value circuit::validate rejects (e.g. non-positive capacitance).
circuit::DeviceModel load_device_model(const std::string& path);

// The text of the device model at `path` with some numbers replaced: each (dotted key,
// value) sets KEY.value and marks it `assumption: "<why>"`. InputError naming `why_file`
// and `why_key` + the key when the device model has no such number.
std::string device_model_with(const std::string& path, const std::vector<std::pair<std::string, double>>& values,
                              const std::string& why, const std::string& why_file, const std::string& why_key);

}  // namespace eqsim::config
