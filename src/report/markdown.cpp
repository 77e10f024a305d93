#include "report/markdown.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <fmt/core.h>

#include "metrics/stats.hpp"

namespace eqsim::report {

namespace {
// "mean [lo, hi] N=n" of a t interval, "-" below two values.
std::string interval_cell(const std::vector<double>& values) {
  const auto iv = metrics::t_interval(values);
  return iv.n > 1 ? fmt::format("{:.3f} [{:.3f}, {:.3f}] N={}", iv.mean, iv.lo, iv.hi, iv.n) : "-";
}
}  // namespace

std::string quality_table(const std::vector<LabelledQuality>& rows) {
  bool seeds = false;
  for (const auto& r : rows) seeds = seeds || r.frechet_seeds.size() > 1;
  std::string s = fmt::format("| {:<30} | {:>5} | {:>7} | {:>9} | {:>10} | {:>8} | {:>26} | {:>9} |", "samples", "n",
                              "classes", "min class", "confidence", "Frechet", "Frechet over sets [95 %]", "Frechet@inf");
  s += seeds ? fmt::format(" {:>26} |\n", "over training seeds [95 %]") : "\n";
  s += "|" + std::string(32, '-') + "|-------|---------|-----------|------------|----------|----------------------------|-----------|";
  s += seeds ? "----------------------------|\n" : "\n";
  for (const auto& r : rows) {
    const std::string inf = std::isnan(r.frechet_inf) ? "-" : fmt::format("{:.3f}", r.frechet_inf);
    s += fmt::format("| {:<30} | {:>5} | {:>4}/10 | {:>8.1f}% | {:>10.3f} | {:>8.3f} | {:>26} | {:>9} |", r.label,
                     r.quality.n, r.quality.classes_covered, 100 * r.quality.min_class_fraction,
                     r.quality.mean_confidence, r.quality.frechet_distance, interval_cell(r.frechet_sets), inf);
    s += seeds ? fmt::format(" {:>26} |\n", interval_cell(r.frechet_seeds)) : "\n";
  }
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

// "falls 10 % at sigma = ..." or that it never does within the grid.
std::string drop_text(const metrics::Interval& sigma) {
  if (std::isnan(sigma.mean)) return fmt::format("stays within 10 % over the whole grid (N = {} chips)", sigma.n);
  const std::string hi = std::isinf(sigma.hi) ? "beyond the grid" : fmt::format("{:.3f}", sigma.hi);
  return fmt::format("falls 10 % at sigma = {:.3f} [{:.3f}, {}] (N = {} chips)", sigma.mean, sigma.lo, hi, sigma.n);
}

// Per sigma and noise setting: means over chips with their bootstrap intervals, and
// in situ against deploy on the same chips (paired).
std::string mismatch_summary(const std::vector<MismatchRow>& rows) {
  std::map<std::pair<double, bool>, std::vector<const MismatchRow*>> groups;
  for (const auto& r : rows) groups[{r.sigma, r.noise}].push_back(&r);
  std::string s = "| sigma | noise | N chips | deploy Fréchet | in situ Fréchet | in situ - deploy | EP cosine |\n"
                  "|---|---|---|---|---|---|---|\n";
  auto cell = [](const metrics::Interval& iv) { return fmt::format("{:.3f} [{:.3f}, {:.3f}]", iv.mean, iv.lo, iv.hi); };
  unsigned long long seed = 0;
  for (const auto& [key, rs] : groups) {
    std::vector<double> dep, ins, diff, cos;
    for (const auto* r : rs) {
      dep.push_back(r->deploy.frechet_distance), ins.push_back(r->insitu.frechet_distance);
      diff.push_back(r->insitu.frechet_distance - r->deploy.frechet_distance), cos.push_back(r->gradient_cosine);
    }
    // Seeds in a fixed order (function arguments are evaluated in no set order).
    const auto d = metrics::bootstrap_mean(diff, ++seed);
    const auto dep_iv = metrics::bootstrap_mean(dep, ++seed);
    const auto ins_iv = metrics::bootstrap_mean(ins, ++seed);
    const auto cos_iv = metrics::bootstrap_mean(cos, ++seed);
    const bool differs = rs.size() > 1 && (d.lo > 0 || d.hi < 0);
    s += fmt::format("| {:.3f} | {} | {} | {} | {} | {}{} | {} |\n", key.first, key.second ? "on" : "off", rs.size(),
                     cell(dep_iv), cell(ins_iv), cell(d), differs ? "" : " (not shown to differ)", cell(cos_iv));
  }
  return s;
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
  for (const auto& c : cc.rows) {
    // settle_time_max_s is over the relaxations that settled: none settled has no slowest.
    const std::string slowest = c.not_settled >= c.points ? "none settled" : fmt::format("{:.3g}", c.settle_time_max_s);
    s += fmt::format("| {} | {} | {} | {} | {:.2e} | {:.2e} | {:.2e} | {} | {:.3g} |\n", c.backend, c.engine, c.points,
                     c.not_settled, c.equilibrium_rms_vs_ideal, c.equilibrium_max_vs_ideal, c.equilibrium_max_vs_first,
                     slowest, c.wall_s_per_relaxation);
  }
  return s;
}

// EP's Frechet distance against another model's over paired sample sets (the same
// sampling seeds): the mean difference with its t interval, and whether it is one.
// With several training seeds the pairs are training runs (the same seed), each the mean
// over its sample sets: training runs, not sample sets, are then the independent units.
std::string difference_line(const LabelledQuality& ep, const LabelledQuality& other) {
  const bool by_seed = ep.frechet_seeds.size() > 1 && other.frechet_seeds.size() > 1;
  const auto& a = by_seed ? ep.frechet_seeds : ep.frechet_sets;
  const auto& b = by_seed ? other.frechet_seeds : other.frechet_sets;
  const size_t n = std::min(a.size(), b.size());
  if (n < 2 || !other.baseline) return "";
  std::vector<double> d(n);
  for (size_t k = 0; k < n; ++k) d[k] = a[k] - b[k];
  const auto iv = metrics::t_interval(d);
  const bool differs = iv.lo > 0 || iv.hi < 0;
  return fmt::format("  - EP against {}: Fréchet difference {:+.3f} [{:+.3f}, {:+.3f}] over {} paired {}: {}.\n",
                     other.label, iv.mean, iv.lo, iv.hi, n, by_seed ? "training seeds" : "sample sets",
                     differs ? (iv.mean < 0 ? "EP is better" : "EP is worse") : "not shown to differ");
}

// The report's first lines: what was trained and how well, what a chip tolerates, whether
// the circuit backends agree, what a step costs against the GPU.
std::string answer_section(const RunReport& r) {
  std::string s = "## In short\n\n";
  if (!r.quality.empty()) {
    const auto& ep = r.quality.front();
    s += fmt::format("- **Trained**: {} ({} steps, batch {}): Fréchet distance {:.3g} on {} samples, {} of 10 classes, "
                     "confidence {:.3f}",
                     ep.label, r.train_steps, r.batch_size, ep.quality.frechet_distance, ep.quality.n,
                     ep.quality.classes_covered, ep.quality.mean_confidence);
    for (size_t k = 1; k < r.quality.size(); ++k)
      s += fmt::format("; {} {:.3g}", r.quality[k].label, r.quality[k].quality.frechet_distance);
    s += ".\n";
    for (size_t k = 1; k < r.quality.size(); ++k) s += difference_line(ep, r.quality[k]);
  }
  const double slope_sym = learn::bias_slope(r.gradcheck, learn::Estimator::symmetric);
  const double slope_one = learn::bias_slope(r.gradcheck, learn::Estimator::one_sided);
  if (std::isfinite(slope_sym) && std::isfinite(slope_one))
    s += fmt::format("- **EP gradient**: its error against the exact gradient falls as beta^{:.2f} (symmetric) and "
                     "beta^{:.2f} (one-sided).\n",
                     slope_sym, slope_one);
  if (r.circuit_check.rows.size() > 1) {
    double worst = 0;
    for (const auto& c : r.circuit_check.rows) worst = std::max(worst, c.equilibrium_max_vs_first);
    s += fmt::format("- **Its circuit**: the backends agree to {:.2g} model units on the model's own netlist ({} input(s), "
                     "{:g} tau).\n",
                     worst, r.circuit_check.rows.front().points, r.circuit_check.window_tau);
  }
  if (!r.mismatch.empty())
    s += fmt::format("- **A chip tolerates**: deployed, sample quality {}; trained in situ, it {}.\n",
                     drop_text(r.drop_sigma_deploy), drop_text(r.drop_sigma_insitu));
  for (const auto& e : r.energy)
    s += fmt::format("- **A step costs** ({}, batch {}): {:.3g} J on the chip against {:.3g} J by backprop on the GPU "
                     "({}, {:.1f}x) and {:.3g} J simulating EP there ({}, {:.0f}x).\n",
                     e.device_model, e.batch, e.analog_J, e.gpu_backprop_binding_J, e.backprop_binding,
                     e.gpu_backprop_binding_J / e.analog_J, e.gpu_ep_sim_binding_J, e.ep_sim_binding,
                     e.gpu_ep_sim_binding_J / e.analog_J);
  return s + "\n";
}

}  // namespace

std::string markdown(const RunReport& r) {
  std::string s = fmt::format("# eqsim report: {}\n\n", r.name);
  if (!r.failed_stage.empty())
    s += fmt::format("> **The run stopped: stage `{}` failed.** {}\n>\n> Everything below was finished before it; "
                     "fix the cause and continue with `eqsim run ... --resume`.\n\n",
                     r.failed_stage, r.failure);
  s += answer_section(r);
  s += fmt::format("- config: `{}` (as run: `run_config.yaml`)\n- git revision: `{}`\n- training: {} steps, batch {}, seed {}\n",
                   r.config_source, r.git_revision, r.train_steps, r.batch_size, r.seed);
  for (const auto& v : r.versions) s += "- " + v + "\n";
  s += "\n";
  s += "## Sample quality\n\nA softmax-regression classifier trained on the real digits labels each sample; "
       "a class counts as covered with at least 3 % of the samples. Fréchet distance is between Gaussian fits "
       "of samples and real digits in pixel space (lower is better); it is biased upward at finite N, so sets are "
       "compared at equal N, and *Frechet@inf* is the first set's distance extrapolated to infinite N (a fit against "
       "1/N over subsets). *Over sets*: the mean and Student-t 95 % interval over N independent sample sets of the "
       "same trained model (sampling seeds `sample.seed` + k): sampling noise, not training-seed spread.\n\n";
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
    s += fmt::format("Sample quality against the ideal circuit's (Fréchet distance, noiseless chips, mean over chips; the "
                     "interval a bootstrap over chips): with the ideal-trained weights deployed it **{}**; after in-situ "
                     "training it **{}**.\n\n",
                     drop_text(r.drop_sigma_deploy), drop_text(r.drop_sigma_insitu));
    s += figures(r.mismatch_figures);
    s += "Means over chips with seeded bootstrap 95 % intervals (chips are the independent units; with a few chips "
         "the intervals are wide):\n\n" + mismatch_summary(r.mismatch) + "\nPer chip:\n\n";
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
