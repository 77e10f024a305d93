#include "backend/registry.hpp"

#include <functional>
#include <utility>

#include "backend/chip/chip_backend.hpp"
#include "backend/ode/ode_backend.hpp"
#include "backend/spice/spice_backend.hpp"
#include "data/error.hpp"

namespace eqsim::backend {

namespace {

using Maker = std::function<std::unique_ptr<Backend>()>;

const std::vector<std::pair<std::string, Maker>>& registry() {
  static const std::vector<std::pair<std::string, Maker>> r{
      {"ode", [] { return std::make_unique<ode::OdeBackend>(); }},
      {"spice", [] { return std::make_unique<spice::SpiceBackend>(); }},
      {"chip", [] { return std::make_unique<chip::ChipBackend>(); }},
  };
  return r;
}

}  // namespace

const std::vector<std::string>& backend_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [name, make] : registry()) n.push_back(name);
    return n;
  }();
  return names;
}

std::string backend_choices() {
  std::string s;
  for (const auto& n : backend_names()) s += (s.empty() ? "" : " | ") + n;
  return s;
}

std::unique_ptr<Backend> make_backend(const std::string& name, const std::string& key, const std::string& file) {
  for (const auto& [n, make] : registry())
    if (n == name) return make();
  throw InputError(file, key, "unknown backend '" + name + "' (known: " + backend_choices() + ")");
}

}  // namespace eqsim::backend
