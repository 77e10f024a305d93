// The netlist reader (eqsim relax F.cir) and the topology check every backend runs first.
#include <cstdint>
#include <string>

#include "circuit/netlist.hpp"
#include "circuit/topology.hpp"
#include "data/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto c = eqsim::circuit::parse_netlist(std::string(reinterpret_cast<const char*>(data), size), "fuzz.cir");
    eqsim::circuit::check_topology(c);
    eqsim::circuit::write_netlist(c);
  } catch (const eqsim::InputError&) {
  }
  return 0;
}
