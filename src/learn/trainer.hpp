#pragma once
// The flow-matching training loop (DESIGN.md §3), shared by the energy network
// (EP or exact gradient) and the backprop MLP baseline: each step draws x0 ~ N(0,I),
// a data batch x1, t ~ U(0,1), pairs x0 with x1 (exact minibatch OT or random),
// and hands the flow batch to a learner. Every step's randomness is derived from
// (seed, step), so a resumed run replays exactly what an uninterrupted one does.
#include <Eigen/Core>
#include <functional>
#include <memory>
#include <string>

#include "learn/adam.hpp"
#include "learn/flow.hpp"

namespace eqsim::learn {

enum class Pairing { ot, random };
Pairing pairing_from_string(const std::string& s);  // throws std::invalid_argument
std::string to_string(Pairing p);

struct TrainOptions {
  long steps = 2000;
  int batch_size = 1797;
  unsigned long long seed = 0;
  Pairing pairing = Pairing::ot;
  AdamOptions adam;
};

// Draws the flow batch of each step from the data (64 x N, one column per image).
// Keeps the OT column prices of the previous step as a warm start; the pairing is
// the exact optimum either way, so a batch depends only on (seed, step).
class FlowBatchSampler {
 public:
  FlowBatchSampler(const Eigen::MatrixXd& data, const TrainOptions& opt) : data_(data), opt_(opt) {}
  FlowBatch draw(long step);

 private:
  const Eigen::MatrixXd& data_;
  TrainOptions opt_;
  std::vector<double> prices_;  // per data column
};

struct StepRecord {
  long step = 0;           // 1-based, after the update
  double loss = 0;         // batch mean 1/2|v - u_t|^2 before the update
  double grad_norm = 0;    // before clipping
  double relax_change = 0; // free phase's last max |du| (0 for the MLP)
  double wall_s = 0;       // this step's wall time
};

// Something that takes one optimisation step on a flow batch.
class Learner {
 public:
  virtual ~Learner() = default;
  virtual StepRecord learn(const FlowBatch& batch) = 0;
  virtual AdamState& adam() = 0;
  virtual model::ParamList& params() = 0;
};

// Gradient EP (symmetric / one-sided) or the exact implicit gradient, with Adam.
class EnergyLearner : public Learner {
 public:
  EnergyLearner(model::Network& net, GradientOptions grad, AdamOptions adam)
      : net_(net), grad_(std::move(grad)), adam_opt_(adam) {}
  StepRecord learn(const FlowBatch& batch) override;
  AdamState& adam() override { return adam_; }
  model::ParamList& params() override { return net_.params(); }

 private:
  model::Network& net_;
  GradientOptions grad_;
  AdamOptions adam_opt_;
  AdamState adam_;
};

struct TrainHooks {
  std::function<void(const StepRecord&)> on_step;  // after each step
  std::function<void(long step)> on_checkpoint;    // every checkpoint_every steps and at the end
  long checkpoint_every = 0;
};

// The batch of a step; called for increasing steps from one thread at a time.
using BatchSource = std::function<FlowBatch(long step)>;

// Runs steps first_step+1 .. opt.steps, drawing each step's batch while the previous
// step learns (an OpenMP task beside the step's relaxation chunks). Exceptions from the
// batches, the learner or the hooks propagate.
void train(Learner& learner, const BatchSource& batches, const TrainOptions& opt, long first_step,
           const TrainHooks& hooks);

// Denoising score matching batches (DESIGN.md §4): x~ = x + sigma*eps with sigma drawn
// from a geometric schedule per sample (its index is the sample's level), u_t = -eps.
class DenoisingBatchSampler {
 public:
  DenoisingBatchSampler(const Eigen::MatrixXd& data, const TrainOptions& opt, std::vector<double> sigmas)
      : data_(data), opt_(opt), sigmas_(std::move(sigmas)) {}
  FlowBatch draw(long step) const;

 private:
  const Eigen::MatrixXd& data_;
  TrainOptions opt_;
  std::vector<double> sigmas_;
};

// sigma_max ... sigma_min, geometric, `levels` values (level 0 is sigma_max).
std::vector<double> geometric_sigmas(double sigma_max, double sigma_min, int levels);

}  // namespace eqsim::learn
