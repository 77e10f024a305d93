#include <doctest/doctest.h>

#include <omp.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "data/digits.hpp"
#include "learn/assignment.hpp"
#include "learn/mlp.hpp"
#include "learn/sampler.hpp"
#include "learn/trainer.hpp"
#include "metrics/quality.hpp"
#include "metrics/stats.hpp"
#include "learn/programmed.hpp"
#include "helpers.hpp"

using namespace eqsim;

TEST_CASE("beta stability bound at lambda=15, alpha=2 is about 0.018") {
  auto s = model::floweqprop_spec();
  CHECK(learn::max_stable_beta(s) == doctest::Approx(16.0 / 900.0));
}

TEST_CASE("the assignment solver finds the brute-force optimum, cold and warm-started") {
  std::mt19937_64 rng(3);
  std::vector<double> prices;
  for (int trial = 0; trial < 400; ++trial) {
    const int n = 2 + trial % 6;
    Eigen::MatrixXd c(n, n);
    for (Eigen::Index k = 0; k < c.size(); ++k)  // integer parts make ties common
      c.data()[k] = std::uniform_int_distribution<int>(0, 4)(rng) + (trial % 2) * std::uniform_real_distribution<double>(0, 1)(rng);
    std::vector<int> p(n);
    std::iota(p.begin(), p.end(), 0);
    double best = 1e300;
    do {
      double s = 0;
      for (int i = 0; i < n; ++i) s += c(i, p[i]);
      best = std::min(best, s);
    } while (std::next_permutation(p.begin(), p.end()));
    for (std::vector<double>* warm : {static_cast<std::vector<double>*>(nullptr), &prices})
      for (int candidates : {0, 1}) {  // 0: dense at these sizes; 1: the sparse pass, certificate, regrowth
        if (warm && static_cast<int>(warm->size()) != n) warm->assign(n, 0.3 * (trial % 3));
        const auto q = learn::solve_assignment(c, warm, candidates);
        std::vector<int> sorted = q;
        std::sort(sorted.begin(), sorted.end());
        for (int i = 0; i < n; ++i) REQUIRE(sorted[i] == i);  // a permutation
        double s = 0;
        for (int i = 0; i < n; ++i) s += c(i, q[i]);
        CHECK(s == doctest::Approx(best).epsilon(1e-12));
      }
  }
}

TEST_CASE("the sparse assignment pass reaches the dense solver's optimum on digits-sized OT batches") {
  const auto digits = data::load_digits();
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  const Eigen::MatrixXd x1 = digits.images.leftCols(600);
  std::vector<double> sparse_prices, dense_prices;
  for (int step = 0; step < 3; ++step) {  // warm-started like the trainer
    Eigen::MatrixXd x0(64, 600);
    for (Eigen::Index k = 0; k < x0.size(); ++k) x0.data()[k] = normal(rng);
    const Eigen::MatrixXd c = learn::squared_distances(x0, x1);
    const auto sparse = learn::solve_assignment(c, &sparse_prices, 8);
    const auto dense = learn::solve_assignment(c, &dense_prices, 600);
    double s = 0, d = 0;
    for (int i = 0; i < 600; ++i) s += c(i, sparse[i]), d += c(i, dense[i]);
    CHECK(s == doctest::Approx(d).epsilon(1e-12));
  }
}

TEST_CASE("OT pairing shortens the flow paths of a real digits batch") {
  const auto digits = data::load_digits();
  learn::TrainOptions opt;
  opt.batch_size = 300;
  opt.pairing = learn::Pairing::random;
  const auto random = learn::FlowBatchSampler(digits.images, opt).draw(1);
  opt.pairing = learn::Pairing::ot;
  const auto ot = learn::FlowBatchSampler(digits.images, opt).draw(1);
  CHECK(ot.u_t.squaredNorm() < 0.9 * random.u_t.squaredNorm());  // measured ~0.81 at B = 300
  CHECK(ot.t == random.t);  // same draws, only the pairing differs
}

TEST_CASE("training gives the same parameters, bit for bit, on one thread and on two (float32, OT, several chunks)") {
  const auto digits = data::load_digits();
  learn::TrainOptions opt;
  opt.batch_size = 400;  // three column chunks
  opt.steps = 3;
  learn::GradientOptions g;
  g.free_relax = {model::RelaxMethod::block, 20, 0.1, 0, 0, 0, model::Precision::float32};
  g.nudged_relax = {model::RelaxMethod::block, 10, 0.1, 0, 0, 0, model::Precision::float32};
  auto train_with = [&](int threads) {
    omp_set_num_threads(threads);
    model::Network net(model::floweqprop_spec());
    net.init_xavier(0.5, 0);
    learn::EnergyLearner learner(net, g, opt.adam);
    learn::FlowBatchSampler sampler(digits.images, opt);
    learn::train(learner, [&](long step) { return sampler.draw(step); }, opt, 0, {});
    return net.params();
  };
  const int before = omp_get_max_threads(), eigen_before = Eigen::nbThreads();
  Eigen::setNbThreads(1);  // as the binaries run it (parallel work in column chunks)
  const auto one = train_with(1), two = train_with(2);
  omp_set_num_threads(before);
  Eigen::setNbThreads(eigen_before);
  model::Network fresh(model::floweqprop_spec());
  fresh.init_xavier(0.5, 0);
  for (size_t p = 0; p < one.size(); ++p) {
    CHECK(one[p] == two[p]);
    CHECK(one[p] != fresh.params()[p]);  // the steps changed every parameter array
  }
}

