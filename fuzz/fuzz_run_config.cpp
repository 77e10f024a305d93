// The run config reader (eqsim run / train CONFIG), from a file as eqsim reads it.
#include <cstdint>
#include <string>

#include "config/run_config.hpp"
#include "data/error.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = eqsim::fuzz::write_file("config.yaml", std::string(reinterpret_cast<const char*>(data), size));
  try {
    eqsim::config::load_run_config(path);
  } catch (const eqsim::InputError&) {
  }
  return 0;
}
