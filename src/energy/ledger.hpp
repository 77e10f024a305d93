#pragma once
// The energy ledger (DESIGN.md §7): joules per training step of the analog
// substrate, line by line, next to two GPU workloads for the same step:
// (a) the digital model of the same size trained by backprop, (b) the EP
// relaxations simulated digitally, each priced by its FLOPs and bytes at the
// utilisation of large-model training, and latency-bound: its kernels times the
// per-kernel launch time (eager, or replayed from captured CUDA graphs) plus its
// host synchronisations, at the board power of a launch-bound GPU. Every line
// names its formula, its inputs and where each number comes from (a measurement
// or a device-model key).
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
  bool ot_pairing = true;         // the step pairs its batch by exact minibatch OT (flow matching), on the host
  int readout_repeats = 1;        // readings averaged per readout phase: each one an ADC conversion per node (units)
                                  // or a product integrated per parameter (products)
  double writes_per_step = -1;    // weight codes that change per step, as measured on a chip; < 0: every device rewritten
};

struct LineItem {
  std::string name;
  std::string side;       // "analog", "gpu_backprop", "gpu_ep_sim" (FLOP-count flavours), or the latency-bound
                          // "gpu_backprop_eager", "gpu_backprop_graph", "gpu_ep_sim_eager", "gpu_ep_sim_graph"
  std::string category;   // static, dynamic, clamp_drive, dac, adc, local_products, accumulation, optimizer,
                          // weight_write (analog); compute, memory (GPU FLOP flavours); kernels, syncs (latency)
  std::string scope;      // "per_sample" (repeated for each sample of the batch) or "per_batch" (once per step)
  double energy_J_per_step = 0;
  double energy_J_per_sample = 0;  // energy_J_per_step / batch
  std::string formula;
  std::vector<std::pair<std::string, double>> inputs;  // name (with unit suffix) and value
  std::string source;
};

// One GPU workload priced three ways. A GPU cannot beat either lower bound, the
// FLOP count at training utilisation or the graph-captured launch chain, so the
// larger of the two binds; eager launches are what an uncaptured loop pays.
struct GpuWorkload {
  std::string name;                     // "gpu_backprop" or "gpu_ep_sim"
  double kernels = 0, syncs = 0;        // per training step
  double flop_J = 0, flop_time_s = 0;   // FLOP flavour; time: its energy at tdp_W
  double eager_J = 0, eager_time_s = 0;
  double graph_J = 0, graph_time_s = 0;
  bool latency_binds() const { return graph_J > flop_J; }
  std::string binding() const { return latency_binds() ? "latency_graph" : "flop"; }
  double binding_J() const { return latency_binds() ? graph_J : flop_J; }
  double binding_time_s() const { return latency_binds() ? graph_time_s : flop_time_s; }
};

struct Ledger {
  std::vector<LineItem> items;
  long batch = 0;
  std::string readout;
  double analog_J_per_step = 0, gpu_backprop_J_per_step = 0, gpu_ep_sim_J_per_step = 0;
  double analog_time_s_per_step = 0;  // the batch's phases relaxed one after another on one circuit
  GpuWorkload backprop, ep_sim;
  double ratio_gpu_backprop_to_analog() const { return gpu_backprop_J_per_step / analog_J_per_step; }
  double ratio_gpu_ep_sim_to_analog() const { return gpu_ep_sim_J_per_step / analog_J_per_step; }
  // Energy-delay products, J s per step: the analog chip's and a GPU workload's binding flavour's.
  double analog_edp_J_s() const { return analog_J_per_step * analog_time_s_per_step; }
  static double edp_J_s(const GpuWorkload& w) { return w.binding_J() * w.binding_time_s(); }
};

// The ledger of one training step of net from the measurement m (made under dm
// and ep). Throws InputError for a batch < 1 or non-positive step counts.
Ledger make_ledger(const model::Network& net, const circuit::DeviceModel& dm, const EnergyParams& ep, const GpuModel& gpu,
                   const Measurement& m, const LedgerOptions& opt);

// Sum of the items of one side, J per step.
double side_total_J(const Ledger& l, const std::string& side);

}  // namespace eqsim::energy
