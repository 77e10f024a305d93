#pragma once
// Adam with global-norm gradient clipping, over a ParamList.
#include "model/network.hpp"

namespace eqsim::learn {

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double clip_norm = 1.0;  // <= 0: no clipping
};

struct AdamState {
  model::ParamList m, v;
  long step = 0;
};

// Clips grad to clip_norm (in place), then updates params. Returns the pre-clip norm.
double adam_update(const AdamOptions& opt, AdamState& state, model::ParamList& grad, model::ParamList& params);

}  // namespace eqsim::learn
