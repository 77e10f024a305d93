#include "metrics/quality.hpp"

#include <Eigen/Eigenvalues>
#include <cmath>

namespace eqsim::metrics {
namespace {

Eigen::MatrixXd softmax(Eigen::MatrixXd z) {
  z.rowwise() -= z.colwise().maxCoeff();
  z = z.array().exp();
  z.array().rowwise() /= z.colwise().sum().array();
  return z;
}

Eigen::MatrixXd covariance(const Eigen::MatrixXd& x, Eigen::VectorXd& mean) {
  mean = x.rowwise().mean();
  const Eigen::MatrixXd c = x.colwise() - mean;
  return c * c.transpose() / static_cast<double>(x.cols() - 1);
}

Eigen::MatrixXd psd_sqrt(const Eigen::MatrixXd& s) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(s);
  return es.eigenvectors() * es.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal() * es.eigenvectors().transpose();
}

}  // namespace

DigitClassifier::DigitClassifier(const data::Digits& d) {
  const int n = static_cast<int>(d.images.cols());
  std::vector<int> train, test;
  for (int i = 0; i < n; ++i) (i % 5 == 4 ? test : train).push_back(i);
  Eigen::MatrixXd X(64, train.size()), Y = Eigen::MatrixXd::Zero(10, train.size());
  for (size_t k = 0; k < train.size(); ++k) {
    X.col(k) = d.images.col(train[k]);
    Y(d.labels(train[k]), k) = 1;
  }
  W_ = Eigen::MatrixXd::Zero(10, 64);
  b_ = Eigen::VectorXd::Zero(10);
  Eigen::MatrixXd vW = W_;
  Eigen::VectorXd vb = b_;
  const double lr = 0.5, momentum = 0.9, l2 = 1e-4;
  for (int it = 0; it < 1500; ++it) {  // Nesterov-free heavy-ball gradient descent: deterministic
    const Eigen::MatrixXd err = (probabilities(X) - Y) / static_cast<double>(X.cols());
    vW = momentum * vW - lr * (err * X.transpose() + l2 * W_);
    vb = momentum * vb - lr * err.rowwise().sum();
    W_ += vW;
    b_ += vb;
  }
  int correct = 0;
  for (int i : test) {
    Eigen::Index k;
    probabilities(d.images.col(i)).col(0).maxCoeff(&k);
    correct += k == d.labels(i);
  }
  heldout_accuracy_ = static_cast<double>(correct) / static_cast<double>(test.size());
}

Eigen::MatrixXd DigitClassifier::probabilities(const Eigen::MatrixXd& images) const {
  Eigen::MatrixXd z = W_ * images;
  z.colwise() += b_;
  return softmax(z);
}

double frechet_distance(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  Eigen::VectorXd ma, mb;
  const Eigen::MatrixXd sa = covariance(a, ma), sb = covariance(b, mb);
  const Eigen::MatrixXd ra = psd_sqrt(sa);
  const Eigen::MatrixXd cross = psd_sqrt(ra * sb * ra);  // Tr sqrt(sa sb) = Tr sqrt(ra sb ra)
  return (ma - mb).squaredNorm() + sa.trace() + sb.trace() - 2.0 * cross.trace();
}

Quality evaluate_samples(const Eigen::MatrixXd& samples, const DigitClassifier& clf, const data::Digits& real) {
  Quality q;
  q.n = static_cast<int>(samples.cols());
  const Eigen::MatrixXd p = clf.probabilities(samples);
  for (int i = 0; i < q.n; ++i) {
    Eigen::Index k;
    q.mean_confidence += p.col(i).maxCoeff(&k);
    q.class_fraction[k] += 1.0;
  }
  q.mean_confidence /= q.n;
  q.min_class_fraction = 1.0;
  for (auto& f : q.class_fraction) {
    f /= q.n;
    q.classes_covered += f >= 0.03;
    q.min_class_fraction = std::min(q.min_class_fraction, f);
  }
  q.frechet_distance = frechet_distance(samples, real.images);
  return q;
}

}  // namespace eqsim::metrics
