// The .npy reader (samples, model arrays), from a file as eqsim reads it.
#include <cstdint>
#include <string>

#include "data/error.hpp"
#include "data/npy.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = eqsim::fuzz::write_file("a.npy", std::string(reinterpret_cast<const char*>(data), size));
  try {
    eqsim::data::read_npy(path);
  } catch (const eqsim::InputError&) {
  }
  return 0;
}
