set terminal pngcairo size 900,600 font 'sans,11'
set output '/tmp/explore_wk/demo2/figures/explore_yield_2.png'
set xlabel 'readout.products'
set ylabel 'yield (Wilson 95 % interval)'
set yrange [-0.05:1.05]
set grid
plot '/tmp/explore_wk/demo2/figures/explore_yield_2.png.dat' index 0 using 1:2:3:4 with yerrorbars pt 7 title 'deploy', '/tmp/explore_wk/demo2/figures/explore_yield_2.png.dat' index 1 using 1:2:3:4 with yerrorbars pt 7 title 'insitu'
