#pragma once
// The energy ledger's inputs from YAML: the `energy:` section of a device model
// (device_models/generic-*.yaml) and a GPU baseline (device_models/gpu-*.yaml).
// Every number is {value: NUMBER, source: "..."} or {value: ..., assumption: "..."}.
#include <string>

#include "energy/params.hpp"

namespace eqsim::config {

// Reads and validates the `energy:` section of a device-model file. Throws
// InputError naming the file and the key ("energy.adc_bits") on a missing
// section or key, an unknown key, a non-number, a missing source/assumption
// note, or a value energy::validate rejects.
energy::EnergyParams load_energy_params(const std::string& device_model_path);

// Reads and validates a GPU baseline. Throws InputError naming the file and key
// on a missing or unknown key, a non-number, a missing note, an unknown
// precision or a value energy::validate rejects.
energy::GpuModel load_gpu_model(const std::string& path);

}  // namespace eqsim::config
