#pragma once
// Per-device mismatch draws (DESIGN.md §5): Pelgrom sigma = A / sqrt(area),
// from the sampler's own seeded stream (separate from any noise stream), so
// the same seed and device order give the same circuit.
#include <random>

#include "circuit/device_model.hpp"

namespace eqsim::circuit {

class MismatchSampler {
 public:
  MismatchSampler(const DeviceModel& dm, unsigned long long seed);

  double gain_factor();      // 1 + relative transconductor gain error
  double offset_V();         // transconductor input offset voltage
  double resistor_factor();  // 1 + relative resistor error
  double capacitor_factor(); // 1 + relative capacitor error

  double gain_sigma() const { return gain_sigma_; }
  double offset_sigma_V() const { return offset_sigma_V_; }

 private:
  double normal(double sigma);
  double gain_sigma_, offset_sigma_V_, resistor_sigma_, capacitor_sigma_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> unit_;
};

}  // namespace eqsim::circuit
