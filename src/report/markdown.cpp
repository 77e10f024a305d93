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

std::string figures(const std::vector<Figure>& figs) {
  std::string s;
  for (const auto& f : figs)
    s += f.ok ? fmt::format("![{}]({})\n\n", f.title, f.path)
              : fmt::format("*Figure \"{}\" is missing: {}*\n\n", f.title, f.message);
  return s;
}

}  // namespace

std::string markdown(const RunReport& r) {
  std::string s = fmt::format("# eqsim report: {}\n\n", r.name);
  s += fmt::format("- config: `{}` (as run: `run_config.yaml`)\n- git revision: `{}`\n- training: {} steps, batch {}, seed {}\n\n",
                   r.config_source, r.git_revision, r.train_steps, r.batch_size, r.seed);
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
  return s;
}

}  // namespace eqsim::report
