set terminal pngcairo size 900,600 font 'sans,11'
set output '/work/m11/demo3/figures/explore_pareto.png'
set logscale x
set xlabel 'energy per training step (J)'
set ylabel 'frechet_rise (mean, 95 % CI)'
set grid
set key top right
set title 'Design points: mean over chips with 95 % bootstrap intervals'
plot '/work/m11/demo3/figures/explore_pareto.png.dat' index 0 using 1:2:3:4 with yerrorbars pt 7 title 'deploy', '/work/m11/demo3/figures/explore_pareto.png.dat' index 1 using 1:2:3:4 with yerrorbars pt 7 title 'insitu'
