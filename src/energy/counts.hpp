#pragma once
// Operation counts of a network (any Network IR: dense, bilinear and
// intra-module couplings), shared by the analog ledger and the GPU baselines.
#include "model/network.hpp"

namespace eqsim::energy {

// FLOPs counted for one unit's update in one relaxation step: leak multiply,
// input add, Euler multiply-add (2), activation (2).
inline constexpr double unit_update_FLOP = 6;

// Operations per parameter of one optimiser update (both the analog side's
// digital update and the GPU's): scale by 1/(2 beta B) (1), clip: norm (2) and
// scale (1), Adam first moment (3), second moment (4), bias corrections (2),
// sqrt (1), add eps (1), divide (1), learning-rate multiply (1), subtract (1).
inline constexpr double update_ops_per_parameter = 18;

// GPU kernels of one training step as a framework such as PyTorch issues them
// (assumptions: unfused elementwise work, cuBLAS GEMMs with fused bias, a fused
// multi-tensor Adam), used by the latency-bound GPU flavour.
//  data: draw noise, draw t, interpolate x_t, form the target;
//  OT pairing: cost-matrix GEMM and two norm broadcasts, copy to the host, copy the
//  assignment back, gather (the assignment itself runs on the host: one sync);
//  forward per layer: GEMM with bias, activation; loss: difference, mean square, seed;
//  backward per layer: activation gradient, input-gradient GEMM, weight-gradient GEMM, bias reduction;
//  optimiser: gradient norm (2), clip scale, fused Adam, zero the gradients;
//  a relaxation step (EP simulation): one GEMM per coupling direction (bilinear: two
//  projections, two back-projections), per module sum of drives, Euler update with the
//  leak and activation (3), the spring / nudge on the visible module (1);
//  EP gradient: per readout phase one local-product GEMM per coupling matrix, then
//  per parameter array a difference-and-scale.
inline constexpr double data_kernels = 4;
inline constexpr double ot_kernels = 6;
inline constexpr double forward_kernels_per_layer = 2;
inline constexpr double loss_kernels = 3;
inline constexpr double backward_kernels_per_layer = 4;
inline constexpr double optimizer_kernels = 5;
inline constexpr double module_update_kernels = 3;
inline constexpr double clamp_kernels = 1;

struct NetworkCounts {
  long parameters = 0;            // every trainable number
  long coupling_parameters = 0;   // W, U, V entries
  long units = 0;                 // sum of module sizes
  long projection_nodes = 0;      // 2r per bilinear coupling
  long visible = 0;               // units of the visible module
  double relax_step_FLOP = 0;     // one Euler step (or block sweep) of one sample
  long modules = 0;
  long layers = 0;                // coupling matrices (W; U and V of a bilinear coupling): GEMMs of a pass
  long parameter_arrays = 0;      // trainable arrays (coupling matrices, biases, tables)
  double relax_step_kernels = 0;  // GPU kernels of one relaxation step of the whole batch
};

// Counts for net. A relaxation step computes the currents into every module:
// dense p-q coupling 4 n_p n_q (both directions), intra-module 2 n^2, bilinear
// 4 r (n_p + n_q) (two projections, two back-projections), plus
// unit_update_FLOP per unit and 4 per visible unit (spring and nudge).
NetworkCounts count_network(const model::Network& net);

}  // namespace eqsim::energy
