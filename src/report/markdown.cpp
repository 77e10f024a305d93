#include "report/markdown.hpp"

#include <cmath>
#include <fmt/core.h>

namespace eqsim::report {

std::string quality_table(const std::vector<LabelledQuality>& rows) {
  std::string s = fmt::format("| {:<30} | {:>5} | {:>7} | {:>9} | {:>10} | {:>8} |\n", "samples", "n", "classes",
                              "min class", "confidence", "Frechet");
  s += "|" + std::string(32, '-') + "|-------|---------|-----------|------------|----------|\n";
  for (const auto& r : rows)
    s += fmt::format("| {:<30} | {:>5} | {:>4}/10 | {:>8.1f}% | {:>10.3f} | {:>8.3f} |\n", r.label, r.quality.n,
                     r.quality.classes_covered, 100 * r.quality.min_class_fraction, r.quality.mean_confidence,
                     r.quality.frechet_distance);
  return s;
}

namespace {

std::string gradcheck_table(const std::vector<learn::GradcheckRow>& rows) {
  std::string s = "| estimator | beta | K (nudged) | free phase | cosine | rel. error |\n|---|---|---|---|---|---|\n";
  for (const auto& r : rows)
    s += fmt::format("| {} | {:g} | {} | {} | {:.5f} ± {:.5f} | {:.3g} ± {:.2g} |\n", learn::to_string(r.estimator), r.beta,
                     r.relax_steps == 0 ? std::string("converged") : std::to_string(r.relax_steps),
                     r.free_converged ? "converged" : "cut at K", r.cosine, r.cosine_std, r.rel_error, r.rel_error_std);
  return s;
}

std::string mismatch_table(const std::vector<MismatchRow>& rows) {
  std::string s =
      "| sigma | chip | noise | deploy: classes / conf. / Fréchet | in situ: classes / conf. / Fréchet | EP cosine | "
      "equilibrium error (rms) | settle median / max |\n|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : rows)
    s += fmt::format("| {:.3f} | {} | {} | {} / {:.3f} / {:.3f} | {} / {:.3f} / {:.3f} | {:.4f} | {:.2e} | {:.3g} / {:.3g} µs |\n",
                     r.sigma, r.seed, r.noise ? "on" : "off", r.deploy.classes_covered, r.deploy.mean_confidence,
                     r.deploy.frechet_distance, r.insitu.classes_covered, r.insitu.mean_confidence,
                     r.insitu.frechet_distance, r.gradient_cosine, r.equilibrium_rms, 1e6 * r.settle_time_median_s,
                     1e6 * r.settle_time_max_s);
  return s;
}

std::string sigma_text(double sigma) {
  return std::isnan(sigma) ? std::string("not within the grid") : fmt::format("sigma = {:.3f}", sigma);
}

std::string energy_table(const std::vector<EnergyBrief>& rows) {
  std::string s =
      "| device model | batch | analog J/step | analog s/step | GPU backprop J/step (binding flavour) | ratio | GPU backprop "
      "s/step | GPU EP simulation J/step (binding flavour) | ratio | FLOP-count ratios (backprop, EP sim) | ledger |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& e : rows)
    s += fmt::format("| {} | {} | {:.3g} | {:.3g} | {:.3g} ({}) | {:.1f}x | {:.3g} | {:.3g} ({}) | {:.0f}x | {:.1f}x, {:.0f}x | `{}` |\n",
                     e.device_model, e.batch, e.analog_J, e.analog_time_s, e.gpu_backprop_binding_J, e.backprop_binding,
                     e.gpu_backprop_binding_J / e.analog_J, e.gpu_backprop_time_s, e.gpu_ep_sim_binding_J, e.ep_sim_binding,
                     e.gpu_ep_sim_binding_J / e.analog_J, e.gpu_backprop_J / e.analog_J, e.gpu_ep_sim_J / e.analog_J,
                     e.ledger_path);
  return s;
}

std::string figures(const std::vector<Figure>& figs) {
  std::string s;
  for (const auto& f : figs)
    s += f.ok ? fmt::format("![{}]({})\n\n", f.title, f.path)
              : fmt::format("*Figure \"{}\" is missing: {}*\n\n", f.title, f.message);
  return s;
}

std::string circuit_check_section(const RunReport& r) {
  const auto& cc = r.circuit_check;
  const auto& first = cc.rows.front();
  std::string s = fmt::format(
      "\n## The model's circuit on every backend\n\nThe EP model netlisted ideally (`{}`) and relaxed at {} sampler "
      "input(s){} on each circuit backend for {:g} node time constants from the same start, as the circuit-in-the-loop sampler reads it; the visible units' equilibrium "
      "against the ideal network's converged one and against the {} backend's, in model units (1 = v_unit). Table: "
      "`circuit_check.csv`.\n\n",
      r.circuit_check_device_model, first.points, cc.level >= 0 ? fmt::format(" (noise level {})", cc.level) : "",
      cc.window_tau, first.backend);
  s += "| backend | engine | inputs | not settled | vs ideal, rms | vs ideal, max | vs " + first.backend +
       ", max | slowest settle (s) | wall per relaxation (s) |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& c : cc.rows)
    s += fmt::format("| {} | {} | {} | {} | {:.2e} | {:.2e} | {:.2e} | {:.3g} | {:.3g} |\n", c.backend, c.engine,
                     c.points, c.not_settled, c.equilibrium_rms_vs_ideal, c.equilibrium_max_vs_ideal,
                     c.equilibrium_max_vs_first, c.settle_time_max_s, c.wall_s_per_relaxation);
  return s;
}

}  // namespace

std::string markdown(const RunReport& r) {
  std::string s = fmt::format("# eqsim report: {}\n\n", r.name);
  if (!r.failed_stage.empty())
    s += fmt::format("> **The run stopped: stage `{}` failed.** {}\n>\n> Everything below was finished before it; "
                     "fix the cause and continue with `eqsim run ... --resume`.\n\n",
                     r.failed_stage, r.failure);
  s += fmt::format("- config: `{}` (as run: `run_config.yaml`)\n- git revision: `{}`\n- training: {} steps, batch {}, seed {}\n",
                   r.config_source, r.git_revision, r.train_steps, r.batch_size, r.seed);
  for (const auto& v : r.versions) s += "- " + v + "\n";
  s += "\n";
  s += "## Sample quality\n\nA softmax-regression classifier trained on the real digits labels each sample; "
       "a class counts as covered with at least 3 % of the samples. Fréchet distance is between Gaussian fits "
       "of samples and real digits in pixel space (lower is better).\n\n";
  s += quality_table(r.quality) + "\n";
  s += figures(r.sample_figures);
  s += "## Training\n\n";
  s += figures(r.training_figures);
  s += "Training logs: ";
  for (const auto& t : r.training) s += fmt::format("{} (`{}`); ", t.label, t.log_path);
  s += "\n\n## EP gradient vs the exact gradient\n\nOn the trained model, EP estimates against the implicit-"
       "differentiation gradient at the converged free equilibrium (table `gradcheck.csv`).\n\n";
  s += figures(r.gradcheck_figures);
  s += gradcheck_table(r.gradcheck);
  for (auto e : {learn::Estimator::symmetric, learn::Estimator::one_sided})
    s += fmt::format("\nBias slope of log rel. error vs log beta ({}): {:.2f}", learn::to_string(e), learn::bias_slope(r.gradcheck, e));
  s += "\n";
  if (!r.circuit_check.rows.empty()) s += circuit_check_section(r);
  if (!r.mismatch.empty()) {
    s += "\n## Fidelity vs mismatch\n\n" + r.mismatch_settings + "\n\n";
    s += fmt::format("Sample quality falls 10 % below the ideal circuit's (Fréchet distance, noiseless chips, mean over chips) "
                     "at **{}** when the ideal-trained weights are deployed, and at **{}** after in-situ training.\n\n",
                     sigma_text(r.drop_sigma_deploy), sigma_text(r.drop_sigma_insitu));
    s += figures(r.mismatch_figures);
    s += mismatch_table(r.mismatch) + "\nTable: `mismatch.csv`.\n";
  }
  if (!r.energy.empty()) {
    s += "\n## Energy per training step\n\nFrom `eqsim energy` on the EP model, for the training step the model "
         "records (its batch, estimator, beta and relaxation budgets): settling times and supply currents measured on the "
         "ideal circuit by the ode backend, against the GPU baseline for the same step, trained by backprop or with the EP "
         "relaxations simulated digitally. For each the price that binds: the FLOP count, or kernel launches captured in "
         "a CUDA graph at the board's power in that regime (a step of a network this small is launch-bound). The analog "
         "chip relaxes the batch's samples one after another. Line items, formulas and sources: the ledger files.\n\n";
    s += energy_table(r.energy) + "\n";
    s += figures(r.energy_figures);
  }
  return s;
}

}  // namespace eqsim::report
