#pragma once
// Weights as a chip holds them: every parameter array programmed as codes of
// `bits` (signed, symmetric: code * lsb with |code| <= 2^(bits-1) - 1, the lsb set
// by the array's largest |value| when first programmed times `headroom`), and EP
// training that can only change codes (DESIGN.md §11):
//  * shadow: a digital copy at accumulator precision takes the Adam updates; the
//    chip is reprogrammed with its rounded codes (updates below one lsb accumulate);
//  * stochastic_rounding: no copy; each update moves a code by floor(delta/lsb + u),
//    u ~ U(0, 1), so an update of a fraction of an lsb moves it with that probability.
// A write is counted only when a code changes.
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "learn/trainer.hpp"

namespace eqsim::learn {

enum class WeightUpdate { shadow, stochastic_rounding };
WeightUpdate weight_update_from_string(const std::string& s);  // throws std::invalid_argument
std::string to_string(WeightUpdate u);

struct WeightProgramming {
  int bits = 0;  // 0: unquantised (analog weights at full precision)
  WeightUpdate update = WeightUpdate::shadow;
  double headroom = 1.25;        // full scale = headroom * largest |value| of the array as first programmed
  unsigned long long seed = 0;   // stochastic rounding stream
};

// Rounds every array of params to its codes (bits > 0); returns the lsb per array.
std::vector<double> program_weights(model::ParamList& params, const WeightProgramming& prog);

// EP (or any GradientOptions estimator) with Adam on a network whose parameters are
// programmed codes; the gradient is measured at the programmed weights.
class ProgrammedLearner : public Learner {
 public:
  // Programs net's current parameters.
  ProgrammedLearner(model::Network& net, GradientOptions grad, AdamOptions adam, WeightProgramming prog);
  // How the chip reads the gradient EP formed from its readings (empty: as formed), e.g.
  // an analog products readout (circuit/products.hpp); called once per step.
  using GradientReadout = std::function<void(GradientResult& result, const FlowBatch& batch)>;
  void set_gradient_readout(GradientReadout readout) { readout_ = std::move(readout); }
  StepRecord learn(const FlowBatch& batch) override;
  AdamState& adam() override { return adam_; }
  model::ParamList& params() override { return net_.params(); }
  long writes() const { return writes_; }  // codes changed so far, over all steps
  long steps() const { return steps_; }

 private:
  model::Network& net_;
  GradientOptions grad_;
  AdamOptions adam_opt_;
  AdamState adam_;
  WeightProgramming prog_;
  std::vector<double> lsb_;
  model::ParamList shadow_;  // shadow update: the accumulator-precision copy
  std::mt19937_64 rng_;
  GradientReadout readout_;
  long writes_ = 0, steps_ = 0;
};

}  // namespace eqsim::learn
