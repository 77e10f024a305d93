// The device model reader (--device-model DM), from a file as eqsim reads it.
#include <cstdint>
#include <string>

#include "config/device_model_yaml.hpp"
#include "data/error.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = eqsim::fuzz::write_file("dm.yaml", std::string(reinterpret_cast<const char*>(data), size));
  try {
    eqsim::config::load_device_model(path);
  } catch (const eqsim::InputError&) {
  }
  return 0;
}