TEST_CASE("MLP baseline: same size as FlowEqProp (within 5 %), gradient matches finite differences") {
  learn::Mlp mlp(64, 105);
  CHECK(std::abs(mlp.parameter_count() - 24896) < 0.05 * 24896);
  learn::Mlp small(3, 4);
  small.init_xavier(1.0, 2);
  for (int i = 1; i < 6; i += 2) small.params()[i].setRandom();
  Eigen::MatrixXd x = Eigen::MatrixXd::Random(3, 5), u = Eigen::MatrixXd::Random(3, 5);
  Eigen::RowVectorXd t = Eigen::RowVectorXd::Random(5).cwiseAbs();
  model::ParamList grad, scratch;
  small.loss_and_grad(x, t, u, grad);
  const double h = 1e-6;
  for (size_t p = 0; p < 6; ++p)
    for (Eigen::Index k = 0; k < small.params()[p].size(); ++k) {
      double& w = small.params()[p].data()[k];
      const double w0 = w;
      w = w0 + h;
      const double lp = small.loss_and_grad(x, t, u, scratch);
      w = w0 - h;
      const double lm = small.loss_and_grad(x, t, u, scratch);
      w = w0;
      CHECK((lp - lm) / (2 * h) == doctest::Approx(grad[p].data()[k]).epsilon(1e-6));
    }
}

TEST_CASE("generation integrates dx/dt = v exactly for a linear field and clamps to [-1, 1]") {
  learn::SampleOptions opt;
  opt.n = 3;
  opt.dt = 0.01;
  opt.t_end = 0.5;
  const auto x = learn::generate([](const Eigen::MatrixXd& x, double) { return Eigen::MatrixXd::Zero(x.rows(), x.cols()); }, 4, opt);
  CHECK(x.maxCoeff() <= 1.0);
  const auto y = learn::generate([](const Eigen::MatrixXd& x, double) { return -x; }, 4, opt);
  // x_k = (1 - dt)^k x0 with x0 the same draws (same seed): compare to the zero field's clamped x0 where inside.
  for (Eigen::Index k = 0; k < x.size(); ++k)
    if (std::abs(x.data()[k]) < 1.0) CHECK(y.data()[k] == doctest::Approx(std::pow(0.99, 50) * x.data()[k]));
}

TEST_CASE("quality metrics: the classifier knows the real digits; Frechet distance is 0 to itself and |shift|^2 for a shift") {
  const auto digits = data::load_digits();
  const metrics::DigitClassifier clf(digits);
  CHECK(clf.heldout_accuracy() > 0.9);
  const auto q = metrics::evaluate_samples(digits.images, clf, digits);
  CHECK(q.classes_covered == 10);
  CHECK(q.frechet_distance == doctest::Approx(0.0).epsilon(1e-6));
  Eigen::MatrixXd shifted = digits.images.array() + 0.1;
  CHECK(metrics::frechet_distance(shifted, digits.images) == doctest::Approx(64 * 0.01).epsilon(1e-6));
  Eigen::MatrixXd noise = Eigen::MatrixXd::Random(64, 1000);
  const auto qn = metrics::evaluate_samples(noise, clf, digits);
  CHECK(qn.frechet_distance > 10 * 64 * 0.01);
}

