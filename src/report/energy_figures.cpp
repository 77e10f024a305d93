#include "report/energy_figures.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

namespace eqsim::report {

namespace {

// Category and side names have underscores: no enhanced-text subscripts.
const char* const kTerminalOptions = "noenhanced font 'sans,10'";

const std::vector<std::string>& sides() {
  static const std::vector<std::string> s{"analog",           "gpu_backprop",     "gpu_backprop_eager",
                                          "gpu_backprop_graph", "gpu_ep_sim",     "gpu_ep_sim_eager",
                                          "gpu_ep_sim_graph"};
  return s;
}

// A fixed colour per category, so the same category looks the same in every ledger.
std::string colour(const std::string& category) {
  static const std::map<std::string, std::string> c{
      {"static", "#332288"}, {"dynamic", "#88ccee"},     {"clamp_drive", "#44aa99"}, {"dac", "#117733"},
      {"adc", "#999933"},    {"local_products", "#ddcc77"}, {"accumulation", "#ee8866"}, {"optimizer", "#bbcc33"},
      {"weight_write", "#cc6677"}, {"compute", "#882255"}, {"memory", "#aa4499"}, {"kernels", "#661100"},
      {"syncs", "#6699cc"}};
  const auto it = c.find(category);
  return it == c.end() ? "#bbbbbb" : it->second;
}

// Categories in order of first appearance.
std::vector<std::string> categories(const energy::Ledger& l) {
  std::vector<std::string> c;
  for (const auto& i : l.items)
    if (std::find(c.begin(), c.end(), i.category) == c.end()) c.push_back(i.category);
  return c;
}

void write_breakdown_data(const energy::Ledger& l, const std::vector<std::string>& cats, const std::string& dat) {
  std::map<std::string, std::map<std::string, double>> by;
  for (const auto& i : l.items) by[i.side][i.category] += i.energy_J_per_step;
  std::ofstream out(dat);
  out << "# side total_J_per_step then % of the side total per category:";
  for (const auto& c : cats) out << ' ' << c;
  out << '\n';
  for (const auto& s : sides()) {
    double total = 0;
    for (const auto& [c, v] : by[s]) total += v;
    out << s << ' ' << fmt::format("{:.6g}", total);
    for (const auto& c : cats) out << ' ' << fmt::format("{:.6g}", total > 0 ? 100 * by[s][c] / total : 0.0);
    out << '\n';
  }
}

}  // namespace

FigureResult plot_energy_breakdown(const energy::Ledger& l, const std::string& png) {
  const auto cats = categories(l);
  const std::string dat = png + ".dat";
  write_breakdown_data(l, cats, dat);
  std::string s = fmt::format(
      "set multiplot layout 1,2 title 'Energy per training step (batch {}, {} readout)'\n"
      "set style fill solid 0.8 border -1\nset boxwidth 0.6\nset grid y\nunset key\n"
      "set logscale y\nset format y '%.0e'\nset ylabel 'J per training step'\nset xrange [-0.6:{}]\n"
      "set xtics rotate by -30\nset title 'totals'\n"
      "plot {} using 0:2:xtic(1) with boxes lc rgb '#4477aa', '' using 0:2:(sprintf('%.3g J', $2)) with labels "
      "offset 0,1\n",
      l.batch, l.readout, static_cast<double>(sides().size()) - 0.4, gnuplot_quoted(dat));
  s += "unset logscale y\nset format y '%g'\nset yrange [0:100]\nset ylabel 'share of the side total (%)'\n"
       "set title 'composition'\nset style data histograms\nset style histogram rowstacked\nset key outside right\n"
       "set boxwidth 0.6\nplot ";
  for (size_t k = 0; k < cats.size(); ++k)
    s += fmt::format("{}{} using {}{} lc rgb '{}' title {}", k ? ", " : "", k ? "''" : gnuplot_quoted(dat), k + 3,
                     k ? "" : ":xtic(1)", colour(cats[k]), gnuplot_quoted(cats[k]));
  return run_gnuplot(s + "\nunset multiplot\n", png, "1200,550", kTerminalOptions);
}

namespace {

double effect(const energy::SensitivityRow& r, const energy::Ledger& n) {
  const double bp = n.ratio_gpu_backprop_to_analog(), ep = n.ratio_gpu_ep_sim_to_analog();
  return std::max({std::abs(std::log(r.ratio_backprop_low / bp)), std::abs(std::log(r.ratio_backprop_high / bp)),
                   std::abs(std::log(r.ratio_ep_sim_low / ep)), std::abs(std::log(r.ratio_ep_sim_high / ep))});
}

// One line per row: index, then for each flavour the low and high bars as [min, max] with the nominal.
void write_tornado_data(const std::vector<const energy::SensitivityRow*>& rows, const energy::Ledger& n,
                        const std::string& dat) {
  const double bp = n.ratio_gpu_backprop_to_analog(), ep = n.ratio_gpu_ep_sim_to_analog();
  std::ofstream out(dat);
  out << "# index bp_low_min bp_low_max bp_high_min bp_high_max ep_low_min ep_low_max ep_high_min ep_high_max\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = *rows[i];
    out << i;
    for (const auto& [v, nominal] : {std::pair{r.ratio_backprop_low, bp}, {r.ratio_backprop_high, bp},
                                     {r.ratio_ep_sim_low, ep}, {r.ratio_ep_sim_high, ep}})
      out << ' ' << fmt::format("{:.6g} {:.6g}", std::min(v, nominal), std::max(v, nominal));
    out << '\n';
  }
}

std::string tornado_panel(const std::string& dat, const std::string& title, int first_col, double nominal) {
  return fmt::format(
      "set title {}\nset arrow 1 from {:.6g}, graph 0 to {:.6g}, graph 1 nohead lw 2 lc rgb 'black'\n"
      "plot {} using (sqrt(${}*${})):($1+0.2):{}:{}:($1+0.02):($1+0.38) with boxxyerror fs solid 0.7 lc rgb '#4477aa' "
      "title 'low value', '' using (sqrt(${}*${})):($1-0.2):{}:{}:($1-0.38):($1-0.02) with boxxyerror fs solid 0.7 lc "
      "rgb '#cc6677' title 'high value'\n",
      gnuplot_quoted(title), nominal, nominal, gnuplot_quoted(dat), first_col, first_col + 1, first_col,
      first_col + 1, first_col + 2, first_col + 3, first_col + 2, first_col + 3);
}

}  // namespace

