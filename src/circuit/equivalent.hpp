#pragma once
// A mismatched circuit as a model-level system (DESIGN.md §5, §6): the node equations
// of the netlister's circuit in model units u = V / v_unit_V, time in tau_s,
//   c_i du_i/dt = -G l_i u_i + sum_j W_ij g_ij rho(u_j - o_ij) + b_i [+ spring, nudge],
// with the factors drawn for every device (DeviceFactors: capacitor c, leak l, gain g,
// input offset o, spring s, nudge n). For tanh inputs rho(u - o) is expanded to third
// order in the offset, tanh(u - o) = a - o s - o^2 a s + o^3 s (1 - 3a^2) / 3 + O(o^4)
// (s = 1 - a^2), so a sweep is four GEMMs per coupling direction instead of one tanh per
// device; identity inputs are exact. Checked against the ode backend on the same netlist
// (tests).
//
// Arithmetic: relax() sweeps and samples the noise in float32 when the options ask for
// a fixed budget (tol 0) or a tolerance float32 resolves (tol >= 1e-5), else in float64;
// readings (the ADC's codes, the mean of the repeats) are formed in double, so codes stay
// on their grid. float32 keeps the tests' figures (equilibria against ode within 5.5e-8
// model units at sigma 1 % run in float64 by their tolerance; the sampler's figures
// below are float32's) at twice the GEMM rate. The node equations and every column
// chunk's work space are kept between calls (no allocation per sweep or noise step).
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
// integrating the linearised dynamics over the batch (Heun steps of 0.5 tau, exact for
// each node's own RC): one continuous process per EquivalentCircuit, started from each
// node's own kT/C and settled 20 tau at the first noisy relax call, then carried on
// from call to call (10 tau from one call's reading to the next's, as between repeats),
// so a reading costs 20 steps, not a fresh settle. Readings are correlated across
// coupled nodes as the circuit's own fluctuations are, and weakly in time: readings
// 10 tau apart leave the mean of `repeats` of them up to 1.11x the variance/repeats
// (test_circuit); at 2 tau a node's successive readings correlated by 0.22-0.26
// (median over nodes) and up to 0.52 on FlowEqProp (bench_chip_noise), which would
// understate the noise of the difference of two phases. Measured, the Lyapunov covariance against the ode backend's 3900 tau of
// noisy dynamics (test_circuit, 18 nodes, sigma 10 %, 300 K): worst node variance ratio
// 1.07, worst covariance error 0.05 of sqrt(var_i var_j), every entry within 3.3
// standard errors of the ode estimate (171 entries); on a diffusion-like network
// (bilinear rank 2 with its projection nodes, intra-module couplings; 17 nodes): 1.08,
// 0.04, within 4.1 standard errors (153 entries). The sampler against the Lyapunov
// covariance, new process and carried on alike: test_circuit (18 nodes, 20000
// readings) worst ratio 1.073-1.086, covariance error 0.058-0.081 at 0.5 tau (0.1 tau:
// 1.020-1.025, 0.024-0.026, the sampling floor); bench_chip_noise (the trained FlowEqProp,
// 320 nodes, sigma 3 %, 8000 readings, sampling floor ~1.05 / 0.05) worst ratio
// 1.042-1.068, mean ratio 0.992-0.998, covariance error 0.048-0.056 at 0.5 tau (0.1 tau:
// 1.042-1.055, 0.047-0.057). Normal draws: Box-Muller on eight lanes of xoshiro256++.
// Larger steps bias the variance low (same bench, 3 inputs, 8000 readings; mean ratio
// over nodes): 0.1 tau 0.998-1.002, 0.5 tau 0.990-0.996, 1 tau 0.982-0.991, 2 tau
// 0.966-0.978; 0.5 tau is the default.
// Cost (same bench, one thread): a carried reading of a batch of 256 (10 tau) takes
// 0.023 s against 0.018 s for 20 block sweeps (a new process 0.046 s); with Marsaglia's
// polar method on one xoshiro stream 0.030 and 0.060 s (the normal draws were a fifth
// of a noisy chip's time); in float64, with std::normal_distribution and allocations
// per step, 0.047, 0.040 and 0.102 s (an earlier machine).
// Every coupling the netlister builds: dense between modules, intra-module (one device
// per ordered pair i != j) and bilinear U V^T through its 2r projection nodes (their own
// capacitors, leaks and transconductors, relaxed and fluctuating with the units; states
// and readings are of the units only). Checked against the ode backend on the same
// netlists (test_circuit: bilinear 6-7-5 and a diffusion-like network with intra-module
// couplings and a bias table). With intra-module couplings relax() needs
// RelaxMethod::euler (std::invalid_argument otherwise, as model::relax).
#include <Eigen/Core>
#include <memory>
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
  // The thermal fluctuation's sampler (see top), in tau_s: its step (exponential for each
  // node's own RC, Heun for the couplings), the time from the kT/C start of a noise
  // process to its first reading, between the repeats of one relax call, and from the
  // last reading of one noisy relax call to the first of the next (the process is
  // carried on, see EquivalentCircuit::relax).
  double noise_step_tau = 0.5;
  double noise_settle_tau = 20;
  double repeat_interval_tau = 10;
  double call_interval_tau = 10;
  // u as the ADC reads it: the nearest of its 2^adc_bits - 1 steps over the full scale,
  // clipped at the ends (adc_bits 0: u itself).
  double quantise(double u) const;
};

