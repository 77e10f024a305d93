// eqsim characterize CELL.cir --device-model DM --out DERIVED.yaml: runs a
// transistor-level transconductor cell in ngspice and writes the device model
// derived from it, with its fit report (.txt) and figure (.png) beside it.
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "study/outcome.hpp"
#include "config/device_model_yaml.hpp"
#include "study/characterize/characterize.hpp"

namespace eqsim::cli {

namespace {

struct CharacterizeArgs {
  std::string cell, device_model, out;
  study::CharacterizeOptions opt;
};

void run_characterize(const CharacterizeArgs& a) {
  const auto cell = study::read_cell(a.cell);
  const auto dm = config::load_device_model(a.device_model);
  const auto s = study::characterize(cell, dm, a.opt);
  if (!s.ok) throw study::SimulationOutcome("characterize " + a.cell + ": " + s.message);
  const std::string figure_error = study::write_characterization(s, cell, dm, a.out);
  std::cout << study::fit_report(s, cell, dm) << "\nwrote " << a.out << "\n";
  if (!figure_error.empty()) throw study::SimulationOutcome("the fit figure is missing: " + figure_error);
}

}  // namespace

void add_characterize_command(CLI::App& app) {
  auto a = std::make_shared<CharacterizeArgs>();
  auto* cmd = app.add_subcommand("characterize", "Derive a device model from a transistor-level transconductor cell (ngspice)");
  cmd->add_option("cell", a->cell, "cell file (.cir with one .subckt: out in ref vdd vss bias)")->required();
  cmd->add_option("--device-model", a->device_model, "device model: supplies, temperature, bias, Pelgrom A_VT/A_beta")->required();
  cmd->add_option("--out", a->out, "derived device model (.yaml; the report .txt and figure .png go beside it)")->required();
  cmd->add_option("--bias-A", a->opt.bias_A, "tail bias current (default: the device model's transconductor_bias_A)");
  cmd->add_option("--mc-instances", a->opt.mc_instances, "Monte-Carlo instances per group (0: no Monte Carlo)")
      ->capture_default_str();
  cmd->add_option("--seed", a->opt.seed, "Monte-Carlo seed")->capture_default_str();
  cmd->add_option("--noise-band-Hz", a->opt.noise_f_max_Hz, "upper end of the S_white + K/f noise fit")->capture_default_str();
  cmd->callback([a] { run_characterize(*a); });
}

}  // namespace eqsim::cli
