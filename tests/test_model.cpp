#include <doctest/doctest.h>

#include <Eigen/Dense>

#include "data/error.hpp"
#include "helpers.hpp"
#include "learn/flow.hpp"
#include "model/implicit.hpp"
#include "model/relax.hpp"

using namespace eqsim;

TEST_CASE("FlowEqProp network has the paper's 24,896 parameters") {
  model::Network net(model::floweqprop_spec());
  CHECK(net.parameter_count() == 24896);
  CHECK(model::parameter_count(model::floweqprop_spec()) == 24896);  // the count validate bounds, from the spec alone
}

TEST_CASE("a network past kMaxParameters is refused by validate, naming the file and the count") {
  auto spec = testing::small_spec(false);
  spec.modules[1].size = 7000, spec.modules[2].size = 7000;  // 6 x 7000 + 7000 x 7000 + biases: 4.91e7
  CHECK_NOTHROW(model::validate(spec, "m.yaml"));
  spec.modules[2].size = 511111111;  // as a fuzzed model.yaml asked: 3.6e12 parameters
  try {
    model::validate(spec, "m.yaml");
    FAIL("no InputError");
  } catch (const InputError& e) {
    const std::string what = e.what();
    CHECK_MESSAGE(what.find("m.yaml") != std::string::npos, what);
    CHECK_MESSAGE(what.find("3.58e+12 parameters; eqsim builds networks of at most 5e+07") != std::string::npos, what);
  }
}

TEST_CASE("block-coordinate and Euler relaxation reach the same equilibrium") {
  auto net = testing::small_network(3);
  Eigen::MatrixXd x_t = Eigen::MatrixXd::Random(6, 4);
  auto clamp = learn::free_clamp(net, x_t);
  auto block = model::initial_state(net, x_t);
  auto sb = model::relax(net, clamp, block, {model::RelaxMethod::block, 500, 0.1, 1e-13});
  CHECK(sb.converged);
  auto euler = model::initial_state(net, x_t);
  model::RelaxOptions eo{model::RelaxMethod::euler, 20000, 0.05, 1e-13};
  auto se = model::relax(net, clamp, euler, eo);
  CHECK(se.converged);
  for (int m = 0; m < net.module_count(); ++m) CHECK((block.u[m] - euler.u[m]).cwiseAbs().maxCoeff() < 1e-9);
  // The equilibrium is a stationary point: zero net current into every node.
  for (const auto& f : model::force(net, clamp, block)) CHECK(f.cwiseAbs().maxCoeff() < 1e-10);
}

TEST_CASE("energy decreases monotonically along the circuit dynamics") {
  auto net = testing::small_network(5);
  net.init_xavier(2.0, 9);  // strong couplings: a non-trivial trajectory
  Eigen::MatrixXd x_t = Eigen::MatrixXd::Random(6, 3);
  auto clamp = learn::free_clamp(net, x_t);
  auto s = model::initial_state(net, x_t);
  Eigen::RowVectorXd prev = model::energy(net, clamp, s);
  const Eigen::RowVectorXd start = prev;
  for (int k = 0; k < 400; ++k) {
    model::relax(net, clamp, s, {model::RelaxMethod::euler, 1, 0.05, 0});
    Eigen::RowVectorXd e = model::energy(net, clamp, s);
    CHECK((e.array() <= prev.array() + 1e-12).all());
    prev = e;
  }
  CHECK((prev.array() < start.array() - 1e-3).all());
}

TEST_CASE("block sweeps never raise the energy") {
  auto net = testing::small_network(11);
  net.init_xavier(2.0, 12);
  Eigen::MatrixXd x_t = Eigen::MatrixXd::Random(6, 3);
  auto clamp = learn::free_clamp(net, x_t);
  auto s = model::initial_state(net, x_t);
  Eigen::RowVectorXd prev = model::energy(net, clamp, s);
  for (int k = 0; k < 30; ++k) {
    model::relax(net, clamp, s, {model::RelaxMethod::block, 1, 0.1, 0});
    Eigen::RowVectorXd e = model::energy(net, clamp, s);
    CHECK((e.array() <= prev.array() + 1e-12).all());
    prev = e;
  }
}