TEST_CASE("bootstrap intervals cover the true mean at least 93 % of the time; Wilson matches its closed form") {
  // A metric of known distribution over 16 chips, 400 repetitions: normal (mean 1, sd 0.3)
  // and, for the record, exponential (mean 1, strongly skewed).
  auto coverage = [](auto draw, unsigned long long seed) {
    std::mt19937_64 rng(seed);
    int covered = 0;
    for (int r = 0; r < 400; ++r) {
      std::vector<double> x(16);
      for (auto& v : x) v = draw(rng);
      const auto iv = metrics::bootstrap_mean(x, 1000 + r);
      CHECK(iv.n == 16);
      CHECK(iv.lo <= iv.mean);
      CHECK(iv.mean <= iv.hi);
      covered += iv.lo <= 1.0 && 1.0 <= iv.hi;
    }
    return covered / 400.0;
  };
  std::normal_distribution<double> normal(1.0, 0.3);
  std::exponential_distribution<double> expo(1.0);
  const double c_normal = coverage([&](std::mt19937_64& g) { return normal(g); }, 5);
  const double c_expo = coverage([&](std::mt19937_64& g) { return expo(g); }, 6);
  MESSAGE("coverage of nominal 95 % bootstrap intervals over 400 sets of 16 chips: normal " << c_normal << ", exponential "
                                                                                             << c_expo);
  CHECK(c_normal >= 0.93);
  CHECK(c_normal <= 0.985);  // not an interval that covers by being huge
  CHECK(c_expo >= 0.90);
  // Wilson for 7 of 20: centre (p + z^2/2n)/(1 + z^2/n), half width z/(1+z^2/n) sqrt(p(1-p)/n + z^2/4n^2).
  const double z = 1.959963984540054, n = 20, p = 0.35;
  const double c = (p + z * z / (2 * n)) / (1 + z * z / n), h = z / (1 + z * z / n) * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n));
  const auto w = metrics::wilson(7, 20);
  CHECK(w.lo == doctest::Approx(c - h).epsilon(1e-12));
  CHECK(w.hi == doctest::Approx(c + h).epsilon(1e-12));
  CHECK(w.lo == doctest::Approx(0.1812).epsilon(1e-3));  // tabulated: [0.181, 0.567]
  CHECK(w.hi == doctest::Approx(0.5671).epsilon(1e-3));
  CHECK(metrics::wilson(0, 10).lo == 0);
  CHECK(metrics::wilson(10, 10).hi == doctest::Approx(1.0));
}

TEST_CASE("t interval over three sample sets: coverage 95 % and the closed form (x = 1, 2, 4: 2.333 +- 4.303 * 0.882)") {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(1.5, 0.2);
  int covered = 0;
  const int reps = 2000;
  for (int r = 0; r < reps; ++r) {
    std::vector<double> x{normal(rng), normal(rng), normal(rng)};
    const auto iv = metrics::t_interval(x);
    covered += iv.lo <= 1.5 && 1.5 <= iv.hi;
  }
  MESSAGE("coverage of nominal 95 % t intervals over " << reps << " triples: " << covered / double(reps));
  CHECK(covered / double(reps) >= 0.935);
  CHECK(covered / double(reps) <= 0.965);
  // mean 7/3, sd sqrt(7/3), t_{0.975, 2} = 4.302653.
  const auto iv = metrics::t_interval({1, 2, 4});
  CHECK(iv.n == 3);
  CHECK(iv.mean == doctest::Approx(7.0 / 3));
  CHECK(iv.hi - iv.mean == doctest::Approx(4.302653 * std::sqrt(7.0 / 3 / 3)).epsilon(1e-6));
  CHECK(metrics::t_interval({2.0}).lo == 2.0);
}

TEST_CASE("programmed weights: codes on the lsb grid; updates below one lsb reach the chip only through the shadow copy "
          "or by stochastic rounding") {
  model::Network net = testing::small_network(4, false);
  learn::FlowBatch batch;
  batch.x_t = Eigen::MatrixXd::Random(6, 8) * 0.5;
  batch.u_t = Eigen::MatrixXd::Random(6, 8);
  learn::GradientOptions g;
  g.free_relax = {model::RelaxMethod::block, 60, 0.1, 1e-10};
  g.nudged_relax = g.free_relax;
  learn::AdamOptions adam;
  adam.lr = 1e-4;  // far below one 6-bit lsb of the weights
  for (auto update : {learn::WeightUpdate::shadow, learn::WeightUpdate::stochastic_rounding}) {
    model::Network chip = net;
    learn::ProgrammedLearner learner(chip, g, adam, {6, update, 1.25, 3});
    const model::ParamList programmed = chip.params();
    for (size_t a = 0; a < programmed.size(); ++a) {
      const double lsb = 1.25 * net.params()[a].cwiseAbs().maxCoeff() / 31;
      CHECK(((programmed[a].array() / lsb) - (programmed[a].array() / lsb).round()).abs().maxCoeff() < 1e-9);
      CHECK((programmed[a] - net.params()[a]).cwiseAbs().maxCoeff() <= 0.5 * lsb * (1 + 1e-12));
    }
    for (int s = 0; s < 40; ++s) learner.learn(batch);
    double moved = 0;
    for (size_t a = 0; a < programmed.size(); ++a) moved += (chip.params()[a] - programmed[a]).cwiseAbs().sum();
    MESSAGE(learn::to_string(update) << ": " << learner.writes() << " code changes in 40 steps of lr 1e-4");
    CHECK(learner.writes() > 0);   // the small updates reach the chip ...
    CHECK(learner.writes() < 40 * 95);  // ... but not as a rewrite of every weight at every step
    CHECK(moved > 0);
  }
}
