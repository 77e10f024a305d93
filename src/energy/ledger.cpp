#include "energy/ledger.hpp"

#include <fmt/format.h>

#include <tuple>

#include "data/error.hpp"
#include "energy/counts.hpp"

namespace eqsim::energy {

std::string to_string(Readout r) { return r == Readout::units ? "units" : "products"; }

Readout readout_from_string(const std::string& s) {
  if (s == "units") return Readout::units;
  if (s == "products") return Readout::products;
  throw InputError("", "readout", "unknown readout '" + s + "' (units, products)");
}

namespace {

using Inputs = std::vector<std::pair<std::string, double>>;

// Collects items; per-sample energies are multiplied by the batch.
class ItemList {
 public:
  explicit ItemList(long batch) : batch_(batch) {}

  void per_sample(const std::string& side, const std::string& name, const std::string& category, double J_per_sample,
                  const std::string& formula, Inputs inputs, const std::string& source) {
    add(side, name, category, "per_sample", J_per_sample * static_cast<double>(batch_), formula, std::move(inputs), source);
  }
  void per_batch(const std::string& side, const std::string& name, const std::string& category, double J_per_step,
                 const std::string& formula, Inputs inputs, const std::string& source) {
    add(side, name, category, "per_batch", J_per_step, formula, std::move(inputs), source);
  }
  std::vector<LineItem> take() { return std::move(items_); }

