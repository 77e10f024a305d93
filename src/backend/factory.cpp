#include "backend/backend.hpp"
#include "backend/ode/ode_backend.hpp"
#include "backend/spice/spice_backend.hpp"
#include "data/error.hpp"

namespace eqsim::backend {

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "ode") return std::make_unique<ode::OdeBackend>();
  if (name == "spice") return std::make_unique<spice::SpiceBackend>();
  throw InputError("", "--backend", "unknown backend '" + name + "' (known: ode, spice)");
}

}  // namespace eqsim::backend
