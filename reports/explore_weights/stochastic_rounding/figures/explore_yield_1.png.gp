set terminal pngcairo size 900,600 font 'sans,11'
set output '/work/m11/w_sr/figures/explore_yield_1.png'
set offsets graph 0.05, graph 0.05, 0, 0
set xlabel 'device.energy.weight_bits' noenhanced
set ylabel 'yield (Wilson 95 % interval)'
set yrange [-0.05:1.05]
set grid
set key below
plot '/work/m11/w_sr/figures/explore_yield_1.png.dat' index 0 using 1:2:3:4 with yerrorbars pt 7 ps 1.3 title 'deploy' noenhanced, '/work/m11/w_sr/figures/explore_yield_1.png.dat' index 1 using 1:2:3:4 with yerrorbars pt 4 ps 1.3 title 'insitu' noenhanced
