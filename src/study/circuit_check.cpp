#include "study/circuit_check.hpp"

#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

#include "backend/registry.hpp"
#include "circuit/device_model.hpp"
#include "config/device_model_yaml.hpp"
#include "config/model_dir.hpp"
#include "data/digits.hpp"
#include "data/error.hpp"
#include "learn/flow.hpp"
#include "learn/sampler.hpp"
#include "study/circuit_velocity.hpp"

namespace eqsim::study {

namespace {

constexpr const char* kCircuitCheckHeader =
    "backend,engine,points,level,window_tau,not_settled,equilibrium_rms_vs_ideal_model,equilibrium_max_vs_ideal_model,"
    "equilibrium_max_vs_first_model,settle_time_max_s,wall_s_per_relaxation";

// The sampler's inputs half way: (x0 + x1)/2 (flow) or x1 + sigma_level x0 (diffusion).
Eigen::MatrixXd check_inputs(const data::Digits& digits, int points, unsigned long long seed, double noise_sigma) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<Eigen::Index> pick(0, digits.images.cols() - 1);
  Eigen::MatrixXd x(digits.images.rows(), points);
  for (int j = 0; j < points; ++j) {
    const Eigen::Index k = pick(rng);
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      const double x0 = normal(rng);
      x(i, j) = noise_sigma > 0 ? digits.images(i, k) + noise_sigma * x0 : 0.5 * (x0 + digits.images(i, k));
    }
  }
  return x;
}

// The ideal network's velocity at x, relaxed to convergence from x (hidden units at 0);
// a diffusion model's at noise level `level`: its spring score times that level's sigma.
Eigen::MatrixXd ideal_velocity(const model::Network& net, const Eigen::MatrixXd& x, int level,
                               learn::AnnealedLangevinOptions schedule) {
  learn::SampleOptions so;
  so.relax = model::converged_options(net, 0.1);
  if (level < 0) return learn::energy_velocity(net, so)(x, 0);
  schedule.relax = so.relax;
  return learn::energy_score(net, schedule)(x, level) * schedule.sigmas[static_cast<size_t>(level)];
}

}  // namespace

void CircuitCheckOptions::validate() const {
  if (backends.empty()) throw InputError("", "circuit_check.backends", "name at least one backend");
  for (const auto& b : backends) backend::make_backend(b);  // InputError for an unknown name
  if (points < 1) throw InputError("", "circuit_check.points", "must be at least 1");
  if (!(window_tau > 0)) throw InputError("", "circuit_check.window_tau", "must be positive");
}

CircuitCheckSummary circuit_check(const CircuitCheckOptions& opt) {
  opt.validate();
  const model::Network net = config::load_model_dir(opt.model_dir);
  const auto schedule = config::load_diffusion_schedule(opt.model_dir);
  const auto digits = data::load_digits(opt.data_path);
  CircuitCheckSummary out;
  out.window_tau = opt.window_tau;
  if (!schedule.sigmas.empty()) out.level = static_cast<int>(schedule.sigmas.size() / 2);
  const double noise_sigma = out.level < 0 ? 0.0 : schedule.sigmas[static_cast<size_t>(out.level)];
  const Eigen::MatrixXd x = check_inputs(digits, opt.points, opt.seed, noise_sigma);
  const double to_model = 1 / (net.spec().alpha * net.spec().spring_lambda);  // velocity -> equilibrium
  const Eigen::MatrixXd v_ideal = ideal_velocity(net, x, out.level, schedule);

  CircuitVelocityOptions copt;
  copt.device_model = config::load_device_model(opt.device_model);
  copt.relax_time_s = opt.window_tau * circuit::tau_s(copt.device_model);
  Eigen::MatrixXd v_first;
  for (const auto& name : opt.backends) {
    copt.backend = name;
    fmt::print(stderr, "circuit check: {} input(s) on the {} backend\n", opt.points, name);
    CircuitVelocity cv(net, copt);
    const auto t0 = std::chrono::steady_clock::now();
    const Eigen::MatrixXd v = cv(x, out.level);
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (v_first.size() == 0) v_first = v;
    const Eigen::ArrayXXd d = ((v - v_ideal) * to_model).array();
    CircuitCheckRow r;
    r.backend = name;
    r.engine = cv.backend_version();
    r.points = opt.points;
    r.not_settled = cv.stats().not_settled;
    r.equilibrium_rms_vs_ideal = std::sqrt(d.square().mean());
    r.equilibrium_max_vs_ideal = d.abs().maxCoeff();
    r.equilibrium_max_vs_first = ((v - v_first) * to_model).cwiseAbs().maxCoeff();
    r.settle_time_max_s = cv.stats().settle_time_max_s;
    r.wall_s_per_relaxation = wall_s / opt.points;
    out.rows.push_back(r);
  }
  return out;
}

std::string circuit_check_csv(const CircuitCheckSummary& s) {
  std::string out = std::string(kCircuitCheckHeader) + "\n";
  for (const auto& r : s.rows)
    out += fmt::format("{},{},{},{},{:.6g},{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g}\n", r.backend, r.engine, r.points, s.level, s.window_tau,
                       r.not_settled, r.equilibrium_rms_vs_ideal, r.equilibrium_max_vs_ideal, r.equilibrium_max_vs_first,
                       r.settle_time_max_s, r.wall_s_per_relaxation);
  return out;
}

CircuitCheckSummary read_circuit_check_csv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line) || line != kCircuitCheckHeader) throw InputError(path, "", "not a circuit check table (header differs)");
  CircuitCheckSummary s;
  for (int row = 2; std::getline(in, line); ++row) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    if (f.size() != 11) throw InputError(path, "line " + std::to_string(row), "a row needs 11 fields");
    try {
      CircuitCheckRow r;
      r.backend = f[0], r.engine = f[1], r.points = std::stoi(f[2]);
      s.level = std::stoi(f[3]), s.window_tau = std::stod(f[4]);
      r.not_settled = std::stol(f[5]);
      r.equilibrium_rms_vs_ideal = std::stod(f[6]), r.equilibrium_max_vs_ideal = std::stod(f[7]);
      r.equilibrium_max_vs_first = std::stod(f[8]), r.settle_time_max_s = std::stod(f[9]);
      r.wall_s_per_relaxation = std::stod(f[10]);
      s.rows.push_back(r);
    } catch (const std::logic_error&) {
      throw InputError(path, "line " + std::to_string(row), "a field is not a number");
    }
  }
  return s;
}

}  // namespace eqsim::study
