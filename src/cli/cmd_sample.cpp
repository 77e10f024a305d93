// eqsim sample MODEL_DIR --n N --out F.npy [--backend ideal|CIRCUIT_BACKEND --device-model DM ...]:
// generates digits; with ode or spice every velocity is read from a circuit
// relaxation (circuit in the loop) and F.npy.json records the backend, device
// model, seeds and settle statistics.
#include <fmt/core.h>

#include <array>

#include "backend/registry.hpp"
#include "cli/commands.hpp"
#include "study/jobs.hpp"
#include "config/device_model_yaml.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"

namespace eqsim::cli {

namespace {

struct SampleArgs {
  std::string model_dir, out, readout = "spring", backend = "ideal", device_model;
  learn::SampleOptions opt;
  study::CircuitVelocityOptions circuit;
  bool evaluate = false;
  std::string data_path;
};

// Flags that only mean something with a circuit backend.
constexpr std::array<const char*, 6> circuit_flags{"--device-model", "--mismatch-seed", "--temperature-K",
                                                   "--noise-seed",   "--relax-time-s",  "--settle-tol-V"};

// Throws InputError naming the flag for a bad backend choice or combination.
void check_backend_flags(const CLI::App& cmd, const SampleArgs& a) {
  if (a.backend == "ideal") {
    for (const char* flag : circuit_flags)
      if (cmd.count(flag) > 0) throw InputError("command line", flag, "only with a circuit backend (" + backend::backend_choices() + ")");
    return;
  }
  backend::make_backend(a.backend);  // InputError naming --backend for an unknown name
  if (a.device_model.empty()) throw InputError("command line", "--device-model", "required with --backend " + a.backend);
  if (cmd.count("--relax-steps") > 0)
    throw InputError("command line", "--relax-steps", "only with --backend ideal (circuits relax for --relax-time-s)");
  if (a.opt.readout != learn::Readout::spring)
    throw InputError("command line", "--readout", "a circuit backend reads the spring: use --readout spring");
  if (!(a.circuit.temperature_K >= 0)) throw InputError("command line", "--temperature-K", "must be >= 0");
  if (!(a.circuit.relax_time_s >= 0)) throw InputError("command line", "--relax-time-s", "must be >= 0");
  if (!(a.circuit.settle_tol_V >= 0)) throw InputError("command line", "--settle-tol-V", "must be >= 0");
}

void run_sample(const CLI::App& cmd, SampleArgs& a) {
  try {
    a.opt.readout = learn::readout_from_string(a.readout);
  } catch (const std::invalid_argument& e) {
    throw InputError("command line", "--readout", e.what());
  }
  if (a.opt.n <= 0) throw InputError("command line", "--n", "must be positive");
  if (!(a.opt.t_end > 0) || !(a.opt.dt > 0)) throw InputError("command line", "--t-end/--dt", "must be positive");
  check_backend_flags(cmd, a);
  Eigen::MatrixXd x;
  if (a.backend == "ideal") {
    x = study::sample_job(a.model_dir, a.opt);
  } else {
    a.circuit.backend = a.backend;
    a.circuit.device_model = config::load_device_model(a.device_model);
    x = study::sample_circuit_job(a.model_dir, a.opt, a.circuit, a.out + ".json");
  }
  data::write_npy(a.out, x.transpose());
  fmt::print("wrote {} samples to {}\n", x.cols(), a.out);
  if (a.evaluate) fmt::print("{}", study::quality_table(study::evaluate_job({{a.out, x}}, a.data_path)));
}

void add_circuit_options(CLI::App& cmd, SampleArgs& a) {
  cmd.add_option("--backend", a.backend, "ideal (model relaxation) | " + backend::backend_choices() + " (circuit in the loop)")
      ->capture_default_str();
  cmd.add_option("--device-model", a.device_model, "device model YAML (device_models/*.yaml); needed by ode and spice");
  cmd.add_option("--mismatch-seed", a.circuit.mismatch_seed, "draw device mismatch from this seed (default: ideal circuit)");
  cmd.add_option("--temperature-K", a.circuit.temperature_K,
                 "thermal noise temperature (0: no noise); noisy relaxations integrate the whole window with "
                 "Euler-Maruyama steps of about 1/50 of the fastest node time constant (slow: shorten --relax-time-s)")
      ->capture_default_str();
  cmd.add_option("--noise-seed", a.circuit.noise_seed, "thermal noise stream")->capture_default_str();
  cmd.add_option("--relax-time-s", a.circuit.relax_time_s,
                 fmt::format("relaxation window per velocity (0: {:g} node time constants; noiseless ode runs stop "
                             "once settled)", study::default_relax_tau))
      ->capture_default_str();
  cmd.add_option("--settle-tol-V", a.circuit.settle_tol_V, "settling tolerance (0: 1e-4 model units)")->capture_default_str();
}

}  // namespace

void add_sample_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("sample", "Generate digits from a trained model folder");
  auto args = std::make_shared<SampleArgs>();
  cmd->add_option("model_dir", args->model_dir, "model folder (model.yaml + .npy)")->required();
  cmd->add_option("--n", args->opt.n, "number of samples")->capture_default_str();
  cmd->add_option("--out", args->out, "output .npy (n x 64, data scale [-1, 1])")->required();
  cmd->add_option("--t-end", args->opt.t_end, "integrate to this time (1.2: extended generation)")->capture_default_str();
  cmd->add_option("--dt", args->opt.dt, "Euler step")->capture_default_str();
  cmd->add_option("--seed", args->opt.seed, "seed of the starting points x0 ~ N(0, I)")->capture_default_str();
  cmd->add_option("--readout", args->readout, "spring | energy_gradient")->capture_default_str();
  cmd->add_option("--relax-steps", args->opt.relax.max_steps, "relaxation sweeps per velocity (ideal backend)")
      ->capture_default_str();
  cmd->add_flag("--evaluate", args->evaluate, "print quality metrics of the samples");
  add_circuit_options(*cmd, *args);
  cmd->callback([cmd, args] { run_sample(*cmd, *args); });
}

}  // namespace eqsim::cli