TEST_CASE("the adjoint CG solve matches a dense solve of the Hessian") {
  auto net = testing::small_network(7);
  Eigen::MatrixXd x_t = Eigen::MatrixXd::Random(6, 3);
  auto clamp = learn::free_clamp(net, x_t);
  auto s = model::initial_state(net, x_t);
  model::relax(net, clamp, s, {model::RelaxMethod::block, 500, 0.1, 1e-14});
  std::vector<Eigen::MatrixXd> g(3), lambda;
  for (int m = 0; m < 3; ++m) g[m] = Eigen::MatrixXd::Random(net.size(m), 3);
  auto sum = model::solve_adjoint(net, clamp, s, g, lambda);
  CHECK(sum.converged);
  for (int k = 0; k < 3; ++k) {
    Eigen::MatrixXd H = model::dense_hessian(net, clamp, s, k);
    CHECK((H - H.transpose()).norm() < 1e-12);
    Eigen::VectorXd rhs(18), lam(18);
    rhs << g[0].col(k), g[1].col(k), g[2].col(k);
    lam << lambda[0].col(k), lambda[1].col(k), lambda[2].col(k);
    CHECK((H.ldlt().solve(rhs) - lam).norm() < 1e-8 * rhs.norm());
  }
}

namespace {

learn::FlowBatch random_batch(int B, unsigned seed) {
  std::srand(seed);
  return {Eigen::MatrixXd::Random(6, B), Eigen::MatrixXd::Random(6, B) * 2};
}

const model::RelaxOptions kConverged{model::RelaxMethod::block, 5000, 0.1, 1e-14};

}  // namespace

TEST_CASE("exact implicit gradient matches central finite differences of the loss") {
  for (bool bilinear : {false, true}) {
    auto net = testing::small_network(21, bilinear);
    auto batch = random_batch(5, 4);
    learn::GradientOptions opt;
    opt.estimator = learn::Estimator::exact;
    opt.free_relax = kConverged;
    opt.adjoint.rel_tol = 1e-13;
    auto exact = learn::flow_gradient(net, batch, opt).grad;
    const double h = 1e-5;
    double worst = 0, scale = model::norm(exact);
    for (size_t p = 0; p < net.params().size(); ++p) {
      for (Eigen::Index k = 0; k < net.params()[p].size(); k += 3) {
        auto& w = net.params()[p].data()[k];
        const double w0 = w;
        w = w0 + h;
        const double lp = learn::flow_batch_loss(net, batch, kConverged);
        w = w0 - h;
        const double lm = learn::flow_batch_loss(net, batch, kConverged);
        w = w0;
        worst = std::max(worst, std::abs((lp - lm) / (2 * h) - exact[p].data()[k]));
      }
    }
    INFO("bilinear=" << bilinear << " worst abs error " << worst << " |grad| " << scale);
    CHECK(worst < 1e-6 * std::max(1.0, scale));
  }
}

TEST_CASE("symmetric EP matches the exact gradient at small beta; one-sided is O(beta)") {
  auto net = testing::small_network(31);
  auto batch = random_batch(8, 5);
  learn::GradientOptions opt;
  opt.free_relax = opt.nudged_relax = kConverged;
  opt.adjoint.rel_tol = 1e-13;
  opt.estimator = learn::Estimator::exact;
  auto exact = learn::flow_gradient(net, batch, opt).grad;
  auto err = [&](learn::Estimator e, double beta) {
    opt.estimator = e;
    opt.beta = beta;
    auto g = learn::flow_gradient(net, batch, opt).grad;
    model::axpy(-1.0, exact, g);
    return model::norm(g) / model::norm(exact);
  };
  opt.estimator = learn::Estimator::symmetric;
  opt.beta = 1e-3;
  CHECK(model::cosine(learn::flow_gradient(net, batch, opt).grad, exact) > 0.9999);
  // Bias slopes: one-sided ~ beta, symmetric ~ beta^2.
  const double s1 = std::log10(err(learn::Estimator::one_sided, 1e-2) / err(learn::Estimator::one_sided, 1e-3));
  const double s2 = std::log10(err(learn::Estimator::symmetric, 1e-2) / err(learn::Estimator::symmetric, 1e-3));
  CHECK(s1 == doctest::Approx(1.0).epsilon(0.15));
  CHECK(s2 == doctest::Approx(2.0).epsilon(0.15));
}

