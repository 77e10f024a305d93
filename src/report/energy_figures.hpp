#pragma once
// Figures of the energy ledger (DESIGN.md §7), drawn by gnuplot as PNG files
// with their data beside them (.dat) and the script (.gp), like figures.hpp.
#include <string>
#include <vector>

#include "energy/ledger.hpp"
#include "energy/sensitivity.hpp"
#include "report/figures.hpp"

namespace eqsim::report {

// Two panels: J per training step of the analog substrate and both GPU
// workloads in every flavour (FLOP count, latency-bound eager and graph; log
// scale, labelled), and each side's composition by category as stacked bars
// (share of its total).
FigureResult plot_energy_breakdown(const energy::Ledger& ledger, const std::string& png);

// Tornado: for the max_rows parameters that move the ratios most, the ratio
// GPU / analog at the parameter's low and high value against the nominal ratio
// (log scale), one panel per GPU flavour.
FigureResult plot_sensitivity_tornado(const std::vector<energy::SensitivityRow>& rows, const energy::Ledger& nominal,
                                      const std::string& png, int max_rows = 16);

}  // namespace eqsim::report
