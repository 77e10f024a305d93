#include "energy/sensitivity.hpp"

#include <algorithm>
#include <array>

namespace eqsim::energy {

namespace {

// A full set of assumptions, copied and changed one parameter at a time.
struct Assumptions {
  circuit::DeviceModel dm;
  EnergyParams ep;
  GpuModel gpu;
  LedgerOptions opt;
};

enum class Change { scale, bits, decibels, steps, readout };

struct Knob {
  std::string name, group;
  Change change;
  std::function<double&(Assumptions&)> ref;  // scale / bits / decibels
  bool remeasure = false;
  bool no_effect = false;
};

template <class T>
std::function<double&(Assumptions&)> field_of(T Assumptions::*part, double T::*field) {
  return [part, field](Assumptions& a) -> double& { return (a.*part).*field; };
}

std::vector<Knob> device_knobs(bool mismatch) {
  using D = circuit::DeviceModel;
  struct Entry { const char* key; double D::*field; bool remeasure, no_effect; };
  const std::vector<Entry> entries{
      {"VDD_V", &D::VDD_V, false, false},
      {"v_unit_V", &D::v_unit_V, true, false},
      {"g_unit_siemens", &D::g_unit_siemens, true, false},
      {"c_node_F", &D::c_node_F, true, false},
      {"transconductor_bias_A", &D::transconductor_bias_A, true, false},
      {"gm_over_id_per_V", &D::gm_over_id_per_V, true, false},
      {"temperature_K", &D::temperature_K, false, true},
      {"noise_gamma", &D::noise_gamma, false, true},
      {"pelgrom_gain_m", &D::pelgrom_gain_m, mismatch, !mismatch},
      {"pelgrom_offset_V_m", &D::pelgrom_offset_V_m, mismatch, !mismatch},
      {"pelgrom_resistor_m", &D::pelgrom_resistor_m, mismatch, !mismatch},
      {"pelgrom_capacitor_m", &D::pelgrom_capacitor_m, mismatch, !mismatch},
      {"transconductor_area_m2", &D::transconductor_area_m2, mismatch, !mismatch},
      {"resistor_area_m2", &D::resistor_area_m2, mismatch, !mismatch},
      {"capacitor_area_m2", &D::capacitor_area_m2, mismatch, !mismatch}};
  std::vector<Knob> k;
  for (const auto& e : entries)
    k.push_back({e.key, "device_model", Change::scale, field_of(&Assumptions::dm, e.field), e.remeasure, e.no_effect});
  return k;
}

Change energy_change(const std::string& key) {
  if (key.find("_bits") != std::string::npos) return Change::bits;
  if (key.find("_fom_") != std::string::npos) return Change::decibels;
  return Change::scale;
}

std::vector<Knob> knobs(bool mismatch) {
  auto k = device_knobs(mismatch);
  for (const auto& [key, field] : energy_param_fields())
    k.push_back({"energy." + key, "energy", energy_change(key), field_of(&Assumptions::ep, field), key == "adc_bits", false});
  for (const auto& [key, field] : gpu_model_fields()) {
    // Peaks only check energy_per_FLOP_J; TDP sets only the FLOP flavour's time, not an energy.
    const bool used = key.rfind("peak_", 0) != 0 && key != "tdp_W";
    if (used) k.push_back({key, "gpu", Change::scale, field_of(&Assumptions::gpu, field), false, false});
  }
  k.push_back({"ep_sim_steps", "ledger_option", Change::steps, {}, false, false});
  k.push_back({"readout", "ledger_option", Change::readout, {}, false, false});
  return k;
}

std::string change_text(Change c) {
  switch (c) {
    case Change::scale: return "x0.5 / x2";
    case Change::bits: return "-2 / +2 bits";
    case Change::decibels: return "-10 / +10 dB";
    case Change::steps: return "20 steps (block sweeps; DESIGN 3) / x2";
    case Change::readout: return "units / products";
  }
  return "?";
}

// Nominal, low and high value of a knob.
std::array<double, 3> values(const Knob& k, Assumptions& a) {
  switch (k.change) {
    case Change::scale: return {k.ref(a), 0.5 * k.ref(a), 2 * k.ref(a)};
    case Change::bits: return {k.ref(a), std::max(1.0, k.ref(a) - 2), k.ref(a) + 2};
    case Change::decibels: return {k.ref(a), k.ref(a) - 10, k.ref(a) + 10};
    case Change::steps: return {double(a.opt.ep_sim_free_steps), 20, 2.0 * a.opt.ep_sim_free_steps};
    case Change::readout: return {a.opt.readout == Readout::units ? 0.0 : 1.0, 0, 1};
  }
  return {0, 0, 0};
}

void set(const Knob& k, Assumptions& a, double v) {
  if (k.change == Change::steps) {
    const double scale = v / a.opt.ep_sim_free_steps;
    a.opt.ep_sim_free_steps = static_cast<int>(v);
    a.opt.ep_sim_nudged_steps = std::max(1, static_cast<int>(a.opt.ep_sim_nudged_steps * scale + 0.5));
  } else if (k.change == Change::readout) {
    a.opt.readout = v == 0 ? Readout::units : Readout::products;
  } else {
    k.ref(a) = v;
  }
}

Ledger evaluate(const SensitivityInputs& in, const Knob& k, const Assumptions& nominal, double v) {
  Assumptions a = nominal;
  set(k, a, v);
  if (!k.remeasure) return make_ledger(in.net, a.dm, a.ep, a.gpu, in.nominal, a.opt);
  const Measurement m = measure_step(in.net, a.dm, a.ep, in.step, in.backend, in.measure);
  return make_ledger(in.net, a.dm, a.ep, a.gpu, m, a.opt);
}

}  // namespace

std::vector<SensitivityRow> sensitivity(const SensitivityInputs& in, const std::function<void(const std::string&)>& progress) {
  Assumptions nominal{in.dm, in.ep, in.gpu, in.ledger};
  std::vector<SensitivityRow> rows;
  for (const auto& k : knobs(in.measure.mismatch_seed.has_value())) {
    if (progress) progress(k.name);
    const auto [v0, lo, hi] = values(k, nominal);
    const Ledger L = evaluate(in, k, nominal, lo), H = evaluate(in, k, nominal, hi);
    rows.push_back({k.name, k.group, change_text(k.change), v0, lo, hi, k.remeasure, k.no_effect, L.analog_J_per_step,
                    H.analog_J_per_step, L.ratio_gpu_backprop_to_analog(), H.ratio_gpu_backprop_to_analog(),
                    L.ratio_gpu_ep_sim_to_analog(), H.ratio_gpu_ep_sim_to_analog(),
                    L.backprop.binding_J() / L.analog_J_per_step, H.backprop.binding_J() / H.analog_J_per_step,
                    L.ep_sim.binding_J() / L.analog_J_per_step, H.ep_sim.binding_J() / H.analog_J_per_step});
  }
  return rows;
}

}  // namespace eqsim::energy
