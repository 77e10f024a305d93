#include "backend/backend.hpp"
#include "backend/ode/ode_backend.hpp"
#include "data/error.hpp"

namespace eqsim::backend {

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "ode") return std::make_unique<ode::OdeBackend>();
  throw InputError("", "--backend", "unknown backend '" + name + "' (known: ode)");
}

}  // namespace eqsim::backend
