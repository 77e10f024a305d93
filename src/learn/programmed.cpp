#include "learn/programmed.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "learn/adam.hpp"

namespace eqsim::learn {

WeightUpdate weight_update_from_string(const std::string& s) {
  if (s == "shadow") return WeightUpdate::shadow;
  if (s == "stochastic_rounding") return WeightUpdate::stochastic_rounding;
  throw std::invalid_argument("unknown weight update '" + s + "' (shadow, stochastic_rounding)");
}

std::string to_string(WeightUpdate u) { return u == WeightUpdate::shadow ? "shadow" : "stochastic_rounding"; }

namespace {

double max_code(int bits) { return std::pow(2.0, bits - 1) - 1; }

// Codes of x on a grid of lsb, clipped to the range; returns how many changed from `before`.
long round_to_codes(Eigen::MatrixXd& x, double lsb, int bits, const Eigen::MatrixXd* before) {
  const double top = max_code(bits);
  long changed = 0;
  for (Eigen::Index k = 0; k < x.size(); ++k) {
    const double code = std::clamp(std::round(x.data()[k] / lsb), -top, top);
    x.data()[k] = code * lsb;
    if (before) changed += x.data()[k] != before->data()[k];
  }
  return changed;
}

}  // namespace

std::vector<double> program_weights(model::ParamList& params, const WeightProgramming& prog) {
  std::vector<double> lsb;
  for (auto& p : params) {
    if (prog.bits <= 0) {
      lsb.push_back(0);
      continue;
    }
    const double full = prog.headroom * std::max(p.cwiseAbs().maxCoeff(), 1e-12);
    lsb.push_back(full / max_code(prog.bits));
    round_to_codes(p, lsb.back(), prog.bits, nullptr);
  }
  return lsb;
}

ProgrammedLearner::ProgrammedLearner(model::Network& net, GradientOptions grad, AdamOptions adam, WeightProgramming prog)
    : net_(net), grad_(std::move(grad)), adam_opt_(adam), prog_(prog), rng_(prog.seed) {
  if (prog_.bits < 0 || prog_.bits == 1 || prog_.bits > 30)
    throw std::invalid_argument("weight bits must be 0 (unquantised) or 2..30");
  shadow_ = net_.params();
  lsb_ = program_weights(net_.params(), prog_);
}

StepRecord ProgrammedLearner::learn(const FlowBatch& batch) {
  auto r = flow_gradient(net_, batch, grad_);
  if (readout_) readout_(r, batch);
  StepRecord rec;
  rec.loss = r.loss;
  rec.relax_change = r.free_summary.last_change;
  ++steps_;
  if (prog_.bits <= 0) {
    rec.grad_norm = adam_update(adam_opt_, adam_, r.grad, net_.params());
    for (const auto& p : net_.params()) writes_ += p.size();  // analog weights: every one rewritten
    return rec;
  }
  const model::ParamList before = net_.params();
  if (prog_.update == WeightUpdate::shadow) {
    rec.grad_norm = adam_update(adam_opt_, adam_, r.grad, shadow_);
    for (size_t a = 0; a < shadow_.size(); ++a) {
      net_.params()[a] = shadow_[a];
      writes_ += round_to_codes(net_.params()[a], lsb_[a], prog_.bits, &before[a]);
    }
    return rec;
  }
  model::ParamList target = before;  // what Adam would make of the programmed weights
  rec.grad_norm = adam_update(adam_opt_, adam_, r.grad, target);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  const double top = max_code(prog_.bits);
  for (size_t a = 0; a < target.size(); ++a) {
    auto& p = net_.params()[a];
    for (Eigen::Index k = 0; k < p.size(); ++k) {
      const double code = std::round(p.data()[k] / lsb_[a]);
      const double step = std::floor((target[a].data()[k] - p.data()[k]) / lsb_[a] + u01(rng_));
      p.data()[k] = std::clamp(code + step, -top, top) * lsb_[a];
      writes_ += p.data()[k] != before[a].data()[k];
    }
  }
  return rec;
}

}  // namespace eqsim::learn