namespace {

// A diffusion-style net: visible x with an intra coupling, tanh decoder d with an intra
// coupling and a 3-level bias table, x-d bilinear.
model::Network conditioned_network(unsigned long long seed) {
  model::NetworkSpec s;
  s.modules = {{"x", 5, model::Activation::identity, 0}, {"d", 6, model::Activation::tanh, 3}};
  s.couplings = {{"x_d", 0, 1, model::CouplingKind::bilinear, 2},
                 {"d_d", 1, 1, model::CouplingKind::dense, 0},
                 {"x_x", 0, 0, model::CouplingKind::dense, 0}};
  s.spring_lambda = 2;
  s.alpha = 1;
  model::Network net(s);
  net.init_xavier(0.8, seed);
  for (int m = 0; m < 2; ++m) net.params()[m].setRandom() *= 0.3;
  net.params()[net.table_index(1)].setRandom() *= 0.5;
  return net;
}

}  // namespace

TEST_CASE("intra-module couplings and bias tables: exact gradient matches finite differences") {
  auto net = conditioned_network(41);
  CHECK(net.w(1).isApprox(net.w(1).transpose()));
  CHECK(net.w(1).diagonal().isZero());
  learn::FlowBatch b{Eigen::MatrixXd::Random(5, 6), Eigen::MatrixXd::Random(5, 6), {}, {0, 2, 1, 1, 0, 2}};
  const model::RelaxOptions conv{model::RelaxMethod::euler, 200000, 0.2, 1e-14};
  CHECK_THROWS_AS(learn::flow_batch_loss(net, b, kConverged), std::invalid_argument);  // block can't
  learn::GradientOptions opt;
  opt.estimator = learn::Estimator::exact;
  opt.free_relax = conv;
  opt.adjoint.rel_tol = 1e-13;
  auto exact = learn::flow_gradient(net, b, opt).grad;
  const double h = 1e-5;
  double worst = 0;
  for (size_t p = 0; p < net.params().size(); ++p) {
    for (Eigen::Index k = 0; k < net.params()[p].size(); ++k) {
      auto& m = net.params()[p];
      const Eigen::Index r = k % m.rows(), c = k / m.rows();
      const bool self = net.param_names()[p].rfind("W_", 0) == 0;
      if (self && r >= c) continue;  // symmetric: perturb W_rc and W_cr together
      auto loss_at = [&](double delta) {
        m(r, c) += delta;
        if (self) m(c, r) += delta;
        const double l = learn::flow_batch_loss(net, b, conv);
        m(r, c) -= delta;
        if (self) m(c, r) -= delta;
        return l;
      };
      const double fd = (loss_at(h) - loss_at(-h)) / (2 * h);
      const double analytic = self ? exact[p](r, c) + exact[p](c, r) : exact[p](r, c);
      worst = std::max(worst, std::abs(fd - analytic));
    }
  }
  INFO("worst " << worst);
  CHECK(worst < 1e-6 * std::max(1.0, model::norm(exact)));
}

