#include "circuit/mismatch.hpp"

#include <cmath>

namespace eqsim::circuit {

MismatchSampler::MismatchSampler(const DeviceModel& dm, unsigned long long seed)
    : gain_sigma_(dm.pelgrom_gain_m / std::sqrt(dm.transconductor_area_m2)),
      offset_sigma_V_(dm.pelgrom_offset_V_m / std::sqrt(dm.transconductor_area_m2)),
      resistor_sigma_(dm.pelgrom_resistor_m / std::sqrt(dm.resistor_area_m2)),
      capacitor_sigma_(dm.pelgrom_capacitor_m / std::sqrt(dm.capacitor_area_m2)),
      rng_(seed) {}

double MismatchSampler::normal(double sigma) { return sigma * unit_(rng_); }
double MismatchSampler::gain_factor() { return 1 + normal(gain_sigma_); }
double MismatchSampler::offset_V() { return normal(offset_sigma_V_); }
double MismatchSampler::resistor_factor() { return 1 + normal(resistor_sigma_); }
double MismatchSampler::capacitor_factor() { return 1 + normal(capacitor_sigma_); }

}  // namespace eqsim::circuit
