// eqsim netlist MODEL_DIR --device-model DM --out F.cir [--mismatch-seed S [--relative-mismatch SIGMA]]:
// the circuit of a trained model as an ngspice netlist (DESIGN.md §5).
#include <memory>
#include <optional>

#include "circuit/netlist.hpp"
#include "circuit/netlister.hpp"
#include "circuit/transistor_level.hpp"
#include "cli/commands.hpp"
#include "config/device_model_yaml.hpp"
#include "config/model_dir.hpp"
#include "data/error.hpp"
#include "data/npy.hpp"
#include "study/characterize/cell.hpp"

namespace eqsim::cli {

namespace {

struct NetlistArgs {
  std::string model_dir, device_model, out, x_t_npy, transconductor;
  double offset_trim_V = 0;
  std::optional<unsigned long long> mismatch_seed;
  std::optional<double> relative_mismatch;
  double t_stop_s = 0;
  int condition_level = -1;
};

void run_netlist(const NetlistArgs& a) {
  const auto net = config::load_model_dir(a.model_dir);
  auto dm = config::load_device_model(a.device_model);
  if (a.relative_mismatch) {
    if (!(*a.relative_mismatch >= 0)) throw InputError("command line", "--relative-mismatch", "must be >= 0");
    dm = circuit::with_relative_mismatch(dm, *a.relative_mismatch);
  }
  circuit::NetlistOptions opt;
  opt.mismatch_seed = a.mismatch_seed;
  opt.model_name = a.model_dir;
  opt.t_stop_s = a.t_stop_s;
  opt.condition_level = a.condition_level;
  if (!a.x_t_npy.empty()) {
    const Eigen::MatrixXd x = data::read_npy(a.x_t_npy);
    if (x.cols() != 1 || x.rows() != net.size(net.spec().visible))
      throw InputError(a.x_t_npy, "", "expected a vector of " + std::to_string(net.size(net.spec().visible)) + " values");
    opt.spring_target = x.col(0);
  }
  circuit::Circuit c = circuit::build_circuit(net, dm, opt);
  if (!a.transconductor.empty()) {
    if (a.mismatch_seed) throw InputError(a.transconductor, "--mismatch-seed", "transistor-level netlists are built ideal");
    auto cell = study::transistor_cell(study::read_cell(a.transconductor));
    cell.offset_trim_V = a.offset_trim_V;
    c = circuit::with_transistor_cells(c, cell, dm);
  }
  data::write_text_atomic(a.out, circuit::write_netlist(c));
}

}  // namespace

void add_netlist_command(CLI::App& app) {
  auto a = std::make_shared<NetlistArgs>();
  auto* cmd = app.add_subcommand("netlist", "Turn a trained model into an ngspice netlist");
  cmd->add_option("model_dir", a->model_dir, "model folder (model.yaml + .npy arrays)")->required();
  cmd->add_option("--device-model", a->device_model, "device model YAML (device_models/*.yaml)")->required();
  cmd->add_option("--out", a->out, "netlist file (.cir)")->required();
  cmd->add_option("--mismatch-seed", a->mismatch_seed, "draw device mismatch from this seed (default: ideal circuit)");
  cmd->add_option("--relative-mismatch", a->relative_mismatch,
                  "every device's relative mismatch sigma instead of the device model's (as the mismatch study sets it; "
                  "with its mismatch_seed column this rebuilds one of its chips)");
  cmd->add_option("--x-t", a->x_t_npy, "spring targets x_t, model units (.npy vector; default zeros)");
  cmd->add_option("--t-stop-s", a->t_stop_s, ".tran stop time (default 200 node time constants)");
  cmd->add_option("--transconductor", a->transconductor,
                  "transistor-level cell (.cir, device_models/cells/) instantiated for every transconductor; spice backend only");
  cmd->add_option("--offset-trim-V", a->offset_trim_V,
                  "with --transconductor: the cell's systematic offset (eqsim characterize), trimmed by two shared sources");
  cmd->add_option("--condition-level", a->condition_level,
                  "noise level whose bias-table column joins the bias currents (diffusion models)");
  cmd->callback([a] { run_netlist(*a); });
}

}  // namespace eqsim::cli
