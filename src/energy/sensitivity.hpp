#pragma once
// Sensitivity of the ledger's ratios to every assumption: each device-model,
// energy and GPU parameter moved x0.5 and x2 (bit counts -2/+2, figures of merit
// -10/+10 dB), plus the two ledger options that are assumptions too (relaxation
// steps of the GPU simulation, readout architecture). Parameters the circuit
// depends on are re-measured on the backend, not extrapolated.
#include <functional>
#include <string>
#include <vector>

#include "energy/ledger.hpp"

namespace eqsim::energy {

struct SensitivityRow {
  std::string parameter;   // key as in the YAML (energy.* for the energy section) or the ledger option
  std::string group;       // "device_model", "energy", "gpu" or "ledger_option"
  std::string change;      // e.g. "x0.5 / x2"
  double nominal = 0, low = 0, high = 0;
  bool remeasured = false;  // the circuit was relaxed again for the low and high values
  bool no_effect = false;   // the ideal, noiseless ledger does not depend on it
  double analog_J_per_step_low = 0, analog_J_per_step_high = 0;
  double ratio_backprop_low = 0, ratio_backprop_high = 0;
  double ratio_ep_sim_low = 0, ratio_ep_sim_high = 0;
  // The same against each workload's binding flavour (GpuWorkload::binding_J).
  double ratio_binding_backprop_low = 0, ratio_binding_backprop_high = 0;
  double ratio_binding_ep_sim_low = 0, ratio_binding_ep_sim_high = 0;
};

// Everything the nominal ledger was made from.
struct SensitivityInputs {
  const model::Network& net;
  const circuit::DeviceModel& dm;
  const EnergyParams& ep;
  const GpuModel& gpu;
  const StepInputs& step;
  backend::Backend& backend;
  const MeasureOptions& measure;
  const LedgerOptions& ledger;
  const Measurement& nominal;
};

// One row per parameter, in a fixed order. progress (optional) is told the name
// of each parameter before it is evaluated.
std::vector<SensitivityRow> sensitivity(const SensitivityInputs& in,
                                        const std::function<void(const std::string&)>& progress = {});

}  // namespace eqsim::energy
