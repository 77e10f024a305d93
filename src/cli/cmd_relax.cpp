// eqsim relax F.cir --backend NAME --out R.json: relaxes any netlist in the
// supported subset and writes status, settling, supply figures and per-node
// voltages as JSON. Exit 2 for a bad netlist, 1 when the circuit did not settle.
#include <memory>
#include <nlohmann/json.hpp>

#include "backend/registry.hpp"
#include "circuit/netlist.hpp"
#include "cli/commands.hpp"
#include "study/outcome.hpp"
#include "data/npy.hpp"

namespace eqsim::cli {

namespace {

struct RelaxArgs {
  std::string netlist, backend = "ode", out;
  backend::RelaxOptions opt;
  int trajectory_points = 0;
  bool full_window = false;
};

nlohmann::json node_json(const backend::RelaxSummary& s) {
  nlohmann::json nodes = nlohmann::json::object();
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    const auto k = static_cast<Eigen::Index>(i);
    nlohmann::json n{{"final_V", s.final_V(k)}};
    if (s.noisy) n["mean_V"] = s.mean_V(k), n["var_V2"] = s.var_V2(k);
    nodes[s.nodes[i]] = n;
  }
  return nodes;
}

nlohmann::json sources_json(const backend::RelaxSummary& s) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& src : s.sources)
    out.push_back({{"name", src.name},
                   {"value_V", src.value_V},
                   {"supply", src.supply},
                   {"energy_J", src.energy_J},
                   {"current_A", {{"final", src.current_final_A}, {"mean", src.current_mean_A}}}});
  return out;
}

nlohmann::json trajectory_json(const backend::RelaxSummary& s) {
  nlohmann::json nodes = nlohmann::json::object();
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    const Eigen::VectorXd col = s.trajectory_V.col(static_cast<Eigen::Index>(i));
    nodes[s.nodes[i]] = std::vector<double>(col.data(), col.data() + col.size());
  }
  return {{"t_s", s.t_s}, {"supply_current_A", s.supply_current_A}, {"nodes_V", nodes}};
}

nlohmann::json summary_json(const RelaxArgs& a, const backend::RelaxSummary& s) {
  nlohmann::json j{{"netlist", a.netlist},
                   {"backend", s.backend},
                   {"status", backend::to_string(s.status)},
                   {"message", s.message},
                   {"noisy", s.noisy},
                   {"temperature_K", a.opt.temperature_K},
                   {"seed", a.opt.seed},
                   {"settle_tol_V", a.opt.settle_tol_V},
                   {"full_window", a.full_window},
                   {"t_end_s", s.t_end_s},
                   {"settle_time_s", s.settle_time_s},
                   {"supply_V", s.supply_V},
                   {"supply_energy_J", s.supply_energy_J},
                   {"supply_current_A", {{"final", s.supply_current_final_A}, {"mean", s.supply_current_mean_A}}},
                   {"sources", sources_json(s)},
                   {"nodes", node_json(s)}};
  if (a.trajectory_points > 0) j["trajectory"] = trajectory_json(s);
  return j;
}

void run_relax(const RelaxArgs& a) {
  const auto circuit = circuit::read_netlist(a.netlist);
  auto backend = backend::make_backend(a.backend);
  auto opt = a.opt;
  opt.max_trajectory_points = a.trajectory_points;
  opt.stop_when_settled = !a.full_window;
  const auto s = backend->relax(circuit, opt);
  data::write_text_atomic(a.out, summary_json(a, s).dump(2) + "\n");
  if (s.status != backend::Status::settled)
    throw study::SimulationOutcome(a.netlist + ": " + backend::to_string(s.status) + ": " + s.message);
}

}  // namespace

void add_relax_command(CLI::App& app) {
  auto a = std::make_shared<RelaxArgs>();
  auto* cmd = app.add_subcommand("relax", "Relax a netlist (R, C, V, I, G, B-sources with tanh) on a backend");
  cmd->add_option("netlist", a->netlist, "ngspice netlist (.cir) in the supported subset")->required();
  cmd->add_option("--backend", a->backend, backend::backend_choices())->capture_default_str();
  cmd->add_option("--out", a->out, "result JSON")->required();
  cmd->add_option("--temperature-K", a->opt.temperature_K, "thermal noise temperature (0: no noise)")->capture_default_str();
  cmd->add_option("--t-stop-s", a->opt.t_stop_s, "stop time (0: the netlist's .tran)")->capture_default_str();
  cmd->add_option("--seed", a->opt.seed, "noise seed")->capture_default_str();
  cmd->add_option("--sample-dt-s", a->opt.sample_dt_s,
                  "output grid and spice max step (0: fastest RC time constant / 20; transistor-level cells settle slower)")
      ->capture_default_str();
  cmd->add_option("--settle-tol-V", a->opt.settle_tol_V, "settling tolerance")->capture_default_str();
  cmd->add_flag("--full-window,!--stop-when-settled", a->full_window,
               "run to the stop time even once settled (the ode backend stops early by default); every source's "
               "energy then covers the same window as ngspice's")
      ->capture_default_str();
  cmd->add_option("--trajectory-points", a->trajectory_points, "decimated trajectory points in the JSON (0: none)")
      ->capture_default_str();
  cmd->callback([a] { run_relax(*a); });
}

}  // namespace eqsim::cli
