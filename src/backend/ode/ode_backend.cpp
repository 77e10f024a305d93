#include "backend/ode/ode_backend.hpp"

#include <boost/numeric/odeint.hpp>
#include <boost/version.hpp>
#include <fmt/format.h>
#include <algorithm>
#include <cmath>

#include "backend/analysis.hpp"
#include "backend/ode/euler_maruyama.hpp"

namespace eqsim::backend::ode {

namespace {

constexpr double diverged_V = 1e6;        // |V| beyond this is a numerical failure
constexpr long max_steps = 2'000'000;     // adaptive steps before giving up (stiff circuit)
constexpr double early_stop_fraction = 1e-3;  // stop once the drift is this fraction of tol
constexpr double max_stored_values = 4e7;

struct Samples {
  std::vector<double> t;
  std::vector<Eigen::MatrixXd> x;
  std::vector<Eigen::MatrixXd> sources;  // current out of each voltage source's + terminal x columns
  std::string failure;
};

// Stores one sample; returns false (and sets the failure) when it is not finite or diverged.
bool record(Samples& s, const OdeSystem& sys, double t, const Eigen::MatrixXd& x, const Eigen::MatrixXd& vf) {
  s.t.push_back(t);
  s.x.push_back(x);
  s.sources.push_back(sys.source_currents(x, vf));
  if (!x.allFinite() || x.cwiseAbs().maxCoeff() > diverged_V) {
    s.failure = fmt::format("node voltages diverged (beyond {:g} V) at t = {:.6g} s", diverged_V, t);
    return false;
  }
  return true;
}

bool all_settled(const Samples& s, const Plan& plan, const RelaxOptions& opt) {
  const size_t K = s.x.size();
  if (K < 2) return false;
  const double rate = (s.x[K - 1] - s.x[K - 2]).cwiseAbs().maxCoeff() / (s.t[K - 1] - s.t[K - 2]);
  return rate * plan.drift_horizon_s < early_stop_fraction * opt.settle_tol_V;
}

Samples integrate_deterministic(const OdeSystem& sys, const Eigen::MatrixXd& x0, const Eigen::MatrixXd& vf,
                                const Plan& plan, const RelaxOptions& opt) {
  namespace oi = boost::numeric::odeint;
  using State = std::vector<double>;
  const auto n = x0.rows(), B = x0.cols();
  auto rhs = [&](const State& s, State& d, double) {
    Eigen::Map<const Eigen::MatrixXd> X(s.data(), n, B);
    Eigen::Map<Eigen::MatrixXd> D(d.data(), n, B);
    sys.derivative(X, vf, D);
  };
  State x(x0.data(), x0.data() + x0.size());
  auto stepper = oi::make_dense_output(opt.abs_tol_V, opt.rel_tol, oi::runge_kutta_dopri5<State>());
  stepper.initialize(x, 0.0, plan.sample_dt_s / 10);
  Samples out;
  record(out, sys, 0, x0, vf);
  long steps = 0;
  try {
    for (long k = 1;; ++k) {
      const double t = std::min(static_cast<double>(k) * plan.sample_dt_s, plan.t_stop_s);
      while (stepper.current_time() < t && ++steps < max_steps) stepper.do_step(rhs);
      if (steps >= max_steps) {
        out.failure = fmt::format("more than {} adaptive steps before t = {:.6g} s (stiff circuit?)", max_steps, t);
        break;
      }
      stepper.calc_state(t, x);
      if (!record(out, sys, t, Eigen::Map<const Eigen::MatrixXd>(x.data(), n, B), vf)) break;
      if (t >= plan.t_stop_s || (opt.stop_when_settled && all_settled(out, plan, opt))) break;
    }
  } catch (const std::exception& e) {
    out.failure = std::string("integrator failed: ") + e.what();
  }
  return out;
}

Samples integrate_noisy(const OdeSystem& sys, const Eigen::SparseMatrix<double>& noise, const Eigen::MatrixXd& x0,
                        const Eigen::MatrixXd& vf, const Plan& plan, const RelaxOptions& opt) {
  EulerMaruyama em(plan.noise_dt_s, opt.seed);
  const long stride = std::max(1L, std::lround(plan.sample_dt_s / plan.noise_dt_s));
  const long steps = static_cast<long>(std::ceil(plan.t_stop_s / plan.noise_dt_s - 1e-9));
  auto drift = [&](const Eigen::MatrixXd& x, Eigen::MatrixXd& f) { sys.derivative(x, vf, f); };
  auto diffusion = [&](const Eigen::MatrixXd& xi) {
    Eigen::MatrixXd y = noise * xi;
    sys.apply_inverse_capacitance(y);
    return y;
  };
  Samples out;
  Eigen::MatrixXd x = x0;
  record(out, sys, 0, x, vf);
  for (long k = 1; k <= steps; ++k) {
    em.step(x, drift, diffusion, noise.cols());
    if ((k % stride == 0 || k == steps) && !record(out, sys, static_cast<double>(k) * plan.noise_dt_s, x, vf)) break;
  }
  return out;
}

RelaxSummary summarise_column(const Samples& smp, const OdeSystem& sys, const circuit::Circuit& c,
                              const Eigen::MatrixXd& vf, Eigen::Index j, const Plan& plan, const RelaxOptions& opt,
                              bool noisy) {
  Trace tr;
  for (size_t k = 0; k < smp.t.size(); ++k) {
    Eigen::VectorXd v(sys.node_count());
    v << smp.x[k].col(j), vf.col(j);
    tr.t_s.push_back(smp.t[k]);
    tr.v_V.push_back(std::move(v));
    tr.source_A.push_back(smp.sources[k].col(j));
  }
  RelaxSummary s;
  s.backend = "ode (" + OdeBackend().version() + ")";
  s.nodes = sys.node_names();
  s.sources = voltage_sources(c);
  analyse(tr, plan, opt, noisy, s);
  if (!smp.failure.empty()) {
    s.status = Status::numerical_failure;
    s.message = smp.failure;
  }
  return s;
}

}  // namespace

std::vector<RelaxSummary> relax_batch(const OdeSystem& sys, const circuit::Circuit& c, const Eigen::MatrixXd& x0,
                                      const Eigen::MatrixXd& vf, const RelaxOptions& opt) {
  Plan plan = make_plan(c, opt);
  const double per_sample = static_cast<double>(sys.node_count()) * static_cast<double>(x0.cols());
  plan.sample_dt_s = std::max(plan.sample_dt_s, plan.t_stop_s * per_sample / max_stored_values);
  plan.sample_dt_s = plan.noise_dt_s * std::max(1.0, std::round(plan.sample_dt_s / plan.noise_dt_s));
  const bool noisy = opt.temperature_K > 0;
  const Samples smp = noisy ? integrate_noisy(sys, sys.noise_map(c, opt.temperature_K), x0, vf, plan, opt)
                            : integrate_deterministic(sys, x0, vf, plan, opt);
  std::vector<RelaxSummary> out;
  for (Eigen::Index j = 0; j < x0.cols(); ++j) out.push_back(summarise_column(smp, sys, c, vf, j, plan, opt, noisy));
  return out;
}

std::string OdeBackend::name() const { return "ode"; }

std::string OdeBackend::version() const {
  return "Boost.Odeint " + std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000);
}

