#pragma once
// Physical scales and non-idealities of a process (DESIGN.md §5, §7), read from
// device_models/*.yaml by config::load_device_model. Units are name suffixes.
#include <string>

namespace eqsim::circuit {

// Boltzmann constant, J/K.
inline constexpr double boltzmann_J_per_K = 1.380649e-23;

struct DeviceModel {
  std::string name;                    // e.g. "generic-65nm"
  std::string source;                  // file it came from (for messages and netlist headers)
  double VDD_V = 0;                    // supply every transconductor draws its bias from
  double temperature_K = 0;            // nominal temperature for thermal noise
  double v_unit_V = 0;                 // volts per model unit
  double g_unit_siemens = 0;           // conductance per unit of coupling (the leak G)
  double c_node_F = 0;                 // capacitance of every node
  double transconductor_bias_A = 0;    // minimum bias (tail) current of one transconductor
  double gm_over_id_per_V = 0;         // transconductance efficiency: bias >= gm / (gm/I_D)
  double noise_gamma = 0;              // transconductor noise factor: PSD 4kT gamma gm
  double pelgrom_gain_m = 0;           // relative gain mismatch: sigma = A / sqrt(area)
  double pelgrom_offset_V_m = 0;       // input offset voltage: sigma = A / sqrt(area)
  double pelgrom_resistor_m = 0;       // relative resistor mismatch
  double pelgrom_capacitor_m = 0;      // relative capacitor mismatch
  double transconductor_area_m2 = 0;   // W*L of a transconductor's input pair
  double resistor_area_m2 = 0;
  double capacitor_area_m2 = 0;
};

// Throws InputError(source, key, ...) for a non-positive scale (VDD, T, v_unit,
// g_unit, c_node, bias, gm/I_D, gamma, areas) or a negative Pelgrom coefficient.
void validate(const DeviceModel& dm);

// Node time constant c_node_F / g_unit_siemens.
double tau_s(const DeviceModel& dm);

// dm with one relative mismatch sigma for every device (the fidelity-vs-mismatch
// study's axis): transconductor gain, resistor and capacitor sigma = `sigma`, input
// offset sigma = sigma * v_unit_V. The Pelgrom coefficients are set to give that at
// dm's device areas.
DeviceModel with_relative_mismatch(DeviceModel dm, double sigma);

// Thermal energy in model units: k_B T / (c_node_F v_unit_V^2), the variance of a
// lone node (kT/C) in model units squared.
double model_temperature(const DeviceModel& dm, double temperature_K);

}  // namespace eqsim::circuit
