#pragma once
// The measured side of the ledger: one training step's phases (free, +beta,
// -beta) relaxed on a backend as the actual netlists the netlister writes, on a
// few real inputs. Settling times, supply (bias) currents, node swings and the
// charge the clamp sources deliver come from these runs, never from guesses.
#include <Eigen/Core>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "circuit/device_model.hpp"
#include "energy/params.hpp"
#include "learn/flow.hpp"
#include "model/network.hpp"

namespace eqsim::energy {

// One relaxation phase of a training step. nudge_g is in model units (as
// model::Clamp::nudge_g; negative in the -beta phase). A warm-started phase
// begins at the final voltages of phase 0 (the free phase); readout phases are
// the ones whose node values EP converts and multiplies.
struct PhaseSpec {
  std::string name;
  double nudge_g = 0;
  bool warm_start = false;
  bool readout = false;
};

// What the circuit is driven with during one step, for S measured samples.
struct StepInputs {
  Eigen::MatrixXd spring_target;  // n_visible x S, model units
  Eigen::MatrixXd nudge_target;   // n_visible x S, model units
  std::vector<int> levels;        // per-sample bias-table column (diffusion noise level); empty: none
  std::vector<PhaseSpec> phases;  // phase 0 is the free phase
  std::string estimator;          // for the record
  double beta = 0;
};

// The phases of a velocity-matching step on batch b (flow matching, DESIGN.md §3, or
// denoising score matching, §4, whose u_t = -eps): free, then +beta and
// -beta (symmetric) or +beta alone (one_sided), each warm-started from the free
// equilibrium, with the nudge of learn::nudged_clamp. Throws InputError for the
// exact estimator (no hardware phase computes it) or an unstable |beta|.
StepInputs flow_step_inputs(const model::Network& net, const learn::FlowBatch& b, double beta, learn::Estimator e);

struct MeasureOptions {
  std::optional<unsigned long long> mismatch_seed;  // none: the ideal circuit
  double t_stop_tau = 1000;                         // longest relaxation, in node time constants (trained models: up to hundreds)
  std::string model_name = "in-memory network";
  std::function<void(const std::string& phase, int sample)> progress;  // optional: told before each relaxation
};

// Per-phase figures, averaged over the measured samples.
struct PhaseMeasurement {
  std::string name;
  bool readout = false;
  int samples = 0, settled = 0;        // usable runs (settled or not), of them settled
  int failed = 0;                      // numerical failures / backend errors (left out of the means)
  std::string message;                 // first non-settled status, if any
  double settle_time_s = 0;            // mean settling time
  double settle_time_max_s = 0;
  double supply_current_A = 0;         // mean current drawn from VDD (transconductor bias)
  double swing_V2 = 0;                 // sum over capacitor nodes of (peak-to-peak swing)^2
  double clamp_charge_C = 0;           // charge the spring / nudge sources deliver until settled
  double readout_difference_V = 0;     // rms over unit nodes of V(phase) - V(free), readout phases
};

struct Measurement {
  std::string backend;
  double settle_tol_V = 0;             // half an ADC LSB over the +-1 unit full scale
  int samples = 0;
  int capacitor_nodes = 0;             // units and projection nodes
  int transconductors = 0;
  std::vector<PhaseMeasurement> phases;
  double nudge_signal_V = 0;           // rms over unit nodes of V(+beta) - V(-beta) (or V(+beta) - V(free))
  double model_error = 0;              // max over samples and units of |V_free / v_unit_V - u*| (model units),
                                       // u* the trainer's free equilibrium: the circuit realises the model when small
  int failed_runs() const;             // sum of the phases' failed counts
};

// Settling tolerance used by measure_step: v_unit_V * 2^-adc_bits (half an LSB of a
// converter spanning -1..1 model units).
double settle_tolerance_V(const circuit::DeviceModel& dm, const EnergyParams& ep);

// Relaxes every phase of in for every sample on backend b, and compares each free
// phase with the trainer's equilibrium (model_error). Throws InputError for inputs of
// the wrong size; relaxations that do not settle are counted, not thrown.
Measurement measure_step(const model::Network& net, const circuit::DeviceModel& dm, const EnergyParams& ep,
                         const StepInputs& in, backend::Backend& b, const MeasureOptions& opt);

}  // namespace eqsim::energy
