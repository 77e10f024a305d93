#include "circuit/device_model.hpp"

#include <cmath>
#include <utility>
#include <vector>

#include "data/error.hpp"

namespace eqsim::circuit {

void validate(const DeviceModel& dm) {
  const std::vector<std::pair<const char*, double>> positive{
      {"VDD_V", dm.VDD_V},
      {"temperature_K", dm.temperature_K},
      {"v_unit_V", dm.v_unit_V},
      {"g_unit_siemens", dm.g_unit_siemens},
      {"c_node_F", dm.c_node_F},
      {"transconductor_bias_A", dm.transconductor_bias_A},
      {"gm_over_id_per_V", dm.gm_over_id_per_V},
      {"noise_gamma", dm.noise_gamma},
      {"transconductor_area_m2", dm.transconductor_area_m2},
      {"resistor_area_m2", dm.resistor_area_m2},
      {"capacitor_area_m2", dm.capacitor_area_m2}};
  for (const auto& [key, v] : positive)
    if (!(v > 0) || !std::isfinite(v)) throw InputError(dm.source, key, "must be a positive number, got " + std::to_string(v));
  const std::vector<std::pair<const char*, double>> non_negative{{"pelgrom_gain_m", dm.pelgrom_gain_m},
                                                                 {"pelgrom_offset_V_m", dm.pelgrom_offset_V_m},
                                                                 {"pelgrom_resistor_m", dm.pelgrom_resistor_m},
                                                                 {"pelgrom_capacitor_m", dm.pelgrom_capacitor_m}};
  for (const auto& [key, v] : non_negative)
    if (!(v >= 0) || !std::isfinite(v)) throw InputError(dm.source, key, "must be >= 0, got " + std::to_string(v));
}

double tau_s(const DeviceModel& dm) { return dm.c_node_F / dm.g_unit_siemens; }

DeviceModel with_relative_mismatch(DeviceModel dm, double sigma) {
  dm.pelgrom_gain_m = sigma * std::sqrt(dm.transconductor_area_m2);
  dm.pelgrom_offset_V_m = sigma * dm.v_unit_V * std::sqrt(dm.transconductor_area_m2);
  dm.pelgrom_resistor_m = sigma * std::sqrt(dm.resistor_area_m2);
  dm.pelgrom_capacitor_m = sigma * std::sqrt(dm.capacitor_area_m2);
  return dm;
}

double model_temperature(const DeviceModel& dm, double temperature_K) {
  return boltzmann_J_per_K * temperature_K / (dm.c_node_F * dm.v_unit_V * dm.v_unit_V);
}

}  // namespace eqsim::circuit
