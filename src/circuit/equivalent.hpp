#pragma once
// A mismatched circuit as a model-level system (DESIGN.md §5, §6): the node equations
// of the netlister's circuit in model units u = V / v_unit_V, time in tau_s,
//   c_i du_i/dt = -G l_i u_i + sum_j W_ij g_ij rho(u_j - o_ij) + b_i [+ spring, nudge],
// with the factors drawn for every device (DeviceFactors: capacitor c, leak l, gain g,
// input offset o, spring s, nudge n). For tanh inputs rho(u - o) is expanded to second
// order in the offset, tanh(u - o) = a - o(1 - a^2) - o^2 a(1 - a^2) + O(o^3), so a
// sweep is three GEMMs per coupling direction instead of one tanh per device; identity
// inputs are exact. Checked against the ode backend on the same netlist (tests).
//
// Without mismatch W_ij g_ij = W_ji g_ji and the system is the energy network; with it
// the couplings are no longer symmetric and there is no energy: block relaxation is
// then Gauss-Seidel on the node equations (each module solved given the others).
//
// Thermal noise (RelaxOptions::temperature > 0, in model units, circuit::model_temperature):
// the relaxed state u* is read as an instantaneous sample-and-hold would, in the node
// fluctuations the circuit makes: linearised at u*, C dx/dt = -(G_restore - J) x + noise,
// J the couplings' slopes at u* (tanh' to first order in the offsets), every resistor
// (leak, spring) a current noise of PSD 4kTg and every transconductor 4kT gamma gm (gm
// nominal, the nudge a G element), as the ode backend injects them. Its stationary law
// is N(0, P) with A P + P A^T = Q (A = C^-1 (G_restore - J), Q = C^-1 2T G_noise C^-1):
// noise_covariance solves it exactly (O(n^3), per sample). The readout draws from it by
// integrating the linearised dynamics over the batch (Heun steps of 0.1 tau, exact for
// each node's own RC) for 10 tau from each node's own kT/C, then one reading every
// 10 tau: correlated across nodes as the circuit's own fluctuations are (readings 3 tau
// apart are correlated in time too: their mean had up to 1.9x the variance/repeats).
// Measured (test_circuit, 18 nodes, sigma 10 %, 300 K): the Lyapunov covariance against
// the ode backend's 3900 tau of noisy dynamics: worst node variance ratio 1.07, worst
// covariance error 0.05 of sqrt(var_i var_j), every entry within 3.3 standard errors of
// the ode estimate (171 entries); on a diffusion-like network (bilinear rank 2 with its
// projection nodes, intra-module couplings; 17 nodes): 1.08, 0.04, within 4.1 standard
// errors (153 entries); the sampler against the Lyapunov covariance (20000
// readings): worst ratio 1.027, covariance error 0.034 (after 20 tau: 1.016, 0.020 —
// the sampling floor). bench_chip_noise: the same on the trained FlowEqProp.
// Every coupling the netlister builds: dense between modules, intra-module (one device
// per ordered pair i != j) and bilinear U V^T through its 2r projection nodes (their own
// capacitors, leaks and transconductors, relaxed and fluctuating with the units; states
// and readings are of the units only). Checked against the ode backend on the same
// netlists (test_circuit: bilinear 6-7-5 and a diffusion-like network with intra-module
// couplings and a bias table). With intra-module couplings relax() needs
// RelaxMethod::euler (std::invalid_argument otherwise, as model::relax).
#include <Eigen/Core>
#include <vector>

#include "circuit/netlister.hpp"
#include "model/network.hpp"
#include "model/relax.hpp"

namespace eqsim::circuit {

// How the chip reads a relaxed state (the readout the energy ledger pays for): each of
// `repeats` readings of a node carries its own thermal noise (at the relaxation's
// temperature) and is quantised by an ADC of adc_bits over [-full_scale_model,
// full_scale_model] (model units; codes clipped at the ends); the mean of the readings
// is returned. adc_bits 0: no quantisation. The mean of `repeats` noisy readings has
// 1/repeats of one reading's noise variance (test_circuit).
struct ChipReadout {
  int repeats = 1;
  int adc_bits = 0;
  double full_scale_model = 2.0;
  // The thermal fluctuation's sampler (see top), in tau_s: its exponential-Euler step,
  // the time from the kT/C start to the first reading, and between readings.
  double noise_step_tau = 0.1;
  double noise_settle_tau = 10;
  double repeat_interval_tau = 10;
};

class EquivalentCircuit {
 public:
  // net must outlive *this; its parameters may change between calls (in-situ training).
  EquivalentCircuit(const model::Network& net, DeviceFactors factors, double noise_gamma, ChipReadout readout = {});

  // As model::relax, on the mismatched circuit; the relaxed state is then read as
  // ChipReadout says (noise from stream opt.noise_seed when temperature > 0).
  model::RelaxSummary relax(const model::Clamp& clamp, model::State& s, const model::RelaxOptions& opt) const;

  // Per sample: the time (in tau_s) the node dynamics take from `start` until every
  // node stays within tol of the end state, integrated by Euler steps of dt for at
  // most max_time; samples not settled by then get +inf.
  Eigen::RowVectorXd settle_time_tau(const model::Clamp& clamp, const model::State& start, double tol, double dt,
                                     double max_time) const;

  // The stationary covariance (model units^2) of the thermal fluctuations about column b
  // of the relaxed state s at temperature T (model units), every node not held stacked
  // module by module, then the projection nodes of each bilinear coupling (pu, then pv):
  // the exact Lyapunov solution of the linearised dynamics (see top).
  // O(n^3) in the node count: an analysis, not the readout's sampler.
  Eigen::MatrixXd noise_covariance(const model::Clamp& clamp, const model::State& s, double temperature,
                                   Eigen::Index b) const;

 private:
  const model::Network& net_;
  DeviceFactors f_;
  double noise_gamma_;
  ChipReadout readout_;
};

}  // namespace eqsim::circuit
