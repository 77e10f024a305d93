set terminal pngcairo size 1200,550 noenhanced font 'sans,10'
set output '/work/m11/w_shadow/explore/points/p2_ledger_breakdown.png'
set multiplot layout 1,2 title 'Energy per training step (batch 256, units readout)'
set style fill solid 0.8 border -1
set boxwidth 0.6
set grid y
unset key
set logscale y
set format y '%.0e'
set ylabel 'J per training step'
set xrange [-0.6:6.6]
set xtics rotate by -30
set title 'totals'
plot '/work/m11/w_shadow/explore/points/p2_ledger_breakdown.png.dat' using 0:2:xtic(1) with boxes lc rgb '#4477aa', '' using 0:2:(sprintf('%.3g J', $2)) with labels offset 0,1
unset logscale y
set format y '%g'
set yrange [0:100]
set ylabel 'share of the side total (%)'
set title 'composition'
set style data histograms
set style histogram rowstacked
set key outside right
set boxwidth 0.6
plot '/work/m11/w_shadow/explore/points/p2_ledger_breakdown.png.dat' using 3:xtic(1) lc rgb '#332288' title 'static', '' using 4 lc rgb '#88ccee' title 'dynamic', '' using 5 lc rgb '#44aa99' title 'clamp_drive', '' using 6 lc rgb '#117733' title 'dac', '' using 7 lc rgb '#999933' title 'adc', '' using 8 lc rgb '#ddcc77' title 'local_products', '' using 9 lc rgb '#ee8866' title 'accumulation', '' using 10 lc rgb '#bbcc33' title 'optimizer', '' using 11 lc rgb '#cc6677' title 'weight_write', '' using 12 lc rgb '#882255' title 'compute', '' using 13 lc rgb '#aa4499' title 'memory', '' using 14 lc rgb '#661100' title 'kernels', '' using 15 lc rgb '#6699cc' title 'syncs'
unset multiplot
