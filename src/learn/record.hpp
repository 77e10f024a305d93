#pragma once
// How a model was trained, as its model folder records it (model.yaml `training:`):
// the estimator and beta, the batch, the relaxation budgets, the pairing, Adam and
// every seed. Later stages (the energy ledger, the studies) book and reproduce the
// training step from this record, never from defaults.
#include <string>

#include "learn/flow.hpp"
#include "learn/trainer.hpp"

namespace eqsim::learn {

struct TrainingRecord {
  std::string task = "flow";  // "flow" (flow matching) or "diffusion" (denoising score matching)
  GradientOptions gradient;   // estimator, beta, free and nudged relaxation budgets, adjoint tolerance (relaxer unset)
  TrainOptions train;         // steps, batch size, seed of the batch stream, pairing, Adam
  unsigned long long init_seed = 0;
  double init_gain = 0.5;     // Xavier-normal gain of the initial weights
  long steps_done = 0;        // steps the saved parameters have taken
};

}  // namespace eqsim::learn
