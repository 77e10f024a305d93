#include "model/network.hpp"

#include <cmath>
#include <cstdio>
#include <random>
#include <set>

#include "data/error.hpp"

namespace eqsim::model {

namespace {
std::string fmt_parameters(double n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", n);
  return buf;
}
}  // namespace

double parameter_count(const NetworkSpec& spec) {
  double n = 0;  // in double: a product of two int sizes and a rank can pass 2^63
  for (const auto& mod : spec.modules) n += double(mod.size) * (1.0 + mod.condition_levels);
  for (const auto& cp : spec.couplings) {
    const double np = spec.modules[cp.p].size, nq = spec.modules[cp.q].size;
    n += cp.kind == CouplingKind::dense ? np * nq : (np + nq) * cp.rank;
  }
  return n;
}

void validate(const NetworkSpec& spec, const std::string& source) {
  if (spec.modules.empty()) throw InputError(source, "network.modules", "no modules");
  std::set<std::string> names;
  for (size_t m = 0; m < spec.modules.size(); ++m) {
    const auto& mod = spec.modules[m];
    std::string key = "network.modules[" + std::to_string(m) + "]";
    if (mod.size <= 0) throw InputError(source, key + ".size", "must be positive");
    if (mod.condition_levels < 0) throw InputError(source, key + ".condition_levels", "must be >= 0");
    if (!names.insert(mod.name).second) throw InputError(source, key + ".name", "duplicate name " + mod.name);
  }
  const int nm = static_cast<int>(spec.modules.size());
  for (size_t c = 0; c < spec.couplings.size(); ++c) {
    const auto& cp = spec.couplings[c];
    std::string key = "network.couplings[" + std::to_string(c) + "]";
    if (cp.p < 0 || cp.p >= nm || cp.q < 0 || cp.q >= nm)
      throw InputError(source, key, "unknown module");
    if (cp.p == cp.q && cp.kind != CouplingKind::dense)
      throw InputError(source, key + ".kind", "an intra-module coupling must be dense");
    if (cp.kind == CouplingKind::bilinear && cp.rank <= 0)
      throw InputError(source, key + ".rank", "a bilinear coupling needs rank >= 1");
  }
  const double parameters = parameter_count(spec);
  if (parameters > kMaxParameters)
    throw InputError(source, "network", fmt_parameters(parameters) + " parameters; eqsim builds networks of at most " +
                                            fmt_parameters(kMaxParameters));
  if (spec.visible < 0 || spec.visible >= nm) throw InputError(source, "network.visible", "unknown module");
  if (spec.modules[spec.visible].activation != Activation::identity)
    throw InputError(source, "network.visible", "the spring acts on an identity (linear) module");
  if (!(spec.leak > 0)) throw InputError(source, "network.leak", "must be positive");
  if (!(spec.spring_lambda > 0)) throw InputError(source, "network.spring_lambda", "must be positive");
  if (!(spec.alpha > 0)) throw InputError(source, "network.alpha", "must be positive");
}

Network::Network(NetworkSpec spec) : spec_(std::move(spec)) {
  for (const auto& m : spec_.modules) {
    params_.push_back(Eigen::MatrixXd::Zero(m.size, 1));
    names_.push_back("b_" + m.name);
  }
  for (const auto& c : spec_.couplings) {
    const int np = spec_.modules[c.p].size, nq = spec_.modules[c.q].size;
    first_w_.push_back(static_cast<int>(params_.size()));
    if (c.kind == CouplingKind::dense) {
      params_.push_back(Eigen::MatrixXd::Zero(np, nq));
      names_.push_back("W_" + c.name);
    } else {
      params_.push_back(Eigen::MatrixXd::Zero(np, c.rank));
      names_.push_back("U_" + c.name);
      params_.push_back(Eigen::MatrixXd::Zero(nq, c.rank));
      names_.push_back("V_" + c.name);
    }
  }
  for (const auto& m : spec_.modules) {
    table_.push_back(m.condition_levels > 0 ? static_cast<int>(params_.size()) : -1);
    if (m.condition_levels == 0) continue;
    params_.push_back(Eigen::MatrixXd::Zero(m.size, m.condition_levels));
    names_.push_back("T_" + m.name);
  }
}

long Network::parameter_count() const {
  long n = 0;
  for (const auto& p : params_) n += p.size();
  return n;
}

void Network::init_xavier(double gain, unsigned long long seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (auto& p : params_) p.setZero();
  for (int c = 0; c < static_cast<int>(spec_.couplings.size()); ++c) {
    const int n_w = spec_.couplings[c].kind == CouplingKind::bilinear ? 2 : 1;
    for (int k = 0; k < n_w; ++k) {
      auto& p = params_[first_w_[c] + k];
      const double std_dev = gain * std::sqrt(2.0 / static_cast<double>(p.rows() + p.cols()));
      for (Eigen::Index i = 0; i < p.size(); ++i) p.data()[i] = std_dev * normal(rng);
    }
    if (is_self(c)) {
      auto& w = params_[first_w_[c]];
      w = (0.5 * (w + w.transpose())).eval();
      w.diagonal().setZero();
    }
  }
}

ParamList Network::zeros_like() const {
  ParamList z;
  for (const auto& p : params_) z.push_back(Eigen::MatrixXd::Zero(p.rows(), p.cols()));
  return z;
}

NetworkSpec floweqprop_spec() {
  NetworkSpec s;
  s.modules = {{"x", 64, Activation::identity}, {"h1", 128, Activation::tanh}, {"h2", 128, Activation::tanh}};
  s.couplings = {{"x_h1", 0, 1, CouplingKind::dense, 0}, {"h1_h2", 1, 2, CouplingKind::dense, 0}};
  s.visible = 0;
  return s;
}

void axpy(double a, const ParamList& x, ParamList& y) {
  for (size_t i = 0; i < x.size(); ++i) y[i] += a * x[i];
}
double dot(const ParamList& x, const ParamList& y) {
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i].cwiseProduct(y[i]).sum();
  return s;
}
double norm(const ParamList& x) { return std::sqrt(dot(x, x)); }
double cosine(const ParamList& x, const ParamList& y) {
  const double d = norm(x) * norm(y);
  return d > 0 ? dot(x, y) / d : 0.0;
}

}  // namespace eqsim::model
