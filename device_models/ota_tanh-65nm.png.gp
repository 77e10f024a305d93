set terminal pngcairo size 900,800 font 'sans,11'
set output 'device_models/ota_tanh-65nm.png'
set termoption noenhanced
set multiplot layout 2,1
set grid
set key top left
set xlabel 'V(in) - V(ref) (V)'
set arrow from 0.2379750506287757,graph 0 to 0.2379750506287757,graph 1 nohead dt 2
set arrow from -0.2379750506287757,graph 0 to -0.2379750506287757,graph 1 nohead dt 2
set title 'ota_tanh: A = 10.2 nA, v_unit = 79.3 mV'
set ylabel 'I(out) (nA)'
plot 'device_models/ota_tanh-65nm.png.dat' using 1:($2*1e9) with lines lw 2 title 'ngspice (BSIM4)', 'device_models/ota_tanh-65nm.png.dat' using 1:($3*1e9) with lines dt 2 lw 2 title 'A tanh(V/v_unit)'
set ylabel 'residual / A (%)'
set title 'fit residual (dashed lines: +-3 v_unit)'
plot 'device_models/ota_tanh-65nm.png.dat' using 1:($4*100) with lines lw 2 notitle
unset multiplot
