// eqsim energy MODEL_DIR --device-model DM --baseline GPU.yaml --out L.json: the
// energy ledger of one training step (DESIGN.md §7). Relaxes the step's phases
// as netlists on a backend for a few real flow-matching inputs, books every line
// with its formula and source, compares with a GPU baseline in two flavours, and
// writes L.json, L.csv (line items and totals), L_sensitivity.csv and two figures.
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "backend/analysis.hpp"
#include "cli/commands.hpp"
#include "git_revision.hpp"
#include "cli/jobs.hpp"
#include "cli/outcome.hpp"
#include "config/device_model_yaml.hpp"
#include "config/energy_yaml.hpp"
#include "config/model_dir.hpp"
#include "data/digits.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"
#include "energy/sensitivity.hpp"
#include "learn/trainer.hpp"
#include "report/energy_figures.hpp"


namespace eqsim::cli {

namespace {

struct EnergyArgs {
  std::string model_dir, device_model, baseline, out, backend = "ode", estimator = "symmetric", readout = "units";
  std::string data_path;
  long batch = 1797;
  int samples = 4;
  long step = 1;
  unsigned long long seed = 0;
  std::optional<double> beta;  // default: the seed's value for the model's task
  double t_stop_tau = 1000;  // trained models have coupled modes settling in hundreds of tau (deterministic ode runs stop once settled)
  int ep_sim_free_steps = 300, ep_sim_nudged_steps = 300;
  std::optional<unsigned long long> mismatch_seed;
  bool sensitivity = true;
};

// Output paths beside L.json.
struct OutputPaths {
  std::string json, csv, sensitivity_csv, breakdown_png, tornado_png;
};

OutputPaths output_paths(const std::string& out) {
  const std::filesystem::path p(out);
  const std::string stem = (p.parent_path() / p.stem()).string();
  return {out, stem + ".csv", stem + "_sensitivity.csv", stem + "_breakdown.png", stem + "_sensitivity.png"};
}

// Reference nudge strengths: FlowEqProp (DESIGN.md §3) and the diffusion config.
constexpr double flow_beta = 1.25e-3, diffusion_beta = 0.05;

// One batch of `samples` digits from the trainer's samplers: flow matching (OT pairing)
// or, for a diffusion model folder, denoising score matching over its noise schedule.
learn::FlowBatch draw_batch(const EnergyArgs& a, const Eigen::MatrixXd& images, bool diffusion) {
  learn::TrainOptions topt;
  topt.batch_size = a.samples;
  topt.seed = a.seed;
  topt.pairing = learn::Pairing::ot;
  if (diffusion)
    return learn::DenoisingBatchSampler(images, topt, config::load_diffusion_schedule(a.model_dir).sigmas).draw(a.step);
  learn::FlowBatchSampler sampler(images, topt);
  return sampler.draw(a.step);
}

learn::Estimator estimator(const EnergyArgs& a) {
  try {
    return learn::estimator_from_string(a.estimator);
  } catch (const std::invalid_argument& e) {
    throw InputError("", "--estimator", e.what());
  }
}

// The measured inputs: one batch of real digits.
energy::StepInputs step_inputs(const EnergyArgs& a, const model::Network& net, bool diffusion) {
  if (a.samples < 1) throw InputError("", "--samples", "must be at least 1");
  const auto digits = data::load_digits(a.data_path);
  if (net.size(net.spec().visible) != digits.images.rows())
    throw InputError(a.model_dir, "network.visible", "needs " + std::to_string(digits.images.rows()) + " units for the digits");
  const double beta = a.beta.value_or(diffusion ? diffusion_beta : flow_beta);
  return energy::flow_step_inputs(net, draw_batch(a, digits.images, diffusion), beta, estimator(a));
}

// Every relaxation ran, and the ledger books the circuit of this model: the ideal
// circuit's equilibrium must be the trainer's (DESIGN.md §1).
void check_measurement(const EnergyArgs& a, const energy::Measurement& m, const energy::EnergyParams& ep) {
  for (const auto& p : m.phases)
    if (p.failed > 0)
      throw SimulationOutcome(fmt::format("{} relaxation(s) of the {} phase failed on {}: {}", p.failed, p.name, m.backend,
                                          p.message));
  const double tol = 10 * std::pow(2.0, -ep.adc_bits);  // ten settling tolerances, model units
  if (a.mismatch_seed || m.model_error <= tol) return;
  throw SimulationOutcome(fmt::format(
      "{}: the ideal circuit's free equilibrium differs from the trainer's by {:.3g} model units (allowed {:.3g}): the "
      "netlister does not realise this network yet, so its ledger would book a different circuit",
      a.model_dir, m.model_error, tol));
}

nlohmann::json phase_json(const energy::PhaseMeasurement& p) {
  return {{"name", p.name},
          {"readout", p.readout},
          {"samples", p.samples},
          {"settled", p.settled},
          {"failed", p.failed},
          {"settle_time_s", p.settle_time_s},
          {"settle_time_max_s", p.settle_time_max_s},
          {"supply_current_A", p.supply_current_A},
          {"swing_sum_V2", p.swing_V2},
          {"clamp_charge_C", p.clamp_charge_C},
          {"readout_difference_rms_V", p.readout_difference_V},
          {"message", p.message}};
}

nlohmann::json measurement_json(const energy::Measurement& m, const circuit::DeviceModel& dm, const energy::EnergyParams& ep) {
  nlohmann::json phases = nlohmann::json::array();
  for (const auto& p : m.phases) phases.push_back(phase_json(p));
  const double kT_J = backend::boltzmann_J_per_K * dm.temperature_K;
  return {{"backend", m.backend},
          {"samples", m.samples},
          {"settle_tol_V", m.settle_tol_V},
          {"adc_lsb_V", 2 * dm.v_unit_V * std::pow(2.0, -ep.adc_bits)},
          {"nudge_signal_rms_V", m.nudge_signal_V},
          {"circuit_vs_model_max_error_model_units", m.model_error},
          {"thermal_noise_rms_V", std::sqrt(kT_J / dm.c_node_F)},
          {"capacitor_nodes", m.capacitor_nodes},
          {"transconductors", m.transconductors},
          {"phases", phases}};
}

nlohmann::json item_json(const energy::LineItem& i) {
  nlohmann::json in = nlohmann::json::object();
  for (const auto& [k, v] : i.inputs) in[k] = v;
  return {{"name", i.name},     {"side", i.side},       {"category", i.category},
          {"scope", i.scope},   {"energy_J_per_step", i.energy_J_per_step},
          {"energy_J_per_sample", i.energy_J_per_sample}, {"formula", i.formula}, {"inputs", in}, {"source", i.source}};
}

nlohmann::json sensitivity_json(const energy::SensitivityRow& r) {
  return {{"parameter", r.parameter},
          {"group", r.group},
          {"change", r.change},
          {"nominal", r.nominal},
          {"low", r.low},
          {"high", r.high},
          {"remeasured", r.remeasured},
          {"no_effect", r.no_effect},
          {"analog_J_per_step_low", r.analog_J_per_step_low},
          {"analog_J_per_step_high", r.analog_J_per_step_high},
          {"ratio_gpu_backprop_to_analog_low", r.ratio_backprop_low},
          {"ratio_gpu_backprop_to_analog_high", r.ratio_backprop_high},
          {"ratio_gpu_ep_sim_to_analog_low", r.ratio_ep_sim_low},
          {"ratio_gpu_ep_sim_to_analog_high", r.ratio_ep_sim_high},
          {"ratio_binding_backprop_to_analog_low", r.ratio_binding_backprop_low},
          {"ratio_binding_backprop_to_analog_high", r.ratio_binding_backprop_high},
          {"ratio_binding_ep_sim_to_analog_low", r.ratio_binding_ep_sim_low},
          {"ratio_binding_ep_sim_to_analog_high", r.ratio_binding_ep_sim_high}};
}

nlohmann::json inputs_json(const EnergyArgs& a, const energy::StepInputs& in, bool diffusion) {
  return {{"model_dir", a.model_dir},
          {"task", diffusion ? "diffusion" : "flow"},
          {"device_model", a.device_model},
          {"baseline", a.baseline},
          {"backend", a.backend},
          {"measured_samples", a.samples},
          {"flow_batch_seed", a.seed},
          {"flow_batch_step", a.step},
          {"pairing", diffusion ? "none (denoising)" : "ot"},
          {"estimator", in.estimator},
          {"beta", in.beta},
          {"batch", a.batch},
          {"readout", a.readout},
          {"ep_sim_free_steps", a.ep_sim_free_steps},
          {"ep_sim_nudged_steps", a.ep_sim_nudged_steps},
          {"t_stop_tau", a.t_stop_tau},
          {"mismatch_seed", a.mismatch_seed ? nlohmann::json(*a.mismatch_seed) : nlohmann::json(nullptr)},
          {"git_revision", EQSIM_GIT_REVISION}};
}

std::string csv_field(const std::string& s) {
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string items_csv(const energy::Ledger& l) {
  std::string s = "side,name,category,scope,energy_J_per_step,energy_J_per_sample,formula,source\n";
  for (const auto& i : l.items)
    s += fmt::format("{},{},{},{},{:.9g},{:.9g},{},{}\n", i.side, i.name, i.category, i.scope, i.energy_J_per_step,
                     i.energy_J_per_sample, csv_field(i.formula), csv_field(i.source));
  const double B = static_cast<double>(l.batch);
  for (const auto& [side, v] : {std::pair{"analog", l.analog_J_per_step}, {"gpu_backprop", l.gpu_backprop_J_per_step},
                                {"gpu_ep_sim", l.gpu_ep_sim_J_per_step}, {"gpu_backprop_eager", l.backprop.eager_J},
                                {"gpu_backprop_graph", l.backprop.graph_J}, {"gpu_ep_sim_eager", l.ep_sim.eager_J},
                                {"gpu_ep_sim_graph", l.ep_sim.graph_J}})
    s += fmt::format("{},total,total,per_step,{:.9g},{:.9g},\"sum of the side's items\",\"\"\n", side, v, v / B);
  return s;
}

std::string sensitivity_csv(const std::vector<energy::SensitivityRow>& rows) {
  std::string s =
      "parameter,group,change,nominal,low,high,remeasured,no_effect,analog_J_per_step_low,analog_J_per_step_high,"
      "ratio_gpu_backprop_to_analog_low,ratio_gpu_backprop_to_analog_high,ratio_gpu_ep_sim_to_analog_low,"
      "ratio_gpu_ep_sim_to_analog_high,ratio_binding_backprop_to_analog_low,ratio_binding_backprop_to_analog_high,"
      "ratio_binding_ep_sim_to_analog_low,ratio_binding_ep_sim_to_analog_high\n";
  for (const auto& r : rows)
    s += fmt::format("{},{},{},{:.6g},{:.6g},{:.6g},{},{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},"
                     "{:.6g}\n",
                     r.parameter, r.group, csv_field(r.change), r.nominal, r.low, r.high, r.remeasured, r.no_effect,
                     r.analog_J_per_step_low, r.analog_J_per_step_high, r.ratio_backprop_low, r.ratio_backprop_high,
                     r.ratio_ep_sim_low, r.ratio_ep_sim_high, r.ratio_binding_backprop_low,
                     r.ratio_binding_backprop_high, r.ratio_binding_ep_sim_low, r.ratio_binding_ep_sim_high);
  return s;
}

nlohmann::json workload_json(const energy::GpuWorkload& w, const energy::Ledger& l) {
  return {{"kernels_per_step", w.kernels},
          {"syncs_per_step", w.syncs},
          {"flop", {{"J_per_step", w.flop_J}, {"time_s_per_step", w.flop_time_s}}},
          {"latency_eager", {{"J_per_step", w.eager_J}, {"time_s_per_step", w.eager_time_s}}},
          {"latency_graph", {{"J_per_step", w.graph_J}, {"time_s_per_step", w.graph_time_s}}},
          {"binding", w.binding()},
          {"binding_J_per_step", w.binding_J()},
          {"binding_time_s_per_step", w.binding_time_s()},
          {"ratio_binding_to_analog", w.binding_J() / l.analog_J_per_step},
          {"edp_J_s", energy::Ledger::edp_J_s(w)},
          {"ratio_edp_to_analog", energy::Ledger::edp_J_s(w) / l.analog_edp_J_s()}};
}

void add_totals(nlohmann::json& j, const energy::Ledger& l) {
  const double B = static_cast<double>(l.batch);
  j["analog_J_per_step"] = l.analog_J_per_step;
  j["gpu_backprop_J_per_step"] = l.gpu_backprop_J_per_step;
  j["gpu_ep_sim_J_per_step"] = l.gpu_ep_sim_J_per_step;
  j["analog_J_per_sample"] = l.analog_J_per_step / B;
  j["gpu_backprop_J_per_sample"] = l.gpu_backprop_J_per_step / B;
  j["gpu_ep_sim_J_per_sample"] = l.gpu_ep_sim_J_per_step / B;
  j["ratio_gpu_backprop_to_analog"] = l.ratio_gpu_backprop_to_analog();
  j["ratio_gpu_ep_sim_to_analog"] = l.ratio_gpu_ep_sim_to_analog();
  j["analog_time_s_per_step"] = l.analog_time_s_per_step;
  j["analog_edp_J_s"] = l.analog_edp_J_s();
  j["gpu"] = {{"backprop", workload_json(l.backprop, l)}, {"ep_sim", workload_json(l.ep_sim, l)}};
}

nlohmann::json figures(const OutputPaths& p, const energy::Ledger& l, const std::vector<energy::SensitivityRow>& rows) {
  nlohmann::json f = nlohmann::json::object();
  const auto b = report::plot_energy_breakdown(l, p.breakdown_png);
  f["breakdown_png"] = b.ok ? p.breakdown_png : "missing: " + b.message;
  if (!rows.empty()) {
    const auto t = report::plot_sensitivity_tornado(rows, l, p.tornado_png);
    f["sensitivity_png"] = t.ok ? p.tornado_png : "missing: " + t.message;
  }
  if (!b.ok) std::cerr << "eqsim energy: warning: " << b.message << "\n";
  return f;
}

void print_summary(const energy::Ledger& l, const energy::Measurement& m) {
  for (const auto& p : m.phases)
    fmt::print("phase {:>6}: settle {:.3g} s (max {:.3g} s), supply {:.3g} A, {}/{} settled\n", p.name, p.settle_time_s,
               p.settle_time_max_s, p.supply_current_A, p.settled, p.samples);
  fmt::print("circuit vs trainer equilibrium: max error {:.3g} model units\n", m.model_error);
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

// Writes L.json, the CSVs and the figures.
void write_outputs(const EnergyArgs& a, bool diffusion, const energy::StepInputs& in, const energy::Measurement& m,
                   const circuit::DeviceModel& dm, const energy::EnergyParams& ep, const energy::Ledger& ledger,
                   const std::vector<energy::SensitivityRow>& rows) {
  const auto paths = output_paths(a.out);
  nlohmann::json j{{"inputs", inputs_json(a, in, diffusion)}, {"measurement", measurement_json(m, dm, ep)}};
  add_totals(j, ledger);
  j["items"] = nlohmann::json::array();
  for (const auto& i : ledger.items) j["items"].push_back(item_json(i));
  j["sensitivity"] = nlohmann::json::array();
  for (const auto& r : rows) j["sensitivity"].push_back(sensitivity_json(r));
  j["files"] = figures(paths, ledger, rows);
  j["files"]["csv"] = paths.csv;
  if (!rows.empty()) j["files"]["sensitivity_csv"] = paths.sensitivity_csv;
  data::write_text_atomic(paths.csv, items_csv(ledger));
  if (!rows.empty()) data::write_text_atomic(paths.sensitivity_csv, sensitivity_csv(rows));
  data::write_text_atomic(paths.json, j.dump(2) + "\n");
}

energy::MeasureOptions measure_options(const EnergyArgs& a) {
  energy::MeasureOptions mopt{a.mismatch_seed, a.t_stop_tau, a.model_dir, {}};
  if (a.backend != "ode")  // the ode backend takes a second per phase; others may take minutes
    mopt.progress = [backend = a.backend, n = a.samples](const std::string& phase, int k) {
      std::cerr << fmt::format("eqsim energy: {} relaxation of the {} phase, sample {}/{}\n", backend, phase, k + 1, n);
    };
  return mopt;
}

energy::Ledger run_energy(const EnergyArgs& a) {
  const auto parent = std::filesystem::path(a.out).parent_path();
  if (!parent.empty()) make_output_dir(parent.string());
  const auto net = config::load_model_dir(a.model_dir);
  const auto dm = config::load_device_model(a.device_model);
  const auto ep = config::load_energy_params(a.device_model);
  const auto gpu = config::load_gpu_model(a.baseline);
  const bool diffusion = !config::load_diffusion_schedule(a.model_dir).sigmas.empty();
  const energy::LedgerOptions lopt{a.batch, energy::readout_from_string(a.readout), a.ep_sim_free_steps,
                                   a.ep_sim_nudged_steps, !diffusion};  // flow batches are OT-paired (draw_batch)
  const auto in = step_inputs(a, net, diffusion);
  auto backend = backend::make_backend(a.backend);
  const auto mopt = measure_options(a);
  const auto m = energy::measure_step(net, dm, ep, in, *backend, mopt);
  check_measurement(a, m, ep);
  const auto ledger = energy::make_ledger(net, dm, ep, gpu, m, lopt);
  std::vector<energy::SensitivityRow> rows;
  if (a.sensitivity)
    rows = energy::sensitivity({net, dm, ep, gpu, in, *backend, mopt, lopt, m},
                               [](const std::string& k) { std::cerr << "eqsim energy: sensitivity " << k << "\n"; });
  write_outputs(a, diffusion, in, m, dm, ep, ledger, rows);
  print_summary(ledger, m);
  return ledger;
}

}  // namespace

report::EnergySummary energy_job(const std::string& model_dir, const std::string& device_model,
                                 const std::string& baseline, const std::string& out, const std::string& data_path,
                                 bool sensitivity) {
  EnergyArgs a;
  a.sensitivity = sensitivity;
  a.model_dir = model_dir;
  a.device_model = resolve_project_path(device_model);
  a.baseline = resolve_project_path(baseline);
  a.out = out;
  a.data_path = data_path;
  const auto ledger = run_energy(a);
  return {device_model, out, ledger.analog_J_per_step, ledger.gpu_backprop_J_per_step, ledger.gpu_ep_sim_J_per_step};
}

void add_energy_command(CLI::App& app) {
  auto a = std::make_shared<EnergyArgs>();
  auto* cmd = app.add_subcommand("energy", "Energy ledger: joules per training step on the analog substrate vs a GPU");
  cmd->add_option("model_dir", a->model_dir, "model folder (model.yaml + .npy arrays)")->required();
  cmd->add_option("--device-model", a->device_model, "device model YAML with an energy: section")->required();
  cmd->add_option("--baseline", a->baseline, "GPU baseline YAML (device_models/gpu-*.yaml)")->required();
  cmd->add_option("--out", a->out, "ledger JSON; the CSVs and PNGs go beside it")->required();
  cmd->add_option("--backend", a->backend, "ode or spice")->capture_default_str();
  cmd->add_option("--batch", a->batch, "samples per training step")->capture_default_str();
  cmd->add_option("--samples", a->samples, "flow-matching inputs relaxed to measure each phase")->capture_default_str();
  cmd->add_option("--seed", a->seed, "seed of the flow batch")->capture_default_str();
  cmd->add_option("--step", a->step, "step whose flow batch is drawn")->capture_default_str();
  cmd->add_option("--beta", a->beta, "nudge strength (default 1.25e-3 flow, 0.05 diffusion)");
  cmd->add_option("--estimator", a->estimator, "symmetric (free, +beta, -beta) or one_sided (free, +beta)")->capture_default_str();
  cmd->add_option("--readout", a->readout, "units (ADC per node) or products (analog per-parameter accumulators)")
      ->capture_default_str();
  cmd->add_option("--ep-sim-free-steps", a->ep_sim_free_steps, "GPU EP simulation: free-phase relaxation steps")
      ->capture_default_str();
  cmd->add_option("--ep-sim-nudged-steps", a->ep_sim_nudged_steps, "GPU EP simulation: steps per nudged phase")
      ->capture_default_str();
  cmd->add_option("--mismatch-seed", a->mismatch_seed, "relax mismatched circuits drawn from this seed (default ideal)");
  cmd->add_option("--t-stop-tau", a->t_stop_tau, "longest relaxation, in node time constants")->capture_default_str();
  cmd->add_option("--data", a->data_path, "digits.csv.gz (default: the setup's cache)");
  cmd->add_flag("--sensitivity,!--no-sensitivity", a->sensitivity, "sensitivity table and tornado figure")
      ->capture_default_str();
  cmd->callback([a] { run_energy(*a); });
}

}  // namespace eqsim::cli
