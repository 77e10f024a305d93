#include "report/figures.hpp"

#include "report/markdown.hpp"

#include <cstdio>
#include <fmt/core.h>
#include <fstream>
#include <map>

namespace eqsim::report {

std::string gnuplot_quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

std::string gnuplot_text(const std::string& s) { return gnuplot_quoted(s) + " noenhanced"; }

FigureResult run_gnuplot(const std::string& script, const std::string& png, const std::string& size,
                         const std::string& terminal_options) {
  const std::string script_path = png + ".gp";
  std::ofstream(script_path) << "set terminal pngcairo size " << size << " " << terminal_options << "\nset output "
                             << gnuplot_quoted(png) << "\n" << script;
  FILE* pipe = popen(("gnuplot " + script_path + " 2>&1").c_str(), "r");
  if (!pipe) return {false, "cannot start gnuplot"};
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, pipe)) out += buf;
  if (pclose(pipe) != 0) return {false, "gnuplot failed on " + script_path + ": " + out};
  return {true, ""};
}

FigureResult plot_training_curves(const std::vector<Series>& logs, const std::string& png) {
  std::string script =
      "set datafile separator ','\nset key top right\nset logscale y\nset grid\nset xlabel 'training step'\n"
      "set ylabel 'flow-matching loss 1/2|v - u|^2 (batch mean)'\nset title 'Training curves'\nplot ";
  for (size_t i = 0; i < logs.size(); ++i)
    script += fmt::format("{}{} using 1:2 every ::1 with lines lw 2 title {}", i ? ", " : "",
                          gnuplot_quoted(logs[i].csv_path), gnuplot_text(logs[i].label));
  return run_gnuplot(script + "\n", png);
}

FigureResult plot_digit_grid(const Eigen::MatrixXd& samples, int rows, int cols, const std::string& title,
                             const std::string& png) {
  const int tile = 9;  // 8 pixels + 1 gap
  Eigen::MatrixXd image = Eigen::MatrixXd::Constant(rows * tile, cols * tile, -1.0);
  for (int k = 0; k < std::min<int>(rows * cols, static_cast<int>(samples.cols())); ++k)
    for (int p = 0; p < 64; ++p) image((k / cols) * tile + p / 8, (k % cols) * tile + p % 8) = samples(p, k);
  const std::string dat = png + ".dat";
  std::ofstream out(dat);
  for (int r = image.rows() - 1; r >= 0; --r) {  // gnuplot's matrix rows go upwards
    for (int c = 0; c < image.cols(); ++c) out << image(r, c) << (c + 1 < image.cols() ? " " : "\n");
  }
  out.close();
  const std::string script = fmt::format(
      "set size ratio -1\nunset key\nunset tics\nunset colorbox\nset palette gray negative\nset cbrange [-1:1]\n"
      "set title {}\nset xrange [-0.5:{}]\nset yrange [-0.5:{}]\nplot {} matrix with image\n",
      gnuplot_quoted(title), image.cols() - 0.5, image.rows() - 0.5, gnuplot_quoted(dat));
  return run_gnuplot(script, png);
}

FigureResult plot_gradcheck(const std::vector<learn::GradcheckRow>& rows, const std::string& png) {
  std::map<std::string, std::vector<const learn::GradcheckRow*>> series;
  for (const auto& r : rows)
    if (r.free_converged)
      series[learn::to_string(r.estimator) + ", K = " + (r.relax_steps ? std::to_string(r.relax_steps) : std::string("converged"))]
          .push_back(&r);
  const std::string dat = png + ".dat";
  std::ofstream out(dat);
  std::string script =
      "set logscale xy\nset grid\nset key outside right\nset xlabel 'beta'\nset ylabel '|g_{EP} - g_{exact}| / |g_{exact}|'\n"
      "set title 'EP gradient error vs the exact gradient (free phase converged)'\nplot ";
  int index = 0;
  for (const auto& [label, pts] : series) {
    for (const auto* r : pts) out << r->beta << ' ' << r->rel_error << '\n';
    out << "\n\n";
    script += fmt::format("{}{} index {} using 1:2 with linespoints lw 2 {} title {}", index ? ", " : "", gnuplot_quoted(dat),
                          index, label.rfind("one_sided", 0) == 0 ? "dt 2" : "dt 1", gnuplot_text(label));
    ++index;
  }
  out.close();
  return run_gnuplot(script + "\n", png);
}

FigureResult plot_mismatch(const std::vector<MismatchRow>& rows, const std::string& png) {
  // Per (noise, sigma): mean Frechet of both strategies and mean cosine; every chip too.
  std::map<std::pair<int, double>, std::vector<const MismatchRow*>> groups;
  for (const auto& r : rows) groups[{r.noise ? 1 : 0, r.sigma}].push_back(&r);
  const std::string dat = png + ".dat";
  std::ofstream out(dat);
  for (int noise : {0, 1}) {
    out << "# noise " << noise << ": sigma deploy_frechet insitu_frechet cosine\n";
    for (const auto& [key, g] : groups) {
      if (key.first != noise) continue;
      double d = 0, i = 0, c = 0;
      for (const auto* r : g) d += r->deploy.frechet_distance, i += r->insitu.frechet_distance, c += r->gradient_cosine;
      const double n = static_cast<double>(g.size());
      out << 100 * key.second << ' ' << d / n << ' ' << i / n << ' ' << c / n << '\n';
    }
    out << "\n\n";
  }
  out << "# every chip: sigma deploy_frechet insitu_frechet noise\n";
  for (const auto& r : rows)
    out << 100 * r.sigma << ' ' << r.deploy.frechet_distance << ' ' << r.insitu.frechet_distance << ' ' << r.noise << '\n';
  out.close();
  const std::string q = gnuplot_quoted(dat);
  const std::string script = fmt::format(
      "set multiplot layout 1,2\nset grid\nset key top left\nset xlabel 'relative mismatch sigma (%)'\n"
      "set ylabel 'Frechet distance to the digits (lower is better)'\nset title 'Sample quality on mismatched chips'\n"
      "plot {0} index 0 using 1:2 with linespoints lw 2 lc 1 title 'deploy, noiseless', "
      "{0} index 0 using 1:3 with linespoints lw 2 lc 2 title 'in situ, noiseless', "
      "{0} index 1 using 1:2 with linespoints lw 2 dt 2 lc 1 title 'deploy, thermal noise', "
      "{0} index 1 using 1:3 with linespoints lw 2 dt 2 lc 2 title 'in situ, thermal noise', "
      "{0} index 2 using 1:2 with points pt 1 lc 1 notitle, {0} index 2 using 1:3 with points pt 2 lc 2 notitle\n"
      "set ylabel 'cosine(EP on the chip, exact ideal gradient)'\nset title 'EP gradient on mismatched chips'\n"
      "set key bottom left\n"
      "plot {0} index 0 using 1:4 with linespoints lw 2 title 'noiseless', "
      "{0} index 1 using 1:4 with linespoints lw 2 dt 2 title 'thermal noise'\nunset multiplot\n",
      q);
  return run_gnuplot(script, png, "1300,550");
}

}  // namespace eqsim::report
