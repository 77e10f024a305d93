// `eqsim energy MODEL_DIR --device-model DM --baseline GPU.yaml --out L.json`: flags
// for study::energy_study, and its summary printed.
#include <fmt/format.h>

#include "backend/registry.hpp"
#include "cli/commands.hpp"
#include "study/energy_study.hpp"

namespace eqsim::cli {

namespace {

void print_summary(const study::EnergySummary& e) {
  const auto& l = e.ledger;
  for (const auto& p : e.measurement.phases)
    fmt::print("phase {:>6}: settle {:.3g} s (max {:.3g} s), supply {:.3g} A, {}/{} settled\n", p.name, p.settle_time_s,
               p.settle_time_max_s, p.supply_current_A, p.settled, p.samples);
  fmt::print("circuit vs trainer equilibrium: max error {:.3g} model units\n", e.measurement.model_error);
  fmt::print("training step booked: batch {}, {} at beta {:.4g}\n", e.step.batch, learn::to_string(e.step.estimator),
             e.step.beta);
  fmt::print("analog        {:.4g} J per step ({:.4g} J per sample, batch {})\n", l.analog_J_per_step,
             l.analog_J_per_step / l.batch, l.batch);
  fmt::print("analog time   {:.4g} s per step (the batch's phases one after another), EDP {:.4g} J s\n",
             l.analog_time_s_per_step, l.analog_edp_J_s());
  for (const auto* w : {&l.backprop, &l.ep_sim})
    fmt::print("{:<13} FLOPs {:.4g} J in {:.4g} s | eager {:.4g} J in {:.4g} s | graph {:.4g} J in {:.4g} s "
               "({:.0f} kernels) | binds: {}, ratio {:.3g}, EDP ratio {:.3g}\n",
               w->name, w->flop_J, w->flop_time_s, w->eager_J, w->eager_time_s, w->graph_J, w->graph_time_s, w->kernels,
               w->binding(), w->binding_J() / l.analog_J_per_step, energy::Ledger::edp_J_s(*w) / l.analog_edp_J_s());
}

}  // namespace

void add_energy_command(CLI::App& app) {
  auto a = std::make_shared<study::EnergyOptions>();
  auto* cmd = app.add_subcommand("energy", "Energy ledger: joules per training step on the analog substrate vs a GPU, "
                                           "for the training step the model folder records");
  cmd->add_option("model_dir", a->model_dir, "model folder (model.yaml + .npy arrays)")->required();
  cmd->add_option("--device-model", a->device_model, "device model YAML with an energy: section")->required();
  cmd->add_option("--baseline", a->baseline, "GPU baseline YAML (device_models/gpu-*.yaml)")->required();
  cmd->add_option("--out", a->out, "ledger JSON; the CSVs and PNGs go beside it")->required();
  cmd->add_option("--backend", a->backend, backend::backend_choices())->capture_default_str();
  cmd->add_option("--batch", a->batch, "samples per training step (default: the model's training batch)");
  cmd->add_option("--samples", a->samples, "flow-matching inputs relaxed to measure each phase")->capture_default_str();
  cmd->add_option("--seed", a->seed, "seed of the flow batch")->capture_default_str();
  cmd->add_option("--step", a->step, "step whose flow batch is drawn")->capture_default_str();
  cmd->add_option("--beta", a->beta, "nudge strength (default: the model's training beta)");
  cmd->add_option("--estimator", a->estimator,
                  "symmetric (free, +beta, -beta) or one_sided (free, +beta) (default: the model's training estimator)");
  cmd->add_option("--readout", a->readout, "units (ADC per node) or products (analog per-parameter accumulators)")
      ->capture_default_str();
  cmd->add_option("--ep-sim-free-steps", a->ep_sim_free_steps,
                  "GPU EP simulation: free-phase relaxation steps (default: the model's training budget)");
  cmd->add_option("--ep-sim-nudged-steps", a->ep_sim_nudged_steps,
                  "GPU EP simulation: steps per nudged phase (default: the model's training budget)");
  cmd->add_option("--mismatch-seed", a->mismatch_seed, "relax mismatched circuits drawn from this seed (default ideal)");
  cmd->add_option("--t-stop-tau", a->t_stop_tau, "longest relaxation, in node time constants")->capture_default_str();
  cmd->add_option("--data", a->data_path, "digits.csv.gz (default: the setup's cache)");
  cmd->add_flag("--sensitivity,!--no-sensitivity", a->sensitivity, "sensitivity table and tornado figure")
      ->capture_default_str();
  cmd->callback([a] { print_summary(study::energy_study(*a)); });
}

}  // namespace eqsim::cli
