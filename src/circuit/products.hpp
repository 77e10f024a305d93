#pragma once
// The analog products readout (the energy ledger's `products` readout, DESIGN.md §7,
// §11): in each read phase of an EP step every parameter's analog multiplier forms the
// product of its two node signals (a weight W_ij: a_i and a_j; a bilinear factor U_ik:
// a_i and its projection node z_k; a bias: a_i and a reference; a bias-table entry: a_i
// and its level's switch), an accumulator capacitor integrates the difference of the
// two read phases (+beta minus -beta, or nudged minus free) over the batch, and one ADC
// conversion per parameter per step reads the accumulator.
//
// Each multiplier has a gain g = 1 + e and input offsets o_x, o_y of its own, drawn per
// device from the chip's mismatch seed in a stream of their own (the circuit's draws do
// not move), with the sigmas of a transconductor pair of the device model (gain
// pelgrom_gain_m / sqrt(area), offsets pelgrom_offset_V_m / sqrt(area) / v_unit_V in
// model units: with_relative_mismatch(sigma) gives both sigma), and input-referred
// thermal noise on each input of every product of variance noise_gamma x the model
// temperature (a transconductor pair's noise over a node's bandwidth, as kT/C is a
// node's: an assumption). For readings X, Y (the node values the chip read, without the
// per-node ADC this readout does away with) the accumulator holds
//   D = g sum_b [(X+ + o_x)(Y+ + o_y) - (X- + o_x)(Y- + o_y)] + noise
//     = g [sum_b d(XY) + o_y sum_b dX + o_x sum_b dY] + noise
// exactly: a static offset leaves a product with the other input's phase difference,
// which the bias gradient of that input's module carries. So the gradient read is
//   G = g (G_digital + c o_y G_X + c o_x G_Y) + noise,
// G_digital the EP gradient formed exactly from the same readings, G_X, G_Y the bias
// gradients of the inputs' nodes (for a bilinear factor, the projection's V^T or W^T of
// them), c = 1/2 for an intra-module coupling (one multiplier per pair, symmetric
// draws); a bias or a table entry has the gain alone. The noise is Gaussian (2B
// products summed, B the batch) of variance 2B s^2 (<X^2> + <Y^2> + s^2) / repeats in
// accumulator units (a bias: 2B s^2 / repeats), scaled like G_digital, <.> the mean
// over the batch at the free phase. The accumulator's ADC: signed codes of adc_bits,
// each array's full scale set at its first reading to `headroom` times its largest
// |value| (a calibration), values beyond clipped; adc_bits 0: no quantisation.
#include <Eigen/Core>
#include <random>
#include <vector>

#include "circuit/device_model.hpp"
#include "model/network.hpp"
#include "model/relax.hpp"

namespace eqsim::circuit {

struct ProductReadoutOptions {
  int adc_bits = 0;             // the accumulators' ADC (0: none)
  int repeats = 1;              // products accumulated per phase, each with its own noise
  double temperature = 0;       // model units (model_temperature); 0: noiseless multipliers
  double headroom = 2;          // full scale over the first reading's largest |value|
  double beta = 0;              // the estimator's nudge
  bool symmetric = true;        // +beta minus -beta over 2 beta, else nudged minus free over beta
  unsigned long long noise_seed = 0;  // the multipliers' noise stream
};

class AnalogProducts {
 public:
  // The multipliers of a chip of net under dm (its mismatch sigmas), drawn from mismatch_seed.
  // InputError for a non-positive beta, repeats < 1 or adc_bits outside 0..24.
  AnalogProducts(const model::Network& net, const DeviceModel& dm, unsigned long long mismatch_seed,
                 ProductReadoutOptions opt);

  // grad: the EP gradient formed exactly from the chip's readings of the phases of a
  // batch (learn::flow_gradient through the chip); free_state: its free phase; levels:
  // the batch's bias-table levels (empty: none). Replaced by what the multipliers and the
  // accumulators' ADC deliver.
  void read(model::ParamList& grad, const model::State& free_state, const std::vector<int>& levels = {});

  // Per parameter array: the multipliers' gains and input offsets (model units).
  const model::ParamList& gain() const { return gain_; }
  const model::ParamList& offset_x() const { return offset_x_; }
  const model::ParamList& offset_y() const { return offset_y_; }

 private:
  const model::Network& net_;
  ProductReadoutOptions opt_;
  model::ParamList gain_, offset_x_, offset_y_;
  std::vector<double> lsb_;  // per array, once calibrated
  std::mt19937_64 noise_;
};

}  // namespace eqsim::circuit
