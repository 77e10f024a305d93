// Training throughput and relaxation FLOP rate, beside the Eigen GEMM FLOP rate
// measured in the same run (issue: relaxation kernel >= 50 % of GEMM; paper-scale
// training, 2000 steps of the full 1797 batch, <= 10 minutes).
// Usage: bench_train [steps_to_time=5]. Prints medians over repeats.
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "data/digits.hpp"
#include "learn/trainer.hpp"

using namespace eqsim;
using Clock = std::chrono::steady_clock;

namespace {

double median_seconds(int repeats, const std::function<void()>& f) {
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double relax_flops(const model::Network& net, int batch, int sweeps) {
  double per_sweep = 0;
  for (int c = 0; c < static_cast<int>(net.spec().couplings.size()); ++c)
    per_sweep += 2.0 * 2.0 * net.w(c).size() * batch;  // both directions, multiply-add
  return per_sweep * sweeps;
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 5;
  const int B = 1797;
  std::printf("eqsim bench_train: batch %d, Eigen threads %d\n", B, Eigen::nbThreads());

  Eigen::MatrixXd W = Eigen::MatrixXd::Random(128, 128), A = Eigen::MatrixXd::Random(128, B), C(128, B);
  const double t_gemm = median_seconds(7, [&] {
    for (int i = 0; i < 20; ++i) C.noalias() = W * A;
  });
  const double gemm_rate = 20 * 2.0 * 128 * 128 * B / t_gemm;
  std::printf("GEMM 128x128 * 128x%d (double):       %8.1f GFLOP/s\n", B, gemm_rate / 1e9);

  model::Network net(model::floweqprop_spec());
  net.init_xavier(0.5, 1);
  const auto digits = data::load_digits();
  learn::TrainOptions topt;
  topt.batch_size = B;
  topt.pairing = learn::Pairing::random;
  learn::FlowBatchSampler sampler(digits.images, topt);
  const learn::FlowBatch batch = sampler.draw(1);
  const int sweeps = 20;
  const double t_relax = median_seconds(7, [&] {
    model::State s = model::initial_state(net, batch.x_t);
    model::relax(net, learn::free_clamp(net, batch.x_t), s, {model::RelaxMethod::block, sweeps, 0.1, 0});
  });
  const double relax_rate = relax_flops(net, B, sweeps) / t_relax;
  std::printf("relaxation, %d block sweeps (double):  %8.1f GFLOP/s  = %.0f %% of GEMM\n", sweeps, relax_rate / 1e9,
              100 * relax_rate / gemm_rate);

  for (auto pairing : {learn::Pairing::random, learn::Pairing::ot}) {
    topt.pairing = pairing;
    learn::FlowBatchSampler s2(digits.images, topt);
    s2.draw(1);  // warm the OT prices as in a running training
    long step = 1;
    const double t_batch = median_seconds(steps, [&] { s2.draw(++step); });
    std::printf("flow batch (%s pairing):            %8.3f s/step\n", learn::to_string(pairing).c_str(), t_batch);
  }

  learn::GradientOptions g;
  g.free_relax = {model::RelaxMethod::block, 20, 0.1, 0};
  g.nudged_relax = {model::RelaxMethod::block, 10, 0.1, 0};
  learn::EnergyLearner learner(net, g, {});
  const double t_grad = median_seconds(steps, [&] { learner.learn(batch); });
  std::printf("EP step, 20 free + 2x10 nudged sweeps:  %8.3f s/step\n", t_grad);
  topt.pairing = learn::Pairing::ot;
  learn::FlowBatchSampler s3(digits.images, topt);
  s3.draw(1);
  long step = 1;
  const double t_ot = median_seconds(steps, [&] { s3.draw(++step); });
  std::printf("projected paper-scale run (2000 steps, OT): %.0f s = %.1f min (random pairing: %.1f min)\n",
              2000 * (t_grad + t_ot), 2000 * (t_grad + t_ot) / 60, 2000 * t_grad / 60);
  return 0;
}
