#pragma once
// The numbers the energy ledger (DESIGN.md §7) needs beyond the circuit's own
// device model: converter, digital-arithmetic and weight-write energies of the
// analog substrate (the `energy:` section of device_models/generic-*.yaml), and
// a GPU baseline (device_models/gpu-*.yaml). Units are name suffixes.
#include <string>
#include <utility>
#include <vector>

namespace eqsim::energy {

// Converter, arithmetic and write energies of the analog substrate.
struct EnergyParams {
  std::string source;                 // file it came from (for messages)
  double adc_bits = 0;                // readout resolution; settling tolerance is half its LSB
  double adc_fom_s_dB = 0;            // Schreier figure of merit of the readout ADC
  double adc_floor_J = 0;             // lowest energy of one ADC conversion
  double dac_bits = 0;                // resolution of the input / target DACs
  double dac_fom_s_dB = 0;            // Schreier-style figure of merit of the DAC
  double dac_floor_J = 0;             // lowest energy of one DAC conversion
  double digital_mult_J = 0;          // one product of two ADC codes (local product a_i a_j)
  double digital_add_J = 0;           // one add of the gradient accumulation (difference, accumulate)
  double accumulator_access_J = 0;    // read-modify-write of one per-parameter accumulator
  double update_op_J = 0;             // one floating-point operation of the optimiser update
  double weight_bits = 0;             // bits programmed into each transconductor / bias source
  double weight_write_J_per_bit = 0;  // writing one weight bit
  double analog_product_J = 0;        // products readout: one analog multiply-accumulate onto a capacitor
};

// A GPU baseline: board power, peak rates, the energy per FLOP at the utilisation
// real training reaches, and the energy of memory traffic.
struct GpuModel {
  std::string name;
  std::string source;
  std::string precision;                  // the precision the baseline computes in: fp64, fp32, tf32, bf16, fp8
  double tdp_W = 0;                       // board power
  double peak_fp64_FLOP_per_s = 0;
  double peak_fp32_FLOP_per_s = 0;
  double peak_tf32_FLOP_per_s = 0;
  double peak_bf16_FLOP_per_s = 0;
  double peak_fp8_FLOP_per_s = 0;
  double energy_per_FLOP_J = 0;           // board energy per FLOP at realistic utilisation, in `precision`
  double memory_energy_J_per_byte = 0;    // off-chip (HBM) traffic
  double activation_bytes = 0;            // bytes per activation value in `precision`
  double optimizer_state_bytes_per_parameter = 0;  // weights, gradient and optimiser moments kept per parameter
  // Latency-bound flavour: a step of a small network is a chain of tiny kernels,
  // each costing its launch rather than its FLOPs, at the board power of a GPU
  // kept busy by launches (far below TDP, far above its FLOP share).
  double eager_kernel_s = 0;              // one small kernel launched from the host (launch-bound issue rate)
  double graph_kernel_s = 0;              // one small kernel replayed from a captured CUDA graph
  double sync_s = 0;                      // one host-device synchronisation (a value the host must read)
  double latency_bound_power_W = 0;       // board power while it runs a stream of tiny kernels
};

// A numeric field and its YAML key.
template <class T>
using FieldTable = std::vector<std::pair<std::string, double T::*>>;

// Every numeric key of EnergyParams / GpuModel, in file order (the loaders and the
// sensitivity table use these lists, so a new key is added in one place).
const FieldTable<EnergyParams>& energy_param_fields();
const FieldTable<GpuModel>& gpu_model_fields();

// Throws InputError(source, "energy.<key>", ...) for a non-positive or non-finite
// value, a bit count outside 1..24 or a figure of merit outside 100..250 dB.
void validate(const EnergyParams& p);

// Throws InputError(source, key, ...) for a non-positive value, an unknown
// precision, an energy per FLOP below the board's own peak efficiency
// tdp_W / peak rate (no GPU does better than its peak), a latency-bound power
// above tdp_W, or a graph-replayed kernel slower than an eager one.
void validate(const GpuModel& g);

// Peak FLOP rate of g in its baseline precision.
double peak_FLOP_per_s(const GpuModel& g);

// Energy of one conversion from the Schreier figure of merit at Nyquist rate:
// E = 0.5 * 10^((SNDR_dB - FOM_S_dB) / 10), SNDR_dB = 6.02 bits + 1.76, at least floor_J.
double converter_energy_J(double bits, double fom_s_dB, double floor_J);

}  // namespace eqsim::energy