namespace {

// Every column in one relax_batch: start voltages into the free nodes, the listed
// sources into the held ones.
class OdeBatchRelaxer : public BatchRelaxer {
 public:
  explicit OdeBatchRelaxer(const circuit::Circuit& c) : c_(c), sys_(c_), nodes_(circuit::node_names(c_)) {
    for (const auto& n : nodes_) sys_row_.push_back(sys_.node_index(n));
  }

  BatchSummary relax(const BatchRequest& req, const RelaxOptions& opt, const std::function<void(long)>& on_relaxed) override {
    check_batch_request(c_, nodes_, req);
    const Eigen::Index B = req.source_V.cols();
    Eigen::MatrixXd vf = sys_.fixed_voltages().replicate(1, B);
    for (size_t s = 0; s < req.sources.size(); ++s)
      vf.row(sys_.node_index(c_.elements[req.sources[s]].n_plus) - sys_.state_count()) = req.source_V.row(s);
    Eigen::MatrixXd x0 = sys_.initial_state().replicate(1, B);
    if (req.start_V.size())
      for (size_t k = 0; k < nodes_.size(); ++k)
        if (sys_row_[k] >= 0 && sys_row_[k] < sys_.state_count()) x0.row(sys_row_[k]) = req.start_V.row(k);
    BatchSummary out{nodes_, Eigen::MatrixXd(static_cast<Eigen::Index>(nodes_.size()), B), relax_batch(sys_, c_, x0, vf, opt)};
    for (Eigen::Index j = 0; j < B; ++j)
      for (size_t k = 0; k < nodes_.size(); ++k) out.final_V(k, j) = out.runs[j].final_V(sys_row_[k]);
    if (on_relaxed) on_relaxed(B);
    return out;
  }

 private:
  circuit::Circuit c_;
  OdeSystem sys_;
  std::vector<std::string> nodes_;
  std::vector<int> sys_row_;  // per node (circuit::node_names order): its index in sys_
};

}  // namespace

std::unique_ptr<BatchRelaxer> OdeBackend::batch_relaxer(const circuit::Circuit& c) {
  return std::make_unique<OdeBatchRelaxer>(c);
}

RelaxSummary OdeBackend::relax(const circuit::Circuit& c, const RelaxOptions& opt) {
  const OdeSystem sys(c);
  return relax_batch(sys, c, sys.initial_state(), sys.fixed_voltages(), opt).front();
}

}  // namespace eqsim::backend::ode
