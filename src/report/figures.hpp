#pragma once
// Figures for the report, drawn by gnuplot (Debian's gnuplot-nox) as PNG files.
// Each function writes its data beside the PNG (.dat) and returns false with a
// message when gnuplot fails, so a report can say which figure is missing.
#include <Eigen/Core>
#include <string>
#include <vector>

#include "study/results.hpp"
#include "learn/gradcheck.hpp"

namespace eqsim::report {

using study::MismatchRow;

struct FigureResult {
  bool ok = false;
  std::string message;
};

struct Series {
  std::string label, csv_path;  // a train_log.csv (columns step, loss, ...)
};

// Quotes a string for a gnuplot script ('...' with '' for a quote inside).
std::string gnuplot_quoted(const std::string& s);

// A label or title taken from data (a config key, a metric or model name) as written:
// quoted and marked noenhanced, so that its underscores are not read as subscripts.
// Labels written in the scripts themselves keep enhanced text (|v - u|^2, g_EP).
std::string gnuplot_text(const std::string& s);

// Writes `script` beside the PNG (png + ".gp") after a pngcairo terminal of the
// given pixel size ("900,600") with `terminal_options`, runs gnuplot on it and
// returns its output as the message when it fails.
FigureResult run_gnuplot(const std::string& script, const std::string& png, const std::string& size = "900,600",
                         const std::string& terminal_options = "font 'sans,11'");

// Fidelity vs mismatch: Frechet distance against sigma for both strategies, noise off
// and on (mean over chips, every chip as a point), and the EP gradient cosine.
FigureResult plot_mismatch(const std::vector<MismatchRow>& rows, const std::string& png);

// Loss against step for several training logs (log scale).
FigureResult plot_training_curves(const std::vector<Series>& logs, const std::string& png);

// A grid of the first rows*cols digits (64 x n, values in [-1, 1]) as a grey image.
FigureResult plot_digit_grid(const Eigen::MatrixXd& samples, int rows, int cols, const std::string& title,
                             const std::string& png);

// Relative error of the EP estimates against beta (log-log), per estimator, for the
// converged relaxation, with a line per budget K.
FigureResult plot_gradcheck(const std::vector<learn::GradcheckRow>& rows, const std::string& png);

}  // namespace eqsim::report
