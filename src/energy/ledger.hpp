#pragma once
// The energy ledger (DESIGN.md §7): joules per training step of the analog
// substrate, line by line, next to two GPU baselines for the same step:
// (a) the digital model of the same size trained by backprop, (b) the EP
// relaxations simulated digitally. Every line names its formula, its inputs
// and where each number comes from (a measurement or a device-model key).
#include <string>
#include <utility>
#include <vector>

#include "circuit/device_model.hpp"
#include "energy/measure.hpp"
#include "energy/params.hpp"
#include "model/network.hpp"

namespace eqsim::energy {

// How EP's readouts reach the digital update.
//  units: an ADC converts every node in each readout phase, local products and
//         their accumulation over the batch are digital;
//  products: an analog multiplier per parameter accumulates the +-beta products
//         on a capacitor over the batch, one ADC conversion per parameter per step.
enum class Readout { units, products };
std::string to_string(Readout r);
Readout readout_from_string(const std::string& s);  // throws InputError naming "readout"

struct LedgerOptions {
  long batch = 1797;              // samples per training step (the paper's full batch)
  Readout readout = Readout::units;
  int ep_sim_free_steps = 300;    // GPU EP simulation: relaxation steps of the free phase (seed code: 300 Euler steps)
  int ep_sim_nudged_steps = 300;  // ... and of each nudged phase
  int readout_repeats = 1;        // readings averaged per node and readout phase: each one an ADC conversion
  double writes_per_step = -1;    // weight codes that change per step, as measured on a chip; < 0: every device rewritten
};

struct LineItem {
  std::string name;
  std::string side;       // "analog", "gpu_backprop" or "gpu_ep_sim"
  std::string category;   // static, dynamic, clamp_drive, dac, adc, local_products, accumulation, optimizer,
                          // weight_write (analog); compute, memory (GPU)
  std::string scope;      // "per_sample" (repeated for each sample of the batch) or "per_batch" (once per step)
  double energy_J_per_step = 0;
  double energy_J_per_sample = 0;  // energy_J_per_step / batch
  std::string formula;
  std::vector<std::pair<std::string, double>> inputs;  // name (with unit suffix) and value
  std::string source;
};

struct Ledger {
  std::vector<LineItem> items;
  long batch = 0;
  std::string readout;
  double analog_J_per_step = 0, gpu_backprop_J_per_step = 0, gpu_ep_sim_J_per_step = 0;
  double analog_time_s_per_step = 0;  // the batch's phases relaxed one after another on one circuit
  double ratio_gpu_backprop_to_analog() const { return gpu_backprop_J_per_step / analog_J_per_step; }
  double ratio_gpu_ep_sim_to_analog() const { return gpu_ep_sim_J_per_step / analog_J_per_step; }
};

// The ledger of one training step of net from the measurement m (made under dm
// and ep). Throws InputError for a batch < 1 or non-positive step counts.
Ledger make_ledger(const model::Network& net, const circuit::DeviceModel& dm, const EnergyParams& ep, const GpuModel& gpu,
                   const Measurement& m, const LedgerOptions& opt);

// Sum of the items of one side, J per step.
double side_total_J(const Ledger& l, const std::string& side);

}  // namespace eqsim::energy
