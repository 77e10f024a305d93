#pragma once
// Device models from YAML (device_models/*.yaml). Every number is a map
//   KEY: {value: NUMBER, source: "where it comes from"}   or   {value: ..., assumption: "why"}
// so each figure carries its provenance.
#include <map>
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
// A number with the note that says where it comes from.
struct DocumentedNumber {
  double value = 0;
  std::string source;
};

// Writes out_path: the device model at base_path with name and description replaced,
// every key in `derived` set to {value, source: note}, and every other key's note
// prefixed with `copied_prefix` (the energy section stays as it is). The result is
// read back and validated (InputError naming out_path and the key when a value is bad).
circuit::DeviceModel write_derived_device_model(const std::string& base_path, const std::string& out_path,
                                                const std::string& name, const std::string& description,
                                                const std::map<std::string, DocumentedNumber>& derived,
                                                const std::string& copied_prefix);

}  // namespace eqsim::config
