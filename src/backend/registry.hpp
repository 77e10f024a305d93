#pragma once
// The registry of backends: the only place that names them. Everything else asks
// it for a backend by the name a user gave, or for the list to offer.
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.hpp"

namespace eqsim::backend {

// Every backend's name, in the order help texts list them ("ode", "spice", "chip").
// ode and spice relax any netlist of the supported subset; chip only circuits eqsim
// generated from a model (backend/chip/chip_backend.hpp), an InputError for others.
const std::vector<std::string>& backend_names();

// The names joined for a help text or message: "ode | spice | chip".
std::string backend_choices();

// The backend of that name; InputError naming `file` and `key` (a flag or a config key)
// and the known names for another.
std::unique_ptr<Backend> make_backend(const std::string& name, const std::string& key = "--backend",
                                      const std::string& file = "command line");

}  // namespace eqsim::backend
