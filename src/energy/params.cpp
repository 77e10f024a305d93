#include "energy/params.hpp"

#include <algorithm>
#include <cmath>

#include "data/error.hpp"

namespace eqsim::energy {

const FieldTable<EnergyParams>& energy_param_fields() {
  using P = EnergyParams;
  static const FieldTable<P> f{{"adc_bits", &P::adc_bits},
                               {"adc_fom_s_dB", &P::adc_fom_s_dB},
                               {"adc_floor_J", &P::adc_floor_J},
                               {"dac_bits", &P::dac_bits},
                               {"dac_fom_s_dB", &P::dac_fom_s_dB},
                               {"dac_floor_J", &P::dac_floor_J},
                               {"digital_mult_J", &P::digital_mult_J},
                               {"digital_add_J", &P::digital_add_J},
                               {"accumulator_access_J", &P::accumulator_access_J},
                               {"update_op_J", &P::update_op_J},
                               {"weight_bits", &P::weight_bits},
                               {"weight_write_J_per_bit", &P::weight_write_J_per_bit},
                               {"analog_product_J", &P::analog_product_J}};
  return f;
}

const FieldTable<GpuModel>& gpu_model_fields() {
  using G = GpuModel;
  static const FieldTable<G> f{{"tdp_W", &G::tdp_W},
                               {"peak_fp64_FLOP_per_s", &G::peak_fp64_FLOP_per_s},
                               {"peak_fp32_FLOP_per_s", &G::peak_fp32_FLOP_per_s},
                               {"peak_tf32_FLOP_per_s", &G::peak_tf32_FLOP_per_s},
                               {"peak_bf16_FLOP_per_s", &G::peak_bf16_FLOP_per_s},
                               {"peak_fp8_FLOP_per_s", &G::peak_fp8_FLOP_per_s},
                               {"energy_per_FLOP_J", &G::energy_per_FLOP_J},
                               {"memory_energy_J_per_byte", &G::memory_energy_J_per_byte},
                               {"activation_bytes", &G::activation_bytes},
                               {"optimizer_state_bytes_per_parameter", &G::optimizer_state_bytes_per_parameter},
                               {"eager_kernel_s", &G::eager_kernel_s},
                               {"graph_kernel_s", &G::graph_kernel_s},
                               {"sync_s", &G::sync_s},
                               {"latency_bound_power_W", &G::latency_bound_power_W}};
  return f;
}

namespace {

bool is_bits(const std::string& key) { return key.size() > 5 && key.compare(key.size() - 5, 5, "_bits") == 0; }
bool is_fom(const std::string& key) { return key.find("_fom_") != std::string::npos; }

}  // namespace

void validate(const EnergyParams& p) {
  for (const auto& [key, field] : energy_param_fields()) {
    const double v = p.*field;
    const std::string where = "energy." + key;
    if (!(v > 0) || !std::isfinite(v)) throw InputError(p.source, where, "must be a positive number, got " + std::to_string(v));
    if (is_bits(key) && (v < 1 || v > 24 || v != std::round(v)))
      throw InputError(p.source, where, "must be a whole number of bits in 1..24, got " + std::to_string(v));
    if (is_fom(key) && (v < 100 || v > 250))
      throw InputError(p.source, where, "a figure of merit in dB is expected in 100..250, got " + std::to_string(v));
  }
}

double peak_FLOP_per_s(const GpuModel& g) {
  if (g.precision == "fp64") return g.peak_fp64_FLOP_per_s;
  if (g.precision == "fp32") return g.peak_fp32_FLOP_per_s;
  if (g.precision == "tf32") return g.peak_tf32_FLOP_per_s;
  if (g.precision == "bf16") return g.peak_bf16_FLOP_per_s;
  if (g.precision == "fp8") return g.peak_fp8_FLOP_per_s;
  throw InputError(g.source, "precision", "unknown precision '" + g.precision + "' (fp64, fp32, tf32, bf16, fp8)");
}

void validate(const GpuModel& g) {
  for (const auto& [key, field] : gpu_model_fields()) {
    const double v = g.*field;
    if (!(v > 0) || !std::isfinite(v)) throw InputError(g.source, key, "must be a positive number, got " + std::to_string(v));
  }
  if (g.latency_bound_power_W > g.tdp_W)
    throw InputError(g.source, "latency_bound_power_W", "above the board's tdp_W");
  if (g.graph_kernel_s > g.eager_kernel_s)
    throw InputError(g.source, "graph_kernel_s", "above eager_kernel_s (a captured graph does not launch slower)");
  const double peak_J = g.tdp_W / peak_FLOP_per_s(g);
  if (g.energy_per_FLOP_J < peak_J)
    throw InputError(g.source, "energy_per_FLOP_J",
                     "below the board's peak efficiency tdp_W / peak rate = " + std::to_string(peak_J) + " J");
}

double converter_energy_J(double bits, double fom_s_dB, double floor_J) {
  const double sndr_dB = 6.02 * bits + 1.76;
  return std::max(floor_J, 0.5 * std::pow(10.0, (sndr_dB - fom_s_dB) / 10.0));
}

}  // namespace eqsim::energy