class EquivalentCircuit {
 public:
  // net must outlive *this; its parameters may change between calls (in-situ training).
  EquivalentCircuit(const model::Network& net, DeviceFactors factors, double noise_gamma, ChipReadout readout = {});

  ~EquivalentCircuit();

  // As model::relax, on the mismatched circuit; the relaxed state is then read as
  // ChipReadout says. With temperature > 0 the readings carry the chip's thermal
  // fluctuation, one continuous process per object: it starts (from each node's kT/C,
  // stream opt.noise_seed, settled noise_settle_tau) at the first noisy call, and again
  // whenever the batch size, the temperature or whether the visible nodes are held
  // changes; every later call carries it on (call_interval_tau to its first reading,
  // through the dynamics linearised at that call's state) and ignores opt.noise_seed.
  // The readings of a sequence of calls thus depend on the seed of its first call and on
  // the sequence, never on the thread count. Not for concurrent calls on one object.
  model::RelaxSummary relax(const model::Clamp& clamp, model::State& s, const model::RelaxOptions& opt) const;

  // Per sample: the time (in tau_s) the node dynamics take from `start` until every
  // node stays within tol of the end state, integrated by Euler steps of dt for at
  // most max_time; samples not settled by then get +inf.
  Eigen::RowVectorXd settle_time_tau(const model::Clamp& clamp, const model::State& start, double tol, double dt,
                                     double max_time) const;

  // s (units only, as relax leaves it) with every bilinear coupling's projection nodes
  // appended as two groups (its pu_k, then its pv_k: CircuitMap::projection_nodes), at
  // their steady values given the units.
  model::State with_projections(const model::Clamp& clamp, const model::State& s) const;

  // The stationary covariance (model units^2) of the thermal fluctuations about column b
  // of the relaxed state s at temperature T (model units), every node not held stacked
  // module by module, then the projection nodes of each bilinear coupling (pu, then pv):
  // the exact Lyapunov solution of the linearised dynamics (see top).
  // O(n^3) in the node count: an analysis, not the readout's sampler.
  Eigen::MatrixXd noise_covariance(const model::Clamp& clamp, const model::State& s, double temperature,
                                   Eigen::Index b) const;

 private:
  template <class T>
  model::RelaxSummary relax_in(const model::Clamp& clamp, model::State& s, const model::RelaxOptions& opt) const;

  const model::Network& net_;
  DeviceFactors f_;
  double noise_gamma_;
  ChipReadout readout_;
  struct NoiseProcess;
  std::unique_ptr<NoiseProcess> noise_;  // the fluctuation carried between relax calls
  struct Cache;
  std::unique_ptr<Cache> cache_;  // node equations and work space kept between relax calls
};

}  // namespace eqsim::circuit
