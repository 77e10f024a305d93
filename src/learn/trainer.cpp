#include "learn/trainer.hpp"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <exception>
#include <numeric>
#include <random>
#include <stdexcept>

#include "learn/assignment.hpp"

namespace eqsim::learn {

Pairing pairing_from_string(const std::string& s) {
  if (s == "ot") return Pairing::ot;
  if (s == "random") return Pairing::random;
  throw std::invalid_argument("unknown pairing '" + s + "' (ot, random)");
}

std::string to_string(Pairing p) { return p == Pairing::ot ? "ot" : "random"; }

FlowBatch FlowBatchSampler::draw(long step) {
  const Eigen::MatrixXd& data = data_;
  const TrainOptions& opt = opt_;
  std::seed_seq seq{static_cast<unsigned long long>(opt.seed), static_cast<unsigned long long>(step), 0x466c6f77ULL};
  std::mt19937_64 rng(seq);
  const int n_data = static_cast<int>(data.cols());
  const int B = std::min(opt.batch_size, n_data);
  std::vector<int> idx(n_data);
  std::iota(idx.begin(), idx.end(), 0);
  if (B < n_data)
    for (int i = 0; i < B; ++i) std::swap(idx[i], idx[i + std::uniform_int_distribution<int>(0, n_data - 1 - i)(rng)]);
  Eigen::MatrixXd x1(data.rows(), B), x0(data.rows(), B);
  for (int i = 0; i < B; ++i) x1.col(i) = data.col(idx[i]);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (Eigen::Index k = 0; k < x0.size(); ++k) x0.data()[k] = normal(rng);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  Eigen::RowVectorXd t(B);
  for (int i = 0; i < B; ++i) t(i) = uniform(rng);
  if (opt.pairing == Pairing::ot) {  // noise column i goes to the data column p[i]
    if (prices_.size() != static_cast<size_t>(n_data)) prices_.assign(n_data, 0.0);
    std::vector<double> prices(B);
    for (int i = 0; i < B; ++i) prices[i] = prices_[idx[i]];
    const auto p = solve_assignment(squared_distances(x0, x1), &prices);
    for (int i = 0; i < B; ++i) prices_[idx[i]] = prices[i];
    Eigen::MatrixXd paired(x1.rows(), B);
    for (int i = 0; i < B; ++i) paired.col(i) = x1.col(p[i]);
    x1 = std::move(paired);
  }
  FlowBatch b;
  b.x_t = x0 + (x1 - x0) * t.asDiagonal();
  b.u_t = x1 - x0;
  b.t = t;
  b.noise_seed = rng();
  return b;
}

std::vector<double> geometric_sigmas(double sigma_max, double sigma_min, int levels) {
  std::vector<double> s(levels);
  for (int k = 0; k < levels; ++k)
    s[k] = levels == 1 ? sigma_max : sigma_max * std::pow(sigma_min / sigma_max, static_cast<double>(k) / (levels - 1));
  return s;
}

FlowBatch DenoisingBatchSampler::draw(long step) const {
  std::seed_seq seq{static_cast<unsigned long long>(opt_.seed), static_cast<unsigned long long>(step), 0x44534dULL};
  std::mt19937_64 rng(seq);
  const int n_data = static_cast<int>(data_.cols());
  const int B = std::min(opt_.batch_size, n_data);
  std::vector<int> idx(n_data);
  std::iota(idx.begin(), idx.end(), 0);
  for (int i = 0; i < B; ++i) std::swap(idx[i], idx[i + std::uniform_int_distribution<int>(0, n_data - 1 - i)(rng)]);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_int_distribution<int> level(0, static_cast<int>(sigmas_.size()) - 1);
  FlowBatch b;
  b.x_t.resize(data_.rows(), B);
  b.u_t.resize(data_.rows(), B);
  b.t.resize(B);
  b.levels.resize(B);
  for (int i = 0; i < B; ++i) {
    b.levels[i] = level(rng);
    const double sigma = sigmas_[b.levels[i]];
    b.t(i) = sigma;
    for (Eigen::Index p = 0; p < data_.rows(); ++p) {
      const double eps = normal(rng);
      b.x_t(p, i) = data_(p, idx[i]) + sigma * eps;
      b.u_t(p, i) = -eps;
    }
  }
  b.noise_seed = rng();
  return b;
}

StepRecord EnergyLearner::learn(const FlowBatch& batch) {
  auto r = flow_gradient(net_, batch, grad_);
  StepRecord rec;
  rec.loss = r.loss;
  rec.relax_change = r.free_summary.last_change;
  rec.grad_norm = adam_update(adam_opt_, adam_, r.grad, net_.params());
  return rec;
}

namespace {

// Draws the batch of `step` into *next as a task of the enclosing parallel region (an
// exception is kept in *error for the loop to rethrow).
void draw_as_task(const BatchSource* batches, long step, FlowBatch* next, std::exception_ptr* error) {
#pragma omp task firstprivate(batches, step, next, error)
  try {
    *next = (*batches)(step);
  } catch (...) {
    *error = std::current_exception();
  }
}

}  // namespace

void train(Learner& learner, const BatchSource& batches, const TrainOptions& opt, long first_step,
           const TrainHooks& hooks) {
  if (first_step >= opt.steps) return;
  // One parallel region for the whole loop: the next batch (its OT pairing is serial work)
  // is a task that one thread takes while the others run this step's relaxation chunks,
  // which model::for_each_chunk makes tasks too, so that thread joins them once the batch
  // is drawn. No third thread shares the cores, none spins while the pairing waits for one.
  // Relaxers with parallel loops of their own (a chip's circuit) get a nested team.
  const int levels = omp_get_max_active_levels();
  omp_set_max_active_levels(std::max(levels, 2));
  std::exception_ptr failure;
#pragma omp parallel
#pragma omp single
  {
    FlowBatch next;
    std::exception_ptr draw_failure;
    draw_as_task(&batches, first_step + 1, &next, &draw_failure);
    try {
      for (long step = first_step + 1; step <= opt.steps; ++step) {
        const auto t0 = std::chrono::steady_clock::now();
#pragma omp taskwait
        if (draw_failure) std::rethrow_exception(draw_failure);
        const FlowBatch batch = std::move(next);
        if (step < opt.steps) draw_as_task(&batches, step + 1, &next, &draw_failure);
        StepRecord rec = learner.learn(batch);
        rec.step = step;
        rec.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (hooks.on_step) hooks.on_step(rec);
        const bool at_checkpoint = hooks.checkpoint_every > 0 && step % hooks.checkpoint_every == 0;
        if (hooks.on_checkpoint && (at_checkpoint || step == opt.steps)) hooks.on_checkpoint(step);
      }
    } catch (...) {
      failure = std::current_exception();
    }
#pragma omp taskwait
  }
  omp_set_max_active_levels(levels);
  if (failure) std::rethrow_exception(failure);
}

}  // namespace eqsim::learn
