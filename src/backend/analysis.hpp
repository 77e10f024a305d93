#pragma once
// What both backends share around the integration itself: the time plan of a
// run, the thermal noise sources of a circuit, and the analysis of a recorded
// trajectory into a RelaxSummary (settling, steady-state statistics, supply).
#include <Eigen/Core>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "circuit/device_model.hpp"

namespace eqsim::backend {

using circuit::boltzmann_J_per_K;

struct Plan {
  double t_stop_s = 0;
  double sample_dt_s = 0;       // output grid (and spice max step)
  double noise_dt_s = 0;        // Euler-Maruyama step / noise interval (spice trrandom) (divides sample_dt_s)
  double steady_start_s = 0;    // noisy runs: statistics from here
  double drift_horizon_s = 0;   // settled needs |dV/dt| at the end * this < tol
};

// The plan for c under opt. Throws InputError when no stop time can be found
// (no t_stop, no .tran and no finite RC time constant).
Plan make_plan(const circuit::Circuit& c, const RelaxOptions& opt);

// A current noise source between nodes a and b of one-sided PSD psd_A2_per_Hz.
struct NoiseSource {
  std::string a, b;
  double psd_A2_per_Hz = 0;
};

// 4kTG per resistor, 4kT gamma |gm| per G element and per canonical B-source
// transconductor (gm = |k|/s for k tanh(V/s), |k| for k V); summed per node
// pair; pairs between grounded or source-held nodes only are left out.
std::vector<NoiseSource> thermal_noise(const circuit::Circuit& c, double temperature_K);

// The voltage sources of c in netlist order (name, value, supply flag; no figures yet).
std::vector<SourceSummary> voltage_sources(const circuit::Circuit& c);

// A full-resolution record of one run: node voltages (in `nodes` order) and the
// current out of each voltage source's + terminal (in voltage_sources order) at each time.
struct Trace {
  std::vector<double> t_s;
  std::vector<Eigen::VectorXd> v_V;
  std::vector<Eigen::VectorXd> source_A;
};

// Fills status, message, final/mean/var, settle time, every source's and the
// supply's figures and the decimated trajectory of s from tr (s.nodes and
// s.sources, from voltage_sources, must be set).
void analyse(const Trace& tr, const Plan& plan, const RelaxOptions& opt, bool noisy, RelaxSummary& s);

}  // namespace eqsim::backend
