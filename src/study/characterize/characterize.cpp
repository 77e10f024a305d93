#include "study/characterize/characterize.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <random>

#include "backend/spice/spice_backend.hpp"
#include "circuit/netlist.hpp"
#include "config/device_model_yaml.hpp"
#include "data/npy.hpp"
#include "report/figures.hpp"

namespace eqsim::study {

namespace {

using Vec = std::vector<double>;
using circuit::format_number;

// Testbench: the cell's models and subcircuit, supplies at +-VDD/2 around ground, then `body`.
std::vector<std::string> deck(const Cell& cell, const circuit::DeviceModel& dm, const std::vector<std::string>& body) {
  std::vector<std::string> d{"* eqsim characterize " + cell.path,
                             ".options reltol=1e-6 abstol=1e-16 temp=" + format_number(dm.temperature_K - 273.15)};
  d.insert(d.end(), cell.models.begin(), cell.models.end());
  const auto nominal = cell_variant(cell, cell.name, {});
  d.insert(d.end(), nominal.begin(), nominal.end());
  d.push_back("Vdd vdd 0 DC " + format_number(dm.VDD_V / 2));
  d.push_back("Vss vss 0 DC " + format_number(-dm.VDD_V / 2));
  d.push_back("Vin in 0 DC 0 AC 1");
  d.insert(d.end(), body.begin(), body.end());
  d.push_back(".end");
  return d;
}

// Instance k of subckt `name`: its own bias source and its output held at 0 V by Vo<k>.
void add_instance(std::vector<std::string>& body, int k, const std::string& name, double bias_A) {
  body.push_back(fmt::format("Ib{} vdd b{} DC {}", k, k, format_number(bias_A)));
  body.push_back(fmt::format("Vo{} o{} 0 DC 0", k, k));
  body.push_back(fmt::format("X{} o{} in 0 vdd vss b{} {}", k, k, k, name));
}

struct Failed {
  std::string message;
};

backend::spice::AnalysisResult run(const std::vector<std::string>& d, const std::string& command) {
  auto r = backend::spice::run_analysis(d, command);
  if (!r.ok) throw Failed{"ngspice '" + command + "': " + r.errors};
  return r;
}

const Vec& vector_of(const backend::spice::AnalysisResult& r, const std::string& name) {
  const auto it = r.vectors.find(name);
  if (it == r.vectors.end()) {
    std::string have;
    for (const auto& [n, v] : r.vectors) have += " " + n;
    throw Failed{"ngspice returned no vector '" + name + "' (it returned:" + have + ")"};
  }
  return it->second;
}

// Linear interpolation of y(x) at x0 (x ascending).
double at(const Vec& x, const Vec& y, double x0) {
  const auto j = std::clamp<size_t>(std::upper_bound(x.begin(), x.end(), x0) - x.begin(), 1, x.size() - 1);
  const double t = (x0 - x[j - 1]) / (x[j] - x[j - 1]);
  return y[j - 1] + t * (y[j] - y[j - 1]);
}

// Zero crossing of y(x) (rising) and the slope there; false when y keeps its sign.
bool crossing(const Vec& x, const Vec& y, double& x0, double& slope) {
  for (size_t j = 1; j < x.size(); ++j)
    if ((y[j - 1] <= 0) != (y[j] <= 0)) {
      x0 = x[j - 1] - y[j - 1] * (x[j] - x[j - 1]) / (y[j] - y[j - 1]);
      slope = (y[j] - y[j - 1]) / (x[j] - x[j - 1]);
      return true;
    }
  return false;
}

// Least-squares slope of y against x over |x - x0| <= half.
double local_slope(const Vec& x, const Vec& y, double x0, double half) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int n = 0;
  for (size_t j = 0; j < x.size(); ++j) {
    if (std::abs(x[j] - x0) > half) continue;
    sx += x[j], sy += y[j], sxx += x[j] * x[j], sxy += x[j] * y[j], ++n;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

struct TanhFit {
  double A = 0, v = 0, res_max = 0, res_rms = 0;
};

// For a given v: the least-squares A over |V| <= window and the residual sum of squares.
TanhFit fit_at(const Vec& V, const Vec& I, double v, double window) {
  double st = 0, stt = 0;
  for (size_t j = 0; j < V.size(); ++j)
    if (std::abs(V[j]) <= window) {
      const double t = std::tanh(V[j] / v);
      st += t * I[j], stt += t * t;
    }
  TanhFit f{st / stt, v, 0, 0};
  int n = 0;
  for (size_t j = 0; j < V.size(); ++j)
    if (std::abs(V[j]) <= window) {
      const double r = I[j] - f.A * std::tanh(V[j] / v);
      f.res_max = std::max(f.res_max, std::abs(r)), f.res_rms += r * r, ++n;
    }
  f.res_rms = std::sqrt(f.res_rms / n);
  return f;
}

// A tanh(V / v) fitted over |V| <= 3 v: golden-section search on log v, the window
// following v until it settles. Residuals as fractions of |A|.
TanhFit fit_tanh(const Vec& V, const Vec& I) {
  double v = 0.07;
  for (int pass = 0; pass < 8; ++pass) {
    const double window = 3 * v;
    double a = std::log(0.005), b = std::log(1.0);
    const double g = (std::sqrt(5.0) - 1) / 2;
    auto sse = [&](double lv) { return fit_at(V, I, std::exp(lv), window).res_rms; };
    for (int it = 0; it < 80; ++it) {
      const double c = b - g * (b - a), d = a + g * (b - a);
      (sse(c) < sse(d) ? b : a) = (sse(c) < sse(d) ? d : c);
    }
    v = std::exp((a + b) / 2);
  }
  TanhFit f = fit_at(V, I, v, 3 * v);
  f.res_max /= std::abs(f.A), f.res_rms /= std::abs(f.A);
  return f;
}

double sample_sigma(const Vec& x) {
  double m = 0, s = 0;
  for (double v : x) m += v;
  m /= static_cast<double>(x.size());
  for (double v : x) s += (v - m) * (v - m);
  return std::sqrt(s / static_cast<double>(x.size() - 1));
}

void transfer(const Cell& cell, const circuit::DeviceModel& dm, const CharacterizeOptions& opt, CharacterizeSummary& s) {
  std::vector<std::string> body;
  add_instance(body, 0, cell.name, s.bias_A);
  const auto r = run(deck(cell, dm, body), fmt::format("dc vin {} {} {}", format_number(-opt.sweep_V),
                                                       format_number(opt.sweep_V), format_number(opt.sweep_step_V)));
  s.v_in_V = vector_of(r, "v-sweep");
  s.i_out_A = vector_of(r, "vo0#branch");
  const TanhFit f = fit_tanh(s.v_in_V, s.i_out_A);
  s.amplitude_A = f.A, s.v_unit_V = f.v, s.fit_residual_max = f.res_max, s.fit_residual_rms = f.res_rms;
  double slope = 0;
  if (!crossing(s.v_in_V, s.i_out_A, s.systematic_offset_V, slope)) throw Failed{"the output current never crosses zero"};
  Vec shifted = s.v_in_V;
  for (auto& v : shifted) v -= s.systematic_offset_V;
  s.fit_residual_max_trimmed = fit_tanh(shifted, s.i_out_A).res_max;
  s.gm_S = local_slope(s.v_in_V, s.i_out_A, s.systematic_offset_V, 2e-3);
  s.supply_A = -at(s.v_in_V, vector_of(r, "vdd#branch"), s.systematic_offset_V);
  s.tail_A = s.supply_A - s.bias_A;
  s.gm_over_id_per_V = s.gm_S / (s.tail_A / 2);
}

void output_conductance(const Cell& cell, const circuit::DeviceModel& dm, CharacterizeSummary& s) {
  std::vector<std::string> body;
  add_instance(body, 0, cell.name, s.bias_A);
  const auto r = run(deck(cell, dm, body), "dc vo0 -0.2 0.2 0.005");
  s.g_out_S = -local_slope(vector_of(r, "v-sweep"), vector_of(r, "vo0#branch"), 0.0, 0.05);
}

// Output current noise with the output held at 0 V: a CCVS (noiseless) turns the
// current through Vo0 into V(s) = 1e6 ohm * I. One noise analysis per decade of the
// band gives the integrated power P_k (ngspice's onoise_total is its rms); S = a + b / f
// integrates to a (f2 - f1) + b ln(f2 / f1), fitted in relative least squares.
void noise(const Cell& cell, const circuit::DeviceModel& dm, const CharacterizeOptions& opt, CharacterizeSummary& s) {
  std::vector<std::string> body;
  add_instance(body, 0, cell.name, s.bias_A);
  body.push_back("Hs s 0 Vo0 1e6");
  const auto d = deck(cell, dm, body);
  double m11 = 0, m12 = 0, m22 = 0, r1 = 0, r2 = 0;
  for (double f1 = opt.noise_f_min_Hz; f1 < opt.noise_f_max_Hz * 0.999; f1 *= 10) {
    const double f2 = std::min(10 * f1, opt.noise_f_max_Hz);
    const auto r = run(d, fmt::format("noise v(s) vin dec 10 {} {}", format_number(f1), format_number(f2)));
    const double P = std::pow(vector_of(r, "onoise_total").at(0) / 1e6, 2);
    const double x1 = (f2 - f1) / P, x2 = std::log(f2 / f1) / P;
    m11 += x1 * x1, m12 += x1 * x2, m22 += x2 * x2, r1 += x1, r2 += x2;
  }
  const double det = m11 * m22 - m12 * m12;
  const double a = (r1 * m22 - r2 * m12) / det, b = (m11 * r2 - m12 * r1) / det;
  s.noise_white_A2_per_Hz = a;
  s.noise_corner_Hz = b / a;
  s.noise_gamma = a / (4 * circuit::boltzmann_J_per_K * dm.temperature_K * s.gm_S);
}

struct Instance {
  std::vector<TransistorDraw> draws;
};

void monte_carlo(const Cell& cell, const circuit::DeviceModel& dm, const CharacterizeOptions& opt, CharacterizeSummary& s) {
  const int T = static_cast<int>(cell.transistors.size());
  const auto pair = input_pair(cell);
  Vec sigma_vt(T), sigma_b(T);
  for (int i = 0; i < T; ++i) {
    const double area = cell.transistors[i].W_m * cell.transistors[i].L_m;
    sigma_vt[i] = dm.pelgrom_offset_V_m / std::sqrt(area);
    sigma_b[i] = dm.pelgrom_gain_m / std::sqrt(area);
  }
  s.pelgrom_pair_V = std::hypot(sigma_vt[pair[0]], sigma_vt[pair[1]]);
  // Instances: nominal; each device's threshold +1 mV; each device's mobility +1 %;
  // then mc_instances with pair threshold draws only and mc_instances with every draw.
  const double dvt = 1e-3, dbeta = 0.01;
  std::vector<Instance> inst(1 + 2 * T, Instance{std::vector<TransistorDraw>(T)});
  for (int i = 0; i < T; ++i) inst[1 + i].draws[i].delvto_V = dvt, inst[1 + T + i].draws[i].mulu0 = 1 + dbeta;
  std::mt19937_64 rng(opt.seed);
  std::normal_distribution<double> unit;
  for (int k = 0; k < opt.mc_instances; ++k) {
    Instance in{std::vector<TransistorDraw>(T)};
    for (int i : pair) in.draws[i].delvto_V = sigma_vt[i] * unit(rng);
    inst.push_back(std::move(in));
  }
  for (int k = 0; k < opt.mc_instances; ++k) {
    Instance in{std::vector<TransistorDraw>(T)};
    for (int i = 0; i < T; ++i) in.draws[i] = {sigma_vt[i] * unit(rng), 1 + sigma_b[i] * unit(rng)};
    inst.push_back(std::move(in));
  }
  std::vector<std::string> body;
  for (int k = 0; k < static_cast<int>(inst.size()); ++k) {
    const std::string name = cell.name + "_mc" + std::to_string(k);
    const auto lines = cell_variant(cell, name, inst[k].draws);
    body.insert(body.end(), lines.begin(), lines.end());
    add_instance(body, k, name, s.bias_A);
  }
  const auto r = run(deck(cell, dm, body), fmt::format("dc vin {} {} {}", format_number(-opt.mc_sweep_V),
                                                       format_number(opt.mc_sweep_V), format_number(opt.mc_step_V)));
  const Vec& V = vector_of(r, "v-sweep");
  Vec offset(inst.size()), gain(inst.size());
  for (size_t k = 0; k < inst.size(); ++k)
    if (!crossing(V, vector_of(r, fmt::format("vo{}#branch", k)), offset[k], gain[k]))
      throw Failed{fmt::format("Monte-Carlo instance {}: offset outside the +-{} V sweep", k, opt.mc_sweep_V)};
  double var_os = 0, var_gain = 0, var_pair = 0;
  for (int i = 0; i < T; ++i) {
    const double s_vt = (offset[1 + i] - offset[0]) / dvt, s_b = (offset[1 + T + i] - offset[0]) / dbeta;
    const double g_vt = (gain[1 + i] / gain[0] - 1) / dvt, g_b = (gain[1 + T + i] / gain[0] - 1) / dbeta;
    var_os += std::pow(s_vt * sigma_vt[i], 2) + std::pow(s_b * sigma_b[i], 2);
    s.sensitivities.push_back({cell.transistors[i].name, s_vt, s_b});
    if (std::find(pair.begin(), pair.end(), i) != pair.end()) var_pair += std::pow(s_vt * sigma_vt[i], 2);
    var_gain += std::pow(g_vt * sigma_vt[i], 2) + std::pow(g_b * sigma_b[i], 2);
  }
  s.offset_predicted_V = std::sqrt(var_os);
  s.pelgrom_pair_sensitivity_V = std::sqrt(var_pair);
  s.gain_predicted = std::sqrt(var_gain);
  const size_t first = 1 + 2 * static_cast<size_t>(T), n = static_cast<size_t>(opt.mc_instances);
  Vec pair_only(offset.begin() + first, offset.begin() + first + n), full(offset.begin() + first + n, offset.end());
  Vec rel_gain;
  for (size_t k = first + n; k < gain.size(); ++k) rel_gain.push_back(gain[k] / gain[0] - 1);
  s.mc_instances = opt.mc_instances;
  s.offset_sigma_pair_only_V = sample_sigma(pair_only);
  s.offset_sigma_V = sample_sigma(full);
  s.gain_sigma = sample_sigma(rel_gain);
}

std::string percent(double x) { return fmt::format("{:.2f} %", 100 * x); }

}  // namespace

CharacterizeSummary characterize(const Cell& cell, const circuit::DeviceModel& dm, const CharacterizeOptions& opt) {
  CharacterizeSummary s;
  s.bias_A = opt.bias_A > 0 ? opt.bias_A : dm.transconductor_bias_A;
  const auto& in = cell.transistors[input_pair(cell)[0]];
  s.pair_area_m2 = in.W_m * in.L_m;
  try {
    transfer(cell, dm, opt, s);
    output_conductance(cell, dm, s);
    noise(cell, dm, opt, s);
    if (opt.mc_instances >= 2) monte_carlo(cell, dm, opt, s);
    s.ok = true;
  } catch (const Failed& f) {
    s.message = f.message;
  }
  return s;
}

std::vector<DerivedNumber> derived_numbers(const CharacterizeSummary& s, const Cell& cell, const circuit::DeviceModel& dm) {
  std::string card = "models in the cell file";
  for (const auto& m : cell.model_files) card = (card[0] == 'm' ? "cards " : card + ", ") + m;
  const std::string from = fmt::format("derived by eqsim characterize from cell {} ({}; {}) at tail bias {} A, {} K: ",
                                       cell.path, cell.name, card, format_number(s.bias_A), format_number(dm.temperature_K));
  const double root_area = std::sqrt(s.pair_area_m2);
  std::vector<DerivedNumber> d{
      {"v_unit_V", s.v_unit_V,
       from + fmt::format("A tanh(V/v_unit) fit of the DC transfer, residual {} max / {} rms of full scale over +-3 v_unit "
                          "({} max with the systematic offset {:.3g} V taken out)",
                          percent(s.fit_residual_max), percent(s.fit_residual_rms), percent(s.fit_residual_max_trimmed),
                          s.systematic_offset_V)},
      {"gm_over_id_per_V", s.gm_S / s.supply_A,
       from + fmt::format("cell transconductance {:.4g} S over its supply current {:.4g} A, so that bias = gm / (gm/I_D) books "
                          "what the cell draws (one pair device alone: gm/I_D = {:.3g} /V)",
                          s.gm_S, s.supply_A, s.gm_over_id_per_V)},
      {"transconductor_bias_A", s.supply_A,
       from + "supply current of one cell at V_in = 0 (tail plus its bias branch) at the smallest tail bias characterised"},
      {"noise_gamma", s.noise_gamma,
       from + fmt::format("white output current noise {:.4g} A^2/Hz / (4 k T gm) (fit S_white + K/f over the noise band, "
                          "1/f corner {:.3g} Hz)",
                          s.noise_white_A2_per_Hz, s.noise_corner_Hz)},
      {"transconductor_area_m2", s.pair_area_m2, from + "W*L of one input-pair transistor of the cell"}};
  if (s.mc_instances >= 2) {
    d.push_back({"pelgrom_offset_V_m", s.offset_sigma_V * root_area,
                 from + fmt::format("cell input-offset sigma {:.4g} V over {} Monte-Carlo instances (every transistor drawn) "
                                    "x sqrt(pair W*L)",
                                    s.offset_sigma_V, s.mc_instances)});
    d.push_back({"pelgrom_gain_m", s.gain_sigma * root_area,
                 from + fmt::format("relative transconductance sigma {:.4g} over {} Monte-Carlo instances x sqrt(pair W*L)",
                                    s.gain_sigma, s.mc_instances)});
  }
  return d;
}

std::string fit_report(const CharacterizeSummary& s, const Cell& cell, const circuit::DeviceModel& dm) {
  std::string out = fmt::format("eqsim characterize: cell {} ({}), device model {} ({})\n", cell.path, cell.name, dm.name,
                                dm.source);
  out += fmt::format("tail bias {:.4g} A, supplies +-{:.4g} V, {:.4g} K\n\n", s.bias_A, dm.VDD_V / 2, dm.temperature_K);
  out += fmt::format("{:<34} {:>14} {:>14}\n", "quantity", "cell", dm.name);
  auto row = [&](const std::string& q, const std::string& cell_v, const std::string& dm_v) {
    out += fmt::format("{:<34} {:>14} {:>14}\n", q, cell_v, dm_v);
  };
  auto num = [](double v) { return fmt::format("{:.4g}", v); };
  row("v_unit_V (tanh fit)", num(s.v_unit_V), num(dm.v_unit_V));
  row("fit amplitude A (A)", num(s.amplitude_A), "");
  row("A / tail bias", num(s.amplitude_A / s.bias_A), "1");
  row("fit residual, max / full scale", percent(s.fit_residual_max), "");
  row("fit residual, rms / full scale", percent(s.fit_residual_rms), "");
  row("systematic offset (V)", num(s.systematic_offset_V), "0");
  row("fit residual max, offset removed", percent(s.fit_residual_max_trimmed), "");
  row("gm at the crossing (S)", num(s.gm_S), "");
  row("gm/I_D of a pair device (1/V)", num(s.gm_over_id_per_V), num(dm.gm_over_id_per_V));
  row("gm / supply current (1/V)", num(s.gm_S / s.supply_A), num(dm.gm_over_id_per_V));
  row("tail current (A)", num(s.tail_A), "");
  row("supply current per cell (A)", num(s.supply_A), num(std::max(dm.transconductor_bias_A, s.gm_S / dm.gm_over_id_per_V)));
  row("output conductance (S)", num(s.g_out_S), "0");
  row("g_out / gm", num(s.g_out_S / s.gm_S), "0");
  row("white noise S_I (A^2/Hz)", num(s.noise_white_A2_per_Hz), num(4 * circuit::boltzmann_J_per_K * dm.temperature_K *
                                                                        dm.noise_gamma * s.gm_S));
  row("  shot noise of 4 devices, 4 q I_tail", num(4 * 1.602176634e-19 * s.tail_A), "");
  row("1/f corner (Hz)", num(s.noise_corner_Hz), "");
  row("noise_gamma", num(s.noise_gamma), num(dm.noise_gamma));
  if (s.mc_instances >= 2) {
    const double root_area = std::sqrt(s.pair_area_m2);
    out += fmt::format("\nMonte Carlo: {} instances per group, A_VT = {:.4g} V m, A_beta = {:.4g} m, pair W*L = {:.4g} m^2\n",
                       s.mc_instances, dm.pelgrom_offset_V_m, dm.pelgrom_gain_m, s.pair_area_m2);
    row("offset sigma, pair draws only (V)", num(s.offset_sigma_pair_only_V), "");
    row("  Pelgrom sqrt(2) A_VT/sqrt(WL)", num(s.pelgrom_pair_V), "");
    row("  MC / Pelgrom - 1", percent(s.offset_sigma_pair_only_V / s.pelgrom_pair_V - 1), "");
    row("  Pelgrom x the pair's sensitivities", num(s.pelgrom_pair_sensitivity_V), "");
    row("  MC / that - 1", percent(s.offset_sigma_pair_only_V / s.pelgrom_pair_sensitivity_V - 1), "");
    row("offset sigma, every device (V)", num(s.offset_sigma_V), num(dm.pelgrom_offset_V_m / root_area));
    row("  predicted (sensitivities)", num(s.offset_predicted_V), "");
    row("  MC / predicted - 1", percent(s.offset_sigma_V / s.offset_predicted_V - 1), "");
    row("offset sigma / v_unit", percent(s.offset_sigma_V / s.v_unit_V), percent(dm.pelgrom_offset_V_m / root_area / dm.v_unit_V));
    for (const auto& t : s.sensitivities)
      row("  offset per delvto / per dbeta, " + t.transistor, num(t.offset_per_delvto), num(t.offset_per_beta_V));
    row("gain sigma (relative)", percent(s.gain_sigma), percent(dm.pelgrom_gain_m / root_area));
    row("  predicted (sensitivities)", percent(s.gain_predicted), "");
  }
  return out;
}

std::string write_characterization(const CharacterizeSummary& s, const Cell& cell, const circuit::DeviceModel& dm,
                                   const std::string& out_yaml) {
  const std::string stem = out_yaml.size() > 5 && out_yaml.ends_with(".yaml") ? out_yaml.substr(0, out_yaml.size() - 5) : out_yaml;
  std::map<std::string, config::DocumentedNumber> derived;
  for (const auto& n : derived_numbers(s, cell, dm)) derived[n.key] = {n.value, n.note};
  const std::string name = dm.name + "+" + cell.name;
  config::write_derived_device_model(dm.source, out_yaml, name,
                                     "Device model derived from the transistor-level cell " + cell.path + " on " + dm.name +
                                         " (eqsim characterize); report: " + stem + ".txt",
                                     derived, "copied from " + dm.source + ": ");
  data::write_text_atomic(stem + ".txt", fit_report(s, cell, dm));
  const std::string png = stem + ".png", dat = png + ".dat";
  {
    std::ofstream out(dat);
    for (size_t j = 0; j < s.v_in_V.size(); ++j) {
      const double fit = s.amplitude_A * std::tanh(s.v_in_V[j] / s.v_unit_V);
      out << fmt::format("{:.9g} {:.9g} {:.9g} {:.9g}\n", s.v_in_V[j], s.i_out_A[j], fit, (s.i_out_A[j] - fit) / s.amplitude_A);
    }
  }
  const std::string d = report::gnuplot_quoted(dat);
  const std::string script = fmt::format(
      "set termoption noenhanced\nset multiplot layout 2,1\nset grid\nset key top left\nset xlabel 'V(in) - V(ref) (V)'\n"
      "set arrow from {0},graph 0 to {0},graph 1 nohead dt 2\nset arrow from -{0},graph 0 to -{0},graph 1 nohead dt 2\n"
      "set title {1}\nset ylabel 'I(out) (nA)'\n"
      "plot {2} using 1:($2*1e9) with lines lw 2 title 'ngspice (BSIM4)', {2} using 1:($3*1e9) with lines dt 2 lw 2 "
      "title 'A tanh(V/v_unit)'\n"
      "set ylabel 'residual / A (%)'\nset title 'fit residual (dashed lines: +-3 v_unit)'\n"
      "plot {2} using 1:($4*100) with lines lw 2 notitle\nunset multiplot\n",
      3 * s.v_unit_V, report::gnuplot_quoted(fmt::format("{}: A = {:.3g} nA, v_unit = {:.1f} mV", cell.name,
                                                                s.amplitude_A * 1e9, s.v_unit_V * 1e3)),
      d);
  const auto fig = report::run_gnuplot(script, png, "900,800");
  return fig.ok ? "" : fig.message;
}

}  // namespace eqsim::study
