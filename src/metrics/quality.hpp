#pragma once
// Quality of generated digits (DESIGN.md §9): a softmax-regression classifier
// trained on the real digits gives the class histogram, coverage and mean
// confidence; the Frechet distance compares Gaussian fits of generated and real
// digits in pixel space.
#include <Eigen/Core>
#include <array>

#include "data/digits.hpp"

namespace eqsim::metrics {

class DigitClassifier {
 public:
  // Trains on the real digits (deterministic full-batch gradient descent with L2).
  // Holds out every 5th image to measure its accuracy.
  explicit DigitClassifier(const data::Digits& digits);
  // Class probabilities, 10 x N, for images 64 x N in [-1, 1].
  Eigen::MatrixXd probabilities(const Eigen::MatrixXd& images) const;
  double heldout_accuracy() const { return heldout_accuracy_; }

 private:
  Eigen::MatrixXd W_;  // 10 x 64
  Eigen::VectorXd b_;
  double heldout_accuracy_ = 0;
};

struct Quality {
  int n = 0;
  std::array<double, 10> class_fraction{};
  int classes_covered = 0;       // classes with at least 3 % of the samples
  double min_class_fraction = 0;
  double mean_confidence = 0;    // mean of the top class probability
  double frechet_distance = 0;   // pixel space, against the real digits
};

// Frechet distance between Gaussian fits of two sets of columns.
double frechet_distance(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b);

Quality evaluate_samples(const Eigen::MatrixXd& samples, const DigitClassifier& clf, const data::Digits& real);

}  // namespace eqsim::metrics