FigureResult plot_sensitivity_tornado(const std::vector<energy::SensitivityRow>& rows, const energy::Ledger& nominal,
                                      const std::string& png, int max_rows) {
  std::vector<const energy::SensitivityRow*> top;
  for (const auto& r : rows)
    if (!r.no_effect) top.push_back(&r);
  std::sort(top.begin(), top.end(), [&](auto* a, auto* b) { return effect(*a, nominal) < effect(*b, nominal); });
  if (static_cast<int>(top.size()) > max_rows) top.erase(top.begin(), top.end() - max_rows);
  const std::string dat = png + ".dat";
  write_tornado_data(top, nominal, dat);
  std::string tics;
  for (size_t i = 0; i < top.size(); ++i)
    tics += fmt::format("{}'{} ({})' {}", i ? ", " : "", top[i]->parameter, top[i]->change, i);
  std::string s = fmt::format(
      "set multiplot layout 1,2 title 'Sensitivity of the ratio GPU J / analog J per training step' margins "
      "0.27,0.98,0.1,0.9 spacing 0.03\n"
      "set logscale x\nset grid x\nset yrange [-0.6:{}]\nset ytics ({}) font 'sans,8'\nset key bottom right\n"
      "set xlabel 'ratio (black line: nominal)'\n",
      top.size() - 0.4, tics);
  s += tornado_panel(dat, "vs GPU backprop", 2, nominal.ratio_gpu_backprop_to_analog());
  s += "unset ytics\nset ytics 0,1 format ''\n";
  s += tornado_panel(dat, "vs GPU EP simulation", 6, nominal.ratio_gpu_ep_sim_to_analog());
  return run_gnuplot(s + "unset multiplot\n", png, "1400,650", kTerminalOptions);
}

}  // namespace eqsim::report
