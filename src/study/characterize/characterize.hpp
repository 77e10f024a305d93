#pragma once
// eqsim characterize (DESIGN.md §13): runs a transistor-level transconductor cell
// in ngspice (through backend::spice::run_analysis) and derives the device-model
// numbers the behavioural transconductor I = A tanh(V / v_unit) rests on:
//   transfer   DC sweep of V(in) - V(ref) with the output held at 0 V (the unit
//              nodes' reference), fitted by A tanh(V / v_unit) over +-3 v_unit;
//   gm         slope at the zero crossing; gm/I_D of one pair device = gm / (I_tail / 2);
//   g_out      output conductance, DC sweep of the output at V_in = 0;
//   noise      output current noise (short-circuited output, ngspice noise analysis),
//              fitted by S_white + K / f; noise_gamma = S_white / (4 k T gm);
//   mismatch   Monte Carlo over cell instances, each transistor with its own Pelgrom
//              draws (delvto ~ N(0, A_VT / sqrt(W L)), mulu0 ~ 1 + N(0, A_beta / sqrt(W L)),
//              A_VT = pelgrom_offset_V_m, A_beta = pelgrom_gain_m of the device model);
//              the prediction combines each device's sigma through its sensitivity,
//              measured on instances with one device shifted at a time;
//   supply     current drawn from vdd at V_in = 0 (tail plus the bias branch).
// Supplies are +-VDD_V/2 around the reference (ground), at the model's temperature.
#include <string>
#include <vector>

#include "circuit/device_model.hpp"
#include "study/characterize/cell.hpp"

namespace eqsim::study {

struct CharacterizeOptions {
  double bias_A = 0;             // tail bias current; 0: the device model's transconductor_bias_A
  int mc_instances = 500;        // Monte-Carlo instances (each of two groups: pair only, every device)
  unsigned long long seed = 1;   // Monte-Carlo draws
  double sweep_V = 0.4;          // transfer sweep: +-sweep_V in steps of sweep_step_V
  double sweep_step_V = 1e-3;
  double mc_sweep_V = 0.06;      // Monte-Carlo sweep around 0 (must hold every offset)
  double mc_step_V = 0.5e-3;
  double noise_f_min_Hz = 1;     // band of the S_white + K/f fit (below the cell's internal poles)
  double noise_f_max_Hz = 1e4;
};

struct CharacterizeSummary {
  bool ok = false;
  std::string message;           // why not ok (ngspice's message)
  double bias_A = 0;
  // transfer and its fit
  std::vector<double> v_in_V, i_out_A;
  double amplitude_A = 0, v_unit_V = 0;
  double fit_residual_max = 0, fit_residual_rms = 0;  // over |V| <= 3 v_unit, fraction of A (full scale)
  double systematic_offset_V = 0;                     // zero crossing of the nominal cell
  double fit_residual_max_trimmed = 0;                // the same fit of I(V + systematic offset): the shape alone
  double gm_S = 0, tail_A = 0, supply_A = 0;
  double gm_over_id_per_V = 0;   // gm / (I_tail / 2): one pair device's efficiency
  double g_out_S = 0;
  // noise
  double noise_white_A2_per_Hz = 0, noise_corner_Hz = 0, noise_gamma = 0;
  // Monte Carlo (sigmas over mc_instances each)
  int mc_instances = 0;
  double pair_area_m2 = 0;
  double offset_sigma_pair_only_V = 0, pelgrom_pair_V = 0;    // pair draws only vs sqrt(2) A_VT / sqrt(W L)
  double pelgrom_pair_sensitivity_V = 0;                      // the same through the pair's measured sensitivities
  double offset_sigma_V = 0, offset_predicted_V = 0;          // every device vs the combined prediction
  double gain_sigma = 0, gain_predicted = 0;                  // relative slope at the crossing
  struct Sensitivity {
    std::string transistor;
    double offset_per_delvto = 0, offset_per_beta_V = 0;  // V/V, V per unit relative current factor
  };
  std::vector<Sensitivity> sensitivities;  // one per transistor
};

// Runs every analysis; a failed ngspice run gives ok = false with its message.
CharacterizeSummary characterize(const Cell& cell, const circuit::DeviceModel& dm, const CharacterizeOptions& opt);

// The device-model numbers derived from s (key -> value, note naming the cell and card).
struct DerivedNumber {
  std::string key;
  double value = 0;
  std::string note;
};
std::vector<DerivedNumber> derived_numbers(const CharacterizeSummary& s, const Cell& cell, const circuit::DeviceModel& dm);

// The fit report: the derived numbers beside the device model's, with the checks.
std::string fit_report(const CharacterizeSummary& s, const Cell& cell, const circuit::DeviceModel& dm);

// Writes out_yaml (the derived device model), out_yaml minus .yaml plus ".txt" (fit report)
// and ".png" (transfer, fit and residual, gnuplot); the derived model is named "<dm>+<cell>".
// Returns the figure's error message or "" (a bad derived value throws InputError naming out_yaml).
std::string write_characterization(const CharacterizeSummary& s, const Cell& cell, const circuit::DeviceModel& dm,
                                   const std::string& out_yaml);

}  // namespace eqsim::study
