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

struct NetworkCounts {
  long parameters = 0;            // every trainable number
  long coupling_parameters = 0;   // W, U, V entries
  long units = 0;                 // sum of module sizes
  long projection_nodes = 0;      // 2r per bilinear coupling
  long visible = 0;               // units of the visible module
  double relax_step_FLOP = 0;     // one Euler step (or block sweep) of one sample
};

// Counts for net. A relaxation step computes the currents into every module:
// dense p-q coupling 4 n_p n_q (both directions), intra-module 2 n^2, bilinear
// 4 r (n_p + n_q) (two projections, two back-projections), plus
// unit_update_FLOP per unit and 4 per visible unit (spring and nudge).
NetworkCounts count_network(const model::Network& net);

}  // namespace eqsim::energy