TEST_CASE("Langevin relaxation samples exp(-E/T): variance T/(G + lambda) on a spring-held linear unit") {
  model::NetworkSpec s;
  s.modules = {{"x", 1, model::Activation::identity, 0}};
  s.spring_lambda = 3;
  model::Network net(s);
  const int B = 4000;
  Eigen::MatrixXd x_t = Eigen::MatrixXd::Constant(1, B, 0.5);
  auto clamp = learn::free_clamp(net, x_t);
  auto st = model::initial_state(net, x_t);
  const double T = 0.02;
  model::RelaxOptions o{model::RelaxMethod::euler, 400, 0.01, 0, T, 7};
  model::relax(net, clamp, st, o);  // burn in: 4 time constants (1/(G+lambda) = 0.25)
  double sum = 0, sum2 = 0;
  int n = 0;
  for (int rep = 0; rep < 20; ++rep) {
    o.noise_seed = 100 + rep;
    model::relax(net, clamp, st, o);
    sum += st.u[0].sum();
    sum2 += st.u[0].squaredNorm();
    n += B;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  // Exact OU with Euler-Maruyama step: Var = 2 T dt / (1 - (1 - k dt)^2), k = G + lambda.
  const double k = 4, dt = 0.01, exact = 2 * T * dt / (1 - (1 - k * dt) * (1 - k * dt));
  CHECK(mean == doctest::Approx(3.0 * 0.5 / 4.0).epsilon(0.01));
  CHECK(var == doctest::Approx(exact).epsilon(0.03));
  CHECK(exact == doctest::Approx(T / k).epsilon(0.03));
}

TEST_CASE("float32 relaxation follows float64 to single precision, block and Euler, over several column chunks") {
  auto net = testing::small_network(23);
  net.init_xavier(1.5, 24);  // strong couplings: a non-trivial equilibrium
  std::srand(3);
  const Eigen::MatrixXd x_t = Eigen::MatrixXd::Random(6, 300);  // 300 columns: two chunks
  const auto clamp = learn::free_clamp(net, x_t);
  for (auto method : {model::RelaxMethod::block, model::RelaxMethod::euler}) {
    model::RelaxOptions o{method, method == model::RelaxMethod::block ? 200 : 3000, 0.1, 0};
    auto s64 = model::initial_state(net, x_t), s32 = s64;
    model::relax(net, clamp, s64, o);
    o.precision = model::Precision::float32;
    const auto sum = model::relax(net, clamp, s32, o);
    double worst = 0;
    for (int m = 0; m < net.module_count(); ++m) worst = std::max(worst, (s32.u[m] - s64.u[m]).cwiseAbs().maxCoeff());
    CHECK(worst > 0);      // the float path ran
    // Measured 2.9e-6 (block), 8.8e-6 (Euler, whose steps dt*du stall below half a float ulp of u).
    CHECK(worst < 2e-5);
    CHECK(sum.last_change < 1e-5);
    for (int m = 0; m < net.module_count(); ++m) CHECK(s32.a[m].isApprox(s32.u[m].array().tanh().matrix(), 1e-6) == (m > 0));
  }
}

TEST_CASE("energy_param_grad_difference is the difference of the two local-product gradients") {
  auto net = testing::small_network(29);
  std::srand(4);
  const Eigen::MatrixXd x_t = Eigen::MatrixXd::Random(6, 9);
  const auto clamp = learn::free_clamp(net, x_t);
  auto s0 = model::initial_state(net, x_t), s1 = s0;
  model::relax(net, clamp, s0, kConverged);
  model::relax(net, clamp, s1, {model::RelaxMethod::block, 2, 0.1, 0});
  auto expected = model::energy_param_grad(net, clamp, s1);
  model::axpy(-1.0, model::energy_param_grad(net, clamp, s0), expected);
  const auto diff = model::energy_param_grad_difference(net, clamp, s1, s0);
  model::axpy(-1.0, expected, const_cast<model::ParamList&>(diff));
  CHECK(model::norm(expected) > 1e-3);
  CHECK(model::norm(diff) < 1e-14 * model::norm(expected) * 100);
}

TEST_CASE("symmetric EP in float32 relaxations still matches the exact gradient (beta 1e-3, 100-sweep phases)") {
  auto net = testing::small_network(31);
  auto batch = random_batch(400, 5);  // several column chunks
  learn::GradientOptions opt;
  opt.free_relax = opt.nudged_relax = kConverged;
  opt.adjoint.rel_tol = 1e-13;
  opt.estimator = learn::Estimator::exact;
  const auto exact = learn::flow_gradient(net, batch, opt);
  opt.estimator = learn::Estimator::symmetric;
  opt.beta = 1e-3;
  opt.nudged_relax = {model::RelaxMethod::block, 100, 0.1, 0, 0, 0, model::Precision::float32};
  const auto ep = learn::flow_gradient(net, batch, opt, &exact.free_state).grad;
  CHECK(model::cosine(ep, exact.grad) > 0.9999);
}
