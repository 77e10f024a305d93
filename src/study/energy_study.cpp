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
#include "study/energy_study.hpp"
#include "backend/registry.hpp"
#include "git_revision.hpp"
#include "study/jobs.hpp"
#include "study/outcome.hpp"
#include "config/device_model_yaml.hpp"
#include "config/energy_yaml.hpp"
#include "config/model_dir.hpp"
#include "data/digits.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"
#include "energy/sensitivity.hpp"
#include "learn/trainer.hpp"
#include "report/energy_figures.hpp"


namespace eqsim::study {

namespace {

// Output paths beside L.json.
struct OutputPaths {
  std::string json, csv, sensitivity_csv, breakdown_png, tornado_png;
};

OutputPaths output_paths(const std::string& out) {
  const std::filesystem::path p(out);
  const std::string stem = (p.parent_path() / p.stem()).string();
  return {out, stem + ".csv", stem + "_sensitivity.csv", stem + "_breakdown.png", stem + "_sensitivity.png"};
}

// One batch of `samples` digits from the trainer's samplers: flow matching (its pairing)
// or, for a diffusion model folder, denoising score matching over its noise schedule.
learn::FlowBatch draw_batch(const EnergyOptions& a, const EnergyStep& st, const Eigen::MatrixXd& images) {
  learn::TrainOptions topt;
  topt.batch_size = a.samples;
  topt.seed = a.seed;
  topt.pairing = st.pairing;
  if (st.diffusion)
    return learn::DenoisingBatchSampler(images, topt, config::load_diffusion_schedule(a.model_dir).sigmas).draw(a.step);
  learn::FlowBatchSampler sampler(images, topt);
  return sampler.draw(a.step);
}

template <class T>
T given_or_recorded(const std::optional<T>& given, const std::optional<learn::TrainingRecord>& record, T recorded,
                    const EnergyOptions& a, const std::string& flag) {
  if (given) return *given;
  if (!record)
    throw InputError(a.model_dir + "/model.yaml", "training",
                     "the model folder does not record how it was trained: pass " + flag + " (or retrain with eqsim train)");
  return recorded;
}

// The step to book: every value given, else the training record's.
EnergyStep energy_step(const EnergyOptions& a) {
  const auto rec = config::load_training_record(a.model_dir);
  const learn::TrainingRecord r = rec.value_or(learn::TrainingRecord{});
  EnergyStep st;
  st.diffusion = !config::load_diffusion_schedule(a.model_dir).sigmas.empty();
  st.batch = given_or_recorded<long>(a.batch, rec, r.train.batch_size, a, "--batch");
  st.beta = given_or_recorded<double>(a.beta, rec, r.gradient.beta, a, "--beta");
  const std::optional<learn::Estimator> est =
      a.estimator ? std::optional(learn::estimator_from_string(*a.estimator)) : std::nullopt;
  st.estimator = given_or_recorded<learn::Estimator>(est, rec, r.gradient.estimator, a, "--estimator");
  if (st.estimator == learn::Estimator::exact)  // an exact-gradient model is booked as the EP step a chip would take
    st.estimator = learn::Estimator::symmetric;
  st.pairing = rec ? r.train.pairing : learn::Pairing::ot;
  st.ep_sim_free_steps = given_or_recorded<int>(a.ep_sim_free_steps, rec, r.gradient.free_relax.max_steps, a, "--ep-sim-free-steps");
  st.ep_sim_nudged_steps =
      given_or_recorded<int>(a.ep_sim_nudged_steps, rec, r.gradient.nudged_relax.max_steps, a, "--ep-sim-nudged-steps");
  return st;
}

// The measured inputs: one batch of real digits.
energy::StepInputs step_inputs(const EnergyOptions& a, const EnergyStep& st, const model::Network& net) {
  const auto digits = data::load_digits(a.data_path);
  if (net.size(net.spec().visible) != digits.images.rows())
    throw InputError(a.model_dir, "network.visible", "needs " + std::to_string(digits.images.rows()) + " units for the digits");
  return energy::flow_step_inputs(net, draw_batch(a, st, digits.images), st.beta, st.estimator);
}

// Every relaxation ran, and the ledger books the circuit of this model: the ideal
// circuit's equilibrium must be the trainer's (DESIGN.md §1).
void check_measurement(const EnergyOptions& a, const energy::Measurement& m, const energy::EnergyParams& ep) {
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

template <class T>
nlohmann::json given(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// What was given (null: not given) and what was used, Ceres style.
nlohmann::json inputs_json(const EnergyOptions& a, const EnergyStep& st, const energy::StepInputs& in) {
  return {{"model_dir", a.model_dir},
          {"task", st.diffusion ? "diffusion" : "flow"},
          {"device_model", a.device_model},
          {"baseline", a.baseline},
          {"backend", a.backend},
          {"measured_samples", a.samples},
          {"flow_batch_seed", a.seed},
          {"flow_batch_step", a.step},
          {"pairing_used", st.diffusion ? "none (denoising)" : learn::to_string(st.pairing)},
          {"estimator_given", given(a.estimator)},
          {"estimator_used", in.estimator},
          {"beta_given", given(a.beta)},
          {"beta_used", in.beta},
          {"batch_given", given(a.batch)},
          {"batch_used", st.batch},
          {"readout", a.readout},
          {"readout_repeats", a.readout_repeats},
          {"writes_per_step", a.writes_per_step >= 0 ? nlohmann::json(a.writes_per_step) : nlohmann::json("every device")},
          {"ep_sim_free_steps_given", given(a.ep_sim_free_steps)},
          {"ep_sim_free_steps_used", st.ep_sim_free_steps},
          {"ep_sim_nudged_steps_given", given(a.ep_sim_nudged_steps)},
          {"ep_sim_nudged_steps_used", st.ep_sim_nudged_steps},
          {"step_source", "given values, else the model folder's training record (model.yaml training:)"},
          {"t_stop_tau", a.t_stop_tau},
          {"mismatch_seed", given(a.mismatch_seed)},
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

// Writes L.json, the CSVs and the figures.
void write_outputs(const EnergyOptions& a, const EnergyStep& st, const energy::StepInputs& in, const energy::Measurement& m,
                   const circuit::DeviceModel& dm, const energy::EnergyParams& ep, const energy::Ledger& ledger,
                   const std::vector<energy::SensitivityRow>& rows) {
  const auto paths = output_paths(a.out);
  nlohmann::json j{{"inputs", inputs_json(a, st, in)}, {"measurement", measurement_json(m, dm, ep)}};
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

energy::MeasureOptions measure_options(const EnergyOptions& a, const backend::Backend& b) {
  energy::MeasureOptions mopt{a.mismatch_seed, a.t_stop_tau, a.model_dir, {}};
  if (!b.batched())  // a batched backend takes a second per phase; one relaxation at a time may take minutes
    mopt.progress = [backend = a.backend, n = a.samples](const std::string& phase, int k) {
      std::cerr << fmt::format("eqsim energy: {} relaxation of the {} phase, sample {}/{}\n", backend, phase, k + 1, n);
    };
  return mopt;
}

}  // namespace

void EnergyOptions::validate() const {
  if (samples < 1) throw InputError("", "--samples", "must be at least 1");
  if (readout_repeats < 1) throw InputError("", "readout.repeats", "must be at least 1");
  if (batch && *batch < 1) throw InputError("", "--batch", "must be at least 1");
  if (beta && !(*beta > 0)) throw InputError("", "--beta", "must be positive");
  if (!(t_stop_tau > 0)) throw InputError("", "--t-stop-tau", "must be positive");
  if (estimator && *estimator != "symmetric" && *estimator != "one_sided")
    throw InputError("", "--estimator", "expected symmetric or one_sided, got '" + *estimator + "'");
  if ((ep_sim_free_steps && *ep_sim_free_steps < 1) || (ep_sim_nudged_steps && *ep_sim_nudged_steps < 1))
    throw InputError("", "--ep-sim-free-steps/--ep-sim-nudged-steps", "must be at least 1");
  try {
    energy::readout_from_string(readout);
  } catch (const std::invalid_argument& e) {
    throw InputError("", "--readout", e.what());
  }
  backend::make_backend(backend);  // InputError for an unknown name
}

EnergySummary energy_study(const EnergyOptions& a) {
  a.validate();
  const auto parent = std::filesystem::path(a.out).parent_path();
  if (!parent.empty()) make_output_dir(parent.string());
  const auto net = config::load_model_dir(a.model_dir);
  const auto dm = config::load_device_model(a.device_model);
  const auto ep = config::load_energy_params(a.device_model);
  const auto gpu = config::load_gpu_model(a.baseline);
  const EnergyStep st = energy_step(a);
  const energy::LedgerOptions lopt{st.batch, energy::readout_from_string(a.readout), st.ep_sim_free_steps,
                                   st.ep_sim_nudged_steps, !st.diffusion && st.pairing == learn::Pairing::ot,
                                   a.readout_repeats, a.writes_per_step};
  const auto in = step_inputs(a, st, net);
  auto backend = backend::make_backend(a.backend);
  const auto mopt = measure_options(a, *backend);
  const auto m = energy::measure_step(net, dm, ep, in, *backend, mopt);
  check_measurement(a, m, ep);
  const auto ledger = energy::make_ledger(net, dm, ep, gpu, m, lopt);
  std::vector<energy::SensitivityRow> rows;
  if (a.sensitivity)
    rows = energy::sensitivity({net, dm, ep, gpu, in, *backend, mopt, lopt, m},
                               [](const std::string& k) { std::cerr << "eqsim energy: sensitivity " << k << "\n"; });
  write_outputs(a, st, in, m, dm, ep, ledger, rows);
  return {st, m, ledger, a.out};
}

}  // namespace eqsim::study
