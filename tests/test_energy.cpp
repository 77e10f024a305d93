// The energy ledger (DESIGN.md §7): the supply-energy physics both backends must
// get right, the ledger's bookkeeping (items sum to totals, every item names its
// formula and source), settling that scales with the node time constant, and bad
// device models rejected with the key named, by the library and by the CLI.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "backend/ode/ode_backend.hpp"
#include "backend/spice/spice_backend.hpp"
#include "circuit/netlist.hpp"
#include "cli_runner.hpp"
#include "config/device_model_yaml.hpp"
#include "config/energy_yaml.hpp"
#include "data/error.hpp"
#include "energy/counts.hpp"
#include "energy/sensitivity.hpp"
#include "helpers.hpp"

using namespace eqsim;
using testing::source_path;

namespace {

const std::string kDm65 = source_path("device_models/generic-65nm.yaml");
const std::string kH100 = source_path("device_models/gpu-h100.yaml");

double node_value(const backend::RelaxSummary& s, const std::string& node) {
  for (size_t i = 0; i < s.nodes.size(); ++i)
    if (s.nodes[i] == node) return s.final_V(static_cast<Eigen::Index>(i));
  FAIL("no node " << node);
  return 0;
}

// A flow batch of n random points for a network with nv visible units.
learn::FlowBatch random_batch(int nv, int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  learn::FlowBatch b;
  b.x_t.resize(nv, n);
  b.u_t.resize(nv, n);
  for (Eigen::Index k = 0; k < b.x_t.size(); ++k) b.x_t.data()[k] = 0.5 * normal(rng), b.u_t.data()[k] = normal(rng);
  b.t = Eigen::RowVectorXd::Constant(n, 0.5);
  return b;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes text with `from` replaced by `to` (which must occur) into dir/name.
std::string edited_copy(const std::string& dir, const std::string& name, std::string text, const std::string& from,
                        const std::string& to) {
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// The symmetric step of a small bilinear network, measured on the ode backend.
struct SmallStep {
  model::Network net = testing::small_network(3);
  circuit::DeviceModel dm = config::load_device_model(kDm65);
  energy::EnergyParams ep = config::load_energy_params(kDm65);
  energy::GpuModel gpu = config::load_gpu_model(kH100);
  energy::StepInputs in = energy::flow_step_inputs(net, random_batch(6, 2, 7), 1.25e-3, learn::Estimator::symmetric);
  backend::ode::OdeBackend ode;
  energy::MeasureOptions mopt;
  energy::LedgerOptions lopt{64, energy::Readout::units, 30, 20};
};

}  // namespace

TEST_CASE("charging C to V through R from a supply draws C V^2: half stored, half dissipated (ode and spice)") {
  const auto c = circuit::read_netlist(source_path("netlists/rc_charge.cir"));
  const double C_F = 1e-12, V = 1.0;
  backend::RelaxOptions opt;
  opt.settle_tol_V = 1e-6;
  backend::ode::OdeBackend ode;
  backend::spice::SpiceBackend spice;
  for (backend::Backend* b : {static_cast<backend::Backend*>(&ode), static_cast<backend::Backend*>(&spice)}) {
    const auto s = b->relax(c, opt);
    REQUIRE_MESSAGE(s.status == backend::Status::settled, s.message);
    const double stored_J = 0.5 * C_F * std::pow(node_value(s, "n1"), 2);
    const double dissipated_J = s.supply_energy_J - stored_J;
    MESSAGE(s.backend << ": supply " << s.supply_energy_J << " J, stored " << stored_J << " J, dissipated " << dissipated_J << " J");
    CHECK(s.supply_energy_J == doctest::Approx(C_F * V * V).epsilon(0.01));
    CHECK(stored_J == doctest::Approx(0.5 * C_F * V * V).epsilon(0.01));
    CHECK(dissipated_J == doctest::Approx(0.5 * C_F * V * V).epsilon(0.01));
  }
}

TEST_CASE("converter energy: Schreier figure of merit with a floor") {
  // 10 bits, 180 dB: 0.5 * 10^((61.96 - 180)/10) = 0.785 pJ; 6 bits hits the 0.25 pJ floor.
  CHECK(energy::converter_energy_J(10, 180, 0.25e-12) == doctest::Approx(0.5 * std::pow(10.0, (61.96 - 180) / 10)));
  CHECK(energy::converter_energy_J(6, 180, 0.25e-12) == doctest::Approx(0.25e-12));
}

TEST_CASE("ledger of a bilinear network: items sum to the totals, each names formula, inputs and source") {
  SmallStep st;
  const auto m = energy::measure_step(st.net, st.dm, st.ep, st.in, st.ode, st.mopt);
  REQUIRE(m.phases.size() == 3);
  for (const auto& p : m.phases) {
    CHECK_MESSAGE(p.settled == 2, p.name << ": " << p.message);
    CHECK(p.settle_time_s > 0);
  }
  CHECK(m.transconductors > 0);
  CHECK(m.model_error < 1e-3);  // the ideal circuit is the model
  CHECK(m.phases[0].supply_current_A == doctest::Approx(m.transconductors * st.dm.transconductor_bias_A).epsilon(0.5));
  for (const auto readout : {energy::Readout::units, energy::Readout::products}) {
    auto lopt = st.lopt;
    lopt.readout = readout;
    const auto l = energy::make_ledger(st.net, st.dm, st.ep, st.gpu, m, lopt);
    for (const auto& i : l.items) {
      CHECK_MESSAGE(!i.formula.empty(), i.name);
      CHECK_MESSAGE(!i.source.empty(), i.name);
      CHECK_MESSAGE(!i.inputs.empty(), i.name);
      CHECK_MESSAGE(i.energy_J_per_step > 0, i.name);
      CHECK(i.energy_J_per_sample == doctest::Approx(i.energy_J_per_step / lopt.batch));
    }
    if (readout != energy::Readout::units) continue;
    // The analog step computed here from the measurement and the device model (DESIGN.md §7),
    // independently of the ledger's line items: per sample, every phase's static, dynamic and
    // clamp-drive energy, DACs for the inputs and targets, an ADC per node in the two readout
    // phases, the local products and their accumulation; per step the update and the writes.
    const auto n = energy::count_network(st.net);
    const auto& ep = st.ep;
    double per_sample = 0;
    for (const auto& p : m.phases)
      per_sample += st.dm.VDD_V * (p.supply_current_A * p.settle_time_s + p.clamp_charge_C) + st.dm.c_node_F * p.swing_V2;
    per_sample += 2.0 * n.visible * energy::converter_energy_J(ep.dac_bits, ep.dac_fom_s_dB, ep.dac_floor_J);
    per_sample += 2.0 * (n.units + n.projection_nodes) * energy::converter_energy_J(ep.adc_bits, ep.adc_fom_s_dB, ep.adc_floor_J);
    per_sample += 2.0 * n.coupling_parameters * ep.digital_mult_J;
    per_sample += n.parameters * (2 * ep.digital_add_J + ep.accumulator_access_J);
    const double writes = m.transconductors + n.parameters - n.coupling_parameters;
    const double analog_J = lopt.batch * per_sample + n.parameters * energy::update_ops_per_parameter * ep.update_op_J +
                            writes * ep.weight_bits * ep.weight_write_J_per_bit;
    CHECK(l.analog_J_per_step == doctest::Approx(analog_J).epsilon(1e-9));
  }
  // Repeats and writes as a chip does them: every repeat's conversions (units) or products
  // (products) booked, and a write only per measured code change.
  auto item_J = [](const energy::Ledger& l, const std::string& name) {
    for (const auto& i : l.items)
      if (i.name == name) return i.energy_J_per_step;
    return -1.0;
  };
  for (const auto& [readout, item] : {std::pair{energy::Readout::units, "adc_readout"},
                                      std::pair{energy::Readout::products, "analog_products"}}) {
    auto one = st.lopt, three = st.lopt;
    one.readout = three.readout = readout;
    three.readout_repeats = 3;
    three.writes_per_step = 7;
    const auto l1 = energy::make_ledger(st.net, st.dm, st.ep, st.gpu, m, one);
    const auto l3 = energy::make_ledger(st.net, st.dm, st.ep, st.gpu, m, three);
    CAPTURE(item);
    CHECK(item_J(l1, item) > 0);
    CHECK(item_J(l3, item) == doctest::Approx(3 * item_J(l1, item)));
    CHECK(item_J(l3, "weight_write") == doctest::Approx(7 * st.ep.weight_bits * st.ep.weight_write_J_per_bit));
  }
  const auto l = energy::make_ledger(st.net, st.dm, st.ep, st.gpu, m, st.lopt);
  const auto& s = l.items.front();
  CHECK(s.name == "static_free");
  CHECK(s.source.find("measured") != std::string::npos);
  CHECK(s.energy_J_per_sample == doctest::Approx(st.dm.VDD_V * m.phases[0].supply_current_A * m.phases[0].settle_time_s));
}

TEST_CASE("latency-bound GPU flavour: kernels counted by hand for a small network, and which flavour binds") {
  SmallStep st;
  const auto m = energy::measure_step(st.net, st.dm, st.ep, st.in, st.ode, st.mopt);
  const auto l = energy::make_ledger(st.net, st.dm, st.ep, st.gpu, m, st.lopt);
  // x(6)-h1(7) dense, h1(7)-h2(5) bilinear rank 3: 3 GEMM layers (W; U, V), 6 parameter arrays (W, U, V, 3 biases).
  // Backprop: data 4 + OT 6 + forward 2*3 + loss 3 + backward 4*3 + optimizer 5 = 36 kernels.
  CHECK(l.backprop.kernels == 36);
  // A relaxation step: dense 2 + bilinear 4 GEMMs, 3 modules * 3 updates, 1 clamp = 16 kernels; 30 + 2 * 20 steps;
  // gradient 2 readout phases * 3 layers + 6 arrays; + data, OT, optimizer.
  CHECK(l.ep_sim.kernels == 10 + 70 * 16 + 12 + 5);
  for (const auto* w : {&l.backprop, &l.ep_sim}) {
    CHECK(w->syncs == 2);  // the step's end and the host's OT assignment
    const double graph_s = w->kernels * 0.875e-6 + 2 * 5.8e-6, eager_s = w->kernels * 3.25e-6 + 2 * 5.8e-6;
    CHECK(w->graph_time_s == doctest::Approx(graph_s));
    CHECK(w->eager_time_s == doctest::Approx(eager_s));
    CHECK(w->graph_J == doctest::Approx(150 * graph_s));
    CHECK(w->flop_time_s == doctest::Approx(w->flop_J / st.gpu.tdp_W));
    // A 64-sample step of an 18-unit network is far below a microsecond of FLOPs: the launches bind.
    CHECK(w->binding() == "latency_graph");
    CHECK(w->binding_J() == w->graph_J);
  }
  CHECK(energy::Ledger::edp_J_s(l.backprop) == doctest::Approx(l.backprop.graph_J * l.backprop.graph_time_s));
  CHECK(l.analog_edp_J_s() == doctest::Approx(l.analog_J_per_step * l.analog_time_s_per_step));
  // A GPU whose launches were nearly free: the FLOP count binds again.
  auto free_launches = st.gpu;
  free_launches.latency_bound_power_W = 1e-9;
  const auto f = energy::make_ledger(st.net, st.dm, st.ep, free_launches, m, st.lopt);
  CHECK(f.backprop.binding() == "flop");
  CHECK(f.backprop.binding_J() == doctest::Approx(l.gpu_backprop_J_per_step));
  // Without OT pairing (denoising batches) the host assignment and its sync drop out.
  auto no_ot = st.lopt;
  no_ot.ot_pairing = false;
  const auto d = energy::make_ledger(st.net, st.dm, st.ep, st.gpu, m, no_ot);
  CHECK(d.backprop.kernels == 30);
  CHECK(d.backprop.syncs == 1);
}

TEST_CASE("settling scales with the node time constant; sensitivity rows re-measure it") {
  SmallStep st;
  const auto m = energy::measure_step(st.net, st.dm, st.ep, st.in, st.ode, st.mopt);
  auto dm2 = st.dm;
  dm2.c_node_F *= 2;
  const auto m2 = energy::measure_step(st.net, dm2, st.ep, st.in, st.ode, st.mopt);
  for (size_t p = 0; p < m.phases.size(); ++p)
    CHECK(m2.phases[p].settle_time_s == doctest::Approx(2 * m.phases[p].settle_time_s).epsilon(0.03));
  const auto nominal = energy::make_ledger(st.net, st.dm, st.ep, st.gpu, m, st.lopt);
  const auto rows = energy::sensitivity({st.net, st.dm, st.ep, st.gpu, st.in, st.ode, st.mopt, st.lopt, m});
  bool saw_c = false, saw_noise = false;
  for (const auto& r : rows) {
    if (r.parameter == "c_node_F") {
      saw_c = true;
      CHECK(r.remeasured);
      CHECK(r.analog_J_per_step_high > nominal.analog_J_per_step);
    }
    if (r.parameter == "noise_gamma") {
      saw_noise = true;
      CHECK(r.no_effect);
      CHECK(r.ratio_ep_sim_high == doctest::Approx(nominal.ratio_gpu_ep_sim_to_analog()));
    }
  }
  CHECK(saw_c);
  CHECK(saw_noise);
}

TEST_CASE("spice on request: the same settling times, currents and ledger as ode") {
  SmallStep st;
  st.in = energy::flow_step_inputs(st.net, random_batch(6, 1, 7), 1.25e-3, learn::Estimator::symmetric);
  backend::spice::SpiceBackend spice;
  const auto mo = energy::measure_step(st.net, st.dm, st.ep, st.in, st.ode, st.mopt);
  const auto ms = energy::measure_step(st.net, st.dm, st.ep, st.in, spice, st.mopt);
  for (size_t p = 0; p < mo.phases.size(); ++p) {
    CHECK_MESSAGE(ms.phases[p].settled == ms.phases[p].samples, ms.phases[p].message);
    CHECK(ms.phases[p].settle_time_s == doctest::Approx(mo.phases[p].settle_time_s).epsilon(0.02));
    CHECK(ms.phases[p].supply_current_A == doctest::Approx(mo.phases[p].supply_current_A).epsilon(1e-6));
  }
  CHECK(ms.model_error < 1e-3);
  const auto lo = energy::make_ledger(st.net, st.dm, st.ep, st.gpu, mo, st.lopt);
  const auto ls = energy::make_ledger(st.net, st.dm, st.ep, st.gpu, ms, st.lopt);
  CHECK(ls.analog_J_per_step == doctest::Approx(lo.analog_J_per_step).epsilon(0.01));
}

TEST_CASE("ledger of a diffusion network: each sample's circuit carries its noise level's bias-table column") {
  SmallStep st;
  st.net = testing::small_diffusion_network();
  auto batch = random_batch(6, 3, 5);
  batch.levels = {0, 2, 1};
  st.in = energy::flow_step_inputs(st.net, batch, 0.05, learn::Estimator::symmetric);
  const auto m = energy::measure_step(st.net, st.dm, st.ep, st.in, st.ode, st.mopt);
  for (const auto& p : m.phases) CHECK_MESSAGE(p.settled == 3, p.name << ": " << p.message);
  MESSAGE("diffusion net, levels 0, 2, 1: circuit vs trainer " << m.model_error << " model units; free settle "
                                                               << m.phases[0].settle_time_s << " s");
  CHECK(m.model_error < 1e-3);  // against the trainer's equilibrium at each sample's level
  auto swapped = st.in;
  swapped.levels = {2, 0, 1};  // each circuit now at another sample's level: the free phase moves
  const auto ms = energy::measure_step(st.net, st.dm, st.ep, swapped, st.ode, st.mopt);
  CHECK(ms.model_error < 1e-3);
  CHECK(std::abs(ms.phases[0].swing_V2 - m.phases[0].swing_V2) > 1e-3 * m.phases[0].swing_V2);
  const auto l = energy::make_ledger(st.net, st.dm, st.ep, st.gpu, m, st.lopt);
  double analog = 0;
  for (const auto& i : l.items) analog += i.side == "analog" ? i.energy_J_per_step : 0;
  CHECK(analog == doctest::Approx(l.analog_J_per_step).epsilon(1e-12));
  CHECK(l.ratio_gpu_backprop_to_analog() > 0);
}

TEST_CASE("bad device models and baselines: InputError naming the key") {
  const std::string dir = testing::fresh_dir("energy_bad_dm");
  const std::string text = read_text(kDm65);
  const auto missing = edited_copy(dir, "missing.yaml", text, "  adc_bits:", "  # adc_bits:");
  CHECK_THROWS_WITH_AS(config::load_energy_params(missing), doctest::Contains("energy.adc_bits"), InputError);
  const auto no_section = edited_copy(dir, "no_section.yaml", text, "energy:", "not_energy:");
  CHECK_THROWS_WITH_AS(config::load_energy_params(no_section), doctest::Contains("energy"), InputError);
  const auto neg_c = edited_copy(dir, "neg_c.yaml", text, "value: 50.0e-15", "value: -50.0e-15");
  CHECK_THROWS_WITH_AS(config::load_device_model(neg_c), doctest::Contains("c_node_F"), InputError);
  const auto zero_floor = edited_copy(dir, "zero_floor.yaml", text, "value: 0.25e-12", "value: 0");
  CHECK_THROWS_WITH_AS(config::load_energy_params(zero_floor), doctest::Contains("energy.adc_floor_J"), InputError);
  const auto gpu = edited_copy(dir, "gpu.yaml", read_text(kH100), "memory_energy_J_per_byte:", "# memory_energy_J_per_byte:");
  CHECK_THROWS_WITH_AS(config::load_gpu_model(gpu), doctest::Contains("memory_energy_J_per_byte"), InputError);
  const auto fast = edited_copy(dir, "fast.yaml", read_text(kH100), "value: 1.7e-12", "value: 1.0e-13");
  CHECK_THROWS_WITH_AS(config::load_gpu_model(fast), doctest::Contains("energy_per_FLOP_J"), InputError);
}

TEST_CASE("eqsim energy: exit 2 naming the key for a bad device model; a ledger with its files otherwise") {
  const std::string dir = testing::fresh_dir("energy_cli");
  auto r = testing::run_eqsim("train " + source_path("configs/quick.yaml") + " --out " + dir + "/m --set train.steps=2");
  REQUIRE(r.exit_code == 0);
  const std::string model = dir + "/m/model", text = read_text(kDm65);
  const std::string base = " --baseline " + kH100 + " --samples 1 --no-sensitivity --batch 100";
  const auto neg_c = edited_copy(dir, "neg_c.yaml", text, "value: 50.0e-15", "value: 0");
  r = testing::run_eqsim("energy " + model + " --device-model " + neg_c + base + " --out " + dir + "/a.json");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("c_node_F") != std::string::npos);
  const auto missing = edited_copy(dir, "missing.yaml", text, "  adc_fom_s_dB:", "  # adc_fom_s_dB:");
  r = testing::run_eqsim("energy " + model + " --device-model " + missing + base + " --out " + dir + "/b.json");
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("energy.adc_fom_s_dB") != std::string::npos);
  r = testing::run_eqsim("energy " + model + " --device-model " + kDm65 + base + " --out " + dir + "/l.json");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const auto j = nlohmann::json::parse(read_text(dir + "/l.json"));
  for (const char* key : {"analog_J_per_step", "gpu_backprop_J_per_step", "gpu_ep_sim_J_per_step",
                          "ratio_gpu_backprop_to_analog", "ratio_gpu_ep_sim_to_analog"})
    CHECK_MESSAGE(j.at(key).get<double>() > 0, key);
  CHECK(std::filesystem::exists(dir + "/l.csv"));
  CHECK(std::filesystem::exists(dir + "/l_breakdown.png"));
}

TEST_CASE("eqsim energy on a diffusion model folder: the ledger of its circuit at the batch's noise levels") {
  const std::string dir = testing::fresh_dir("energy_cli_diffusion");
  auto r = testing::run_eqsim("train " + source_path("configs/diffusion_bilinear_digits.yaml") + " --out " + dir +
                              "/m --set train.steps=2 --set train.batch_size=8");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  r = testing::run_eqsim("energy " + dir + "/m/model --device-model " + kDm65 + " --baseline " + kH100 +
                         " --samples 2 --no-sensitivity --out " + dir + "/l.json");
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  const auto j = nlohmann::json::parse(read_text(dir + "/l.json"));
  CHECK(j["inputs"]["task"] == "diffusion");
  CHECK(j["measurement"]["circuit_vs_model_max_error_model_units"].get<double>() < 1e-2);
  for (const char* key : {"analog_J_per_step", "gpu_backprop_J_per_step", "gpu_ep_sim_J_per_step"})
    CHECK_MESSAGE(j.at(key).get<double>() > 0, key);
}
