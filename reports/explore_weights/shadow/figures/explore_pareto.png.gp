set terminal pngcairo size 900,600 font 'sans,11'
set output '/work/m11/w_shadow/figures/explore_pareto.png'
set logscale x
set format x '%.1e'
set offsets graph 0.08, graph 0.08, graph 0.08, graph 0.08
set xlabel 'energy per training step (J)'
set ylabel 'frechet_rise (mean, 95 % CI)' noenhanced
set grid
set key top right
set title 'Design points (numbered): mean over chips with 95 % bootstrap intervals'
plot '/work/m11/w_shadow/figures/explore_pareto.png.dat' index 0 using 1:2:3:4 with yerrorbars pt 7 lc 1 title 'deploy' noenhanced, '/work/m11/w_shadow/figures/explore_pareto.png.dat' index 0 using 1:($6 > 0 ? $2 : 1/0) with points pt 6 ps 2.2 lc 1 title 'deploy, Pareto front' noenhanced, '/work/m11/w_shadow/figures/explore_pareto.png.dat' index 0 using 1:2:5 with labels offset char 1.2,0.7 tc lt 1 notitle, '/work/m11/w_shadow/figures/explore_pareto.png.dat' index 1 using 1:2:3:4 with yerrorbars pt 7 lc 2 title 'insitu' noenhanced, '/work/m11/w_shadow/figures/explore_pareto.png.dat' index 1 using 1:($6 > 0 ? $2 : 1/0) with points pt 6 ps 2.2 lc 2 title 'insitu, Pareto front' noenhanced, '/work/m11/w_shadow/figures/explore_pareto.png.dat' index 1 using 1:2:5 with labels offset char 1.2,0.7 tc lt 2 notitle