 private:
  void add(const std::string& side, const std::string& name, const std::string& category, const std::string& scope,
           double J_per_step, const std::string& formula, Inputs inputs, const std::string& source) {
    items_.push_back({name, side, category, scope, J_per_step, J_per_step / static_cast<double>(batch_), formula,
                      std::move(inputs), source});
  }
  long batch_;
  std::vector<LineItem> items_;
};

struct Context {
  const model::Network& net;
  const circuit::DeviceModel& dm;
  const EnergyParams& ep;
  const GpuModel& gpu;
  const Measurement& m;
  const LedgerOptions& opt;
  NetworkCounts n;
  int readout_phases = 0;
};

std::string dm_source(const Context& c, const std::string& keys) { return "device model " + c.dm.source + ": " + keys; }
std::string ep_source(const Context& c, const std::string& keys) { return "device model " + c.ep.source + ": energy." + keys; }
std::string gpu_source(const Context& c, const std::string& keys) { return "GPU model " + c.gpu.source + ": " + keys; }

std::string measured(const Context& c, const PhaseMeasurement& p, const std::string& what) {
  return fmt::format("measured: {} relaxations of the {} netlist ({} of {} samples settled to {:.3g} V): {}", c.m.backend,
                     p.name, p.settled, p.samples, c.m.settle_tol_V, what);
}

void phase_items(const Context& c, const PhaseMeasurement& p, ItemList& out) {
  out.per_sample("analog", "static_" + p.name, "static", c.dm.VDD_V * p.supply_current_A * p.settle_time_s,
                 "VDD_V * supply_current_A * settle_time_s (every transconductor's bias current for the settling time)",
                 {{"VDD_V", c.dm.VDD_V}, {"supply_current_A", p.supply_current_A}, {"settle_time_s", p.settle_time_s}},
                 measured(c, p, "supply current, settling time") + "; " + dm_source(c, "VDD_V"));
  out.per_sample("analog", "dynamic_" + p.name, "dynamic", c.dm.c_node_F * p.swing_V2,
                 "c_node_F * sum over nodes of (peak-to-peak swing)^2, i.e. C V^2 per node (an upper bound: a "
                 "differential pair charges its node out of the bias current already booked as static)",
                 {{"c_node_F", c.dm.c_node_F}, {"swing_sum_V2", p.swing_V2}},
                 measured(c, p, "node swings") + "; " + dm_source(c, "c_node_F"));
  out.per_sample("analog", "clamp_drive_" + p.name, "clamp_drive", c.dm.VDD_V * p.clamp_charge_C,
                 "VDD_V * integral over the settling time of sum_i |I_spring,i| + |I_nudge,i| (the buffers driving the "
                 "spring and nudge sources draw their output current from VDD)",
                 {{"VDD_V", c.dm.VDD_V}, {"clamp_charge_C", p.clamp_charge_C}},
                 measured(c, p, "spring and nudge branch currents") + "; " + dm_source(c, "VDD_V"));
}

void converter_items(const Context& c, ItemList& out) {
  const double dac_J = converter_energy_J(c.ep.dac_bits, c.ep.dac_fom_s_dB, c.ep.dac_floor_J);
  const double n_dac = 2.0 * static_cast<double>(c.n.visible);
  out.per_sample("analog", "dac_inputs_targets", "dac", n_dac * dac_J,
                 "2 n_visible conversions (spring targets x_t and nudge targets) * max(dac_floor_J, "
                 "0.5*10^((6.02 dac_bits + 1.76 - dac_fom_s_dB)/10))",
                 {{"conversions", n_dac}, {"dac_bits", c.ep.dac_bits}, {"dac_fom_s_dB", c.ep.dac_fom_s_dB},
                  {"dac_floor_J", c.ep.dac_floor_J}, {"energy_per_conversion_J", dac_J}},
                 ep_source(c, "dac_bits, dac_fom_s_dB, dac_floor_J"));
  const double adc_J = converter_energy_J(c.ep.adc_bits, c.ep.adc_fom_s_dB, c.ep.adc_floor_J);
  const std::string fom = "max(adc_floor_J, 0.5*10^((6.02 adc_bits + 1.76 - adc_fom_s_dB)/10))";
  Inputs in{{"adc_bits", c.ep.adc_bits}, {"adc_fom_s_dB", c.ep.adc_fom_s_dB}, {"adc_floor_J", c.ep.adc_floor_J},
            {"energy_per_conversion_J", adc_J}};
  const std::string src = ep_source(c, "adc_bits, adc_fom_s_dB, adc_floor_J");
  if (c.opt.readout == Readout::units) {
    const double n_adc = c.readout_phases * static_cast<double>(c.n.units + c.n.projection_nodes) * c.opt.readout_repeats;
    in.insert(in.begin(), {"conversions", n_adc});
    in.insert(in.begin() + 1, {"readout_repeats", double(c.opt.readout_repeats)});
    out.per_sample("analog", "adc_readout", "adc", n_adc * adc_J,
                   "readout phases * (units + projection nodes) * readout_repeats conversions * " + fom, std::move(in), src);
  } else {
    const double n_adc = static_cast<double>(c.n.parameters);
    in.insert(in.begin(), {"conversions", n_adc});
    out.per_batch("analog", "adc_readout", "adc", n_adc * adc_J,
                  "one conversion per parameter accumulator per step * " + fom, std::move(in), src);
  }
}

void gradient_items(const Context& c, ItemList& out) {
  const double P = static_cast<double>(c.n.parameters), Pc = static_cast<double>(c.n.coupling_parameters);
  if (c.opt.readout == Readout::products) {
    const double repeats = c.opt.readout_repeats;
    out.per_sample("analog", "analog_products", "local_products", c.readout_phases * P * repeats * c.ep.analog_product_J,
                   "readout phases * parameters * readout_repeats * analog_product_J (a multiplier per parameter "
                   "integrates its local product onto the accumulator capacitor, once per repeat)",
                   {{"readout_phases", double(c.readout_phases)}, {"parameters", P}, {"readout_repeats", repeats},
                    {"analog_product_J", c.ep.analog_product_J}},
                   ep_source(c, "analog_product_J"));
    return;
  }
  out.per_sample("analog", "local_products", "local_products", c.readout_phases * Pc * c.ep.digital_mult_J,
                 "readout phases * coupling parameters * digital_mult_J (a_i a_j, or a_i z_k for bilinear couplings)",
                 {{"readout_phases", double(c.readout_phases)}, {"coupling_parameters", Pc}, {"digital_mult_J", c.ep.digital_mult_J}},
                 ep_source(c, "digital_mult_J"));
  out.per_sample("analog", "gradient_accumulation", "accumulation", P * (2 * c.ep.digital_add_J + c.ep.accumulator_access_J),
                 "parameters * (2 digital_add_J + accumulator_access_J) (difference of the two readout phases, add "
                 "into the parameter's accumulator)",
                 {{"parameters", P}, {"digital_add_J", c.ep.digital_add_J}, {"accumulator_access_J", c.ep.accumulator_access_J}},
                 ep_source(c, "digital_add_J, accumulator_access_J"));
}

void update_items(const Context& c, ItemList& out) {
  const double P = static_cast<double>(c.n.parameters);
  out.per_batch("analog", "optimizer_update", "optimizer", P * update_ops_per_parameter * c.ep.update_op_J,
                "parameters * update_ops_per_parameter * update_op_J (scale, clip, Adam)",
                {{"parameters", P}, {"update_ops_per_parameter", update_ops_per_parameter}, {"update_op_J", c.ep.update_op_J}},
                ep_source(c, "update_op_J") + "; op count: src/energy/counts.hpp");
  const bool measured_writes = c.opt.writes_per_step >= 0;
  const double writes = measured_writes ? c.opt.writes_per_step
                                        : c.m.transconductors + P - static_cast<double>(c.n.coupling_parameters);
  out.per_batch("analog", "weight_write", "weight_write", writes * c.ep.weight_bits * c.ep.weight_write_J_per_bit,
                measured_writes ? "weight codes changed per step (measured on the chips) * weight_bits * weight_write_J_per_bit"
                                : "(transconductors + parameters not held by transconductors) * weight_bits * "
                                  "weight_write_J_per_bit (each directed transconductor holds its own copy of its weight)",
                {{"writes", writes}, {"transconductors", double(c.m.transconductors)}, {"weight_bits", c.ep.weight_bits},
                 {"weight_write_J_per_bit", c.ep.weight_write_J_per_bit}},
                (measured_writes ? std::string("in-situ training on the chip model (code changes); ")
                                 : std::string("netlist (transconductor count); ")) +
                    ep_source(c, "weight_bits, weight_write_J_per_bit"));
}

void backprop_items(const Context& c, ItemList& out) {
  const double P = static_cast<double>(c.n.parameters), U = static_cast<double>(c.n.units);
  const double J = c.gpu.energy_per_FLOP_J, Jb = c.gpu.memory_energy_J_per_byte;
  const std::string s = "gpu_backprop";
  out.per_sample(s, "gpu_backprop_forward_backward", "compute", 6 * P * J,
                 "6 FLOP per parameter per sample (2 forward, 4 backward; Kaplan et al. 2020) * energy_per_FLOP_J, for a "
                 "digital model with the network's parameter count",
                 {{"parameters", P}, {"energy_per_FLOP_J", J}}, gpu_source(c, "energy_per_FLOP_J"));
  out.per_batch(s, "gpu_backprop_optimizer", "compute", P * update_ops_per_parameter * J,
                "parameters * update_ops_per_parameter * energy_per_FLOP_J",
                {{"parameters", P}, {"update_ops_per_parameter", update_ops_per_parameter}, {"energy_per_FLOP_J", J}},
                gpu_source(c, "energy_per_FLOP_J"));
  out.per_sample(s, "gpu_backprop_activation_traffic", "memory", 4 * U * c.gpu.activation_bytes * Jb,
                 "4 values per unit (pre-activation and output written forward, read backward) * activation_bytes * "
                 "memory_energy_J_per_byte",
                 {{"units", U}, {"activation_bytes", c.gpu.activation_bytes}, {"memory_energy_J_per_byte", Jb}},
                 gpu_source(c, "activation_bytes, memory_energy_J_per_byte"));
  const double bytes = P * (3 * c.gpu.activation_bytes + 2 * c.gpu.optimizer_state_bytes_per_parameter);
  out.per_batch(s, "gpu_backprop_parameter_traffic", "memory", bytes * Jb,
                "parameters * (3 activation_bytes (weights read forward and backward, gradient written) + 2 "
                "optimizer_state_bytes_per_parameter (state read and written)) * memory_energy_J_per_byte",
                {{"parameters", P}, {"bytes", bytes}, {"memory_energy_J_per_byte", Jb}},
                gpu_source(c, "activation_bytes, optimizer_state_bytes_per_parameter, memory_energy_J_per_byte"));
}

void ep_sim_items(const Context& c, ItemList& out) {
  const double P = static_cast<double>(c.n.parameters), Pc = static_cast<double>(c.n.coupling_parameters);
  const double nudged = static_cast<double>(c.m.phases.size()) - 1;
  const double steps = c.opt.ep_sim_free_steps + nudged * c.opt.ep_sim_nudged_steps;
  const double J = c.gpu.energy_per_FLOP_J, Jb = c.gpu.memory_energy_J_per_byte;
  const std::string s = "gpu_ep_sim";
  out.per_sample(s, "gpu_ep_sim_relaxation", "compute", steps * c.n.relax_step_FLOP * J,
                 "(free_steps + nudged phases * nudged_steps) * relax_step_FLOP * energy_per_FLOP_J",
                 {{"relax_steps", steps}, {"relax_step_FLOP", c.n.relax_step_FLOP}, {"energy_per_FLOP_J", J}},
                 gpu_source(c, "energy_per_FLOP_J") + "; FLOP count: src/energy/counts.hpp");
  const double grad_FLOP = c.readout_phases * (2 * Pc + (P - Pc)) + 2 * P;
  out.per_sample(s, "gpu_ep_sim_gradient", "compute", grad_FLOP * J,
                 "(readout phases * (2 coupling parameters + other parameters) + 2 parameters) FLOP * energy_per_FLOP_J "
                 "(local products as batched GEMMs, difference, accumulate)",
                 {{"gradient_FLOP", grad_FLOP}, {"energy_per_FLOP_J", J}}, gpu_source(c, "energy_per_FLOP_J"));
  out.per_batch(s, "gpu_ep_sim_optimizer", "compute", P * update_ops_per_parameter * J,
                "parameters * update_ops_per_parameter * energy_per_FLOP_J",
                {{"parameters", P}, {"update_ops_per_parameter", update_ops_per_parameter}, {"energy_per_FLOP_J", J}},
                gpu_source(c, "energy_per_FLOP_J"));
  const double nodes = static_cast<double>(c.n.units + c.n.projection_nodes);
  out.per_sample(s, "gpu_ep_sim_state_traffic", "memory", steps * 2 * nodes * c.gpu.activation_bytes * Jb,
                 "relax steps * 2 (state read and written) * (units + projection nodes) * activation_bytes * "
                 "memory_energy_J_per_byte",
                 {{"relax_steps", steps}, {"nodes", nodes}, {"activation_bytes", c.gpu.activation_bytes},
                  {"memory_energy_J_per_byte", Jb}},
                 gpu_source(c, "activation_bytes, memory_energy_J_per_byte"));
  const double bytes = steps * Pc * c.gpu.activation_bytes + 2 * P * c.gpu.optimizer_state_bytes_per_parameter;
  out.per_batch(s, "gpu_ep_sim_parameter_traffic", "memory", bytes * Jb,
                "(relax steps * coupling parameters * activation_bytes (weights read once per step for the batch) + 2 "
                "parameters * optimizer_state_bytes_per_parameter) * memory_energy_J_per_byte",
                {{"relax_steps", steps}, {"bytes", bytes}, {"memory_energy_J_per_byte", Jb}},
                gpu_source(c, "activation_bytes, optimizer_state_bytes_per_parameter, memory_energy_J_per_byte"));
}

// A group of kernels of one GPU workload's step.
struct KernelPart {
  std::string name;
  double kernels;
  std::string formula;
};

// The latency-bound price of a workload: each part's kernels at the per-kernel time of eager and of graph-replayed
// launches, and the step's host synchronisations, at latency_bound_power_W (sides <workload>_eager, _graph). Each
// kernel's own work is taken to hide under its launch; where it does not, the FLOP flavour is the larger and binds.
void latency_items(const Context& c, const std::string& workload, const std::vector<KernelPart>& parts, double syncs,
                   ItemList& out) {
  const double P = c.gpu.latency_bound_power_W;
  const std::string src = "; kernel counts: src/energy/counts.hpp (assumptions)";
  for (const auto& [mode, key, t_s] : {std::tuple{"eager", "eager_kernel_s", c.gpu.eager_kernel_s},
                                       std::tuple{"graph", "graph_kernel_s", c.gpu.graph_kernel_s}}) {
    const std::string side = workload + "_" + mode;
    for (const auto& k : parts)
      out.per_batch(side, side + "_" + k.name, "kernels", k.kernels * t_s * P,
                    "(" + k.formula + ") kernels * " + key + " * latency_bound_power_W",
                    {{"kernels", k.kernels}, {key, t_s}, {"latency_bound_power_W", P}},
                    gpu_source(c, std::string(key) + ", latency_bound_power_W") + src);
    out.per_batch(side, side + "_syncs", "syncs", syncs * c.gpu.sync_s * P,
                  std::string(c.opt.ot_pairing ? "(1 per step + 1 for the host's OT assignment)" : "(1 per step)") +
                      " syncs * sync_s * latency_bound_power_W",
                  {{"syncs", syncs}, {"sync_s", c.gpu.sync_s}, {"latency_bound_power_W", P}},
                  gpu_source(c, "sync_s, latency_bound_power_W"));
  }
}

double pairing_kernels(const Context& c) { return data_kernels + (c.opt.ot_pairing ? ot_kernels : 0.0); }
double step_syncs(const Context& c) { return 1 + (c.opt.ot_pairing ? 1.0 : 0.0); }

double sum_kernels(const std::vector<KernelPart>& parts) {
  double k = 0;
  for (const auto& p : parts) k += p.kernels;
  return k;
}

std::vector<KernelPart> backprop_kernels(const Context& c) {
  const double L = static_cast<double>(c.n.layers);
  return {{"data_pairing", pairing_kernels(c), "data_kernels + ot_kernels when OT-paired"},
          {"forward", forward_kernels_per_layer * L, "forward_kernels_per_layer * layers"},
          {"loss", loss_kernels, "loss_kernels"},
          {"backward", backward_kernels_per_layer * L, "backward_kernels_per_layer * layers"},
          {"optimizer", optimizer_kernels, "optimizer_kernels"}};
}

std::vector<KernelPart> ep_sim_kernels(const Context& c) {
  const double nudged = static_cast<double>(c.m.phases.size()) - 1;
  const double steps = c.opt.ep_sim_free_steps + nudged * c.opt.ep_sim_nudged_steps;
  const double grad = c.readout_phases * static_cast<double>(c.n.layers) + static_cast<double>(c.n.parameter_arrays);
  return {{"data_pairing", pairing_kernels(c), "data_kernels + ot_kernels when OT-paired"},
          {"relaxation", steps * c.n.relax_step_kernels, "relax steps * relax_step_kernels"},
          {"gradient", grad, "readout phases * layers + parameter arrays"},
          {"optimizer", optimizer_kernels, "optimizer_kernels"}};
}

// A workload's three prices from the ledger's items.
GpuWorkload workload(const Ledger& l, const GpuModel& gpu, const std::string& name, double kernels, double syncs) {
  GpuWorkload w;
  w.name = name;
  w.kernels = kernels;
  w.syncs = syncs;
  w.flop_J = side_total_J(l, name);
  w.flop_time_s = w.flop_J / gpu.tdp_W;
  w.eager_J = side_total_J(l, name + "_eager");
  w.eager_time_s = w.eager_J / gpu.latency_bound_power_W;
  w.graph_J = side_total_J(l, name + "_graph");
  w.graph_time_s = w.graph_J / gpu.latency_bound_power_W;
  return w;
}

void check_options(const LedgerOptions& opt, const Measurement& m) {
  if (opt.batch < 1) throw InputError("", "batch", "must be at least 1");
  if (opt.ep_sim_free_steps < 1 || opt.ep_sim_nudged_steps < 1)
    throw InputError("", "ep_sim_steps", "relaxation step counts must be at least 1");
  if (m.phases.empty()) throw InputError("", "phases", "the measurement has no phases");
}

}  // namespace

double side_total_J(const Ledger& l, const std::string& side) {
  double s = 0;
  for (const auto& i : l.items)
    if (i.side == side) s += i.energy_J_per_step;
  return s;
}

Ledger make_ledger(const model::Network& net, const circuit::DeviceModel& dm, const EnergyParams& ep, const GpuModel& gpu,
                   const Measurement& m, const LedgerOptions& opt) {
  check_options(opt, m);
  Context c{net, dm, ep, gpu, m, opt, count_network(net), 0};
  for (const auto& p : m.phases) c.readout_phases += p.readout;
  ItemList out(opt.batch);
  for (const auto& p : m.phases) phase_items(c, p, out);
  converter_items(c, out);
  gradient_items(c, out);
  update_items(c, out);
  backprop_items(c, out);
  ep_sim_items(c, out);
  const auto bp_kernels = backprop_kernels(c), ep_kernels = ep_sim_kernels(c);
  latency_items(c, "gpu_backprop", bp_kernels, step_syncs(c), out);
  latency_items(c, "gpu_ep_sim", ep_kernels, step_syncs(c), out);
  Ledger l;
  l.items = out.take();
  l.batch = opt.batch;
  l.readout = to_string(opt.readout);
  l.analog_J_per_step = side_total_J(l, "analog");
  l.gpu_backprop_J_per_step = side_total_J(l, "gpu_backprop");
  l.gpu_ep_sim_J_per_step = side_total_J(l, "gpu_ep_sim");
  for (const auto& p : m.phases) l.analog_time_s_per_step += static_cast<double>(opt.batch) * p.settle_time_s;
  l.backprop = workload(l, gpu, "gpu_backprop", sum_kernels(bp_kernels), step_syncs(c));
  l.ep_sim = workload(l, gpu, "gpu_ep_sim", sum_kernels(ep_kernels), step_syncs(c));
  return l;
}

}  // namespace eqsim::energy
