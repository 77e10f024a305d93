#!/usr/bin/env bash
# The sanitizer job: builds eqsim with AddressSanitizer and UndefinedBehaviorSanitizer
# in build-asan/ (GCC; any report aborts the process, so it fails its test) and runs
# the fuzz corpora, the unit suites and the end-to-end suites that run small settings
# (the bad-input matrix, the spice workers' faults, the SPICE conventions corpus,
# characterisation). Left to the normal build: the suites that train or run whole
# pipelines (test_cli, test_sample_circuit, test_energy, test_explore, test_golden,
# test_report_html): under ASan they take most of the 30 minutes CI has (measured
# on 2 cores: the full ASan build 19 min, test_sample_circuit 231 s, test_explore
# more than 5 min). Only the targets it runs are built (no benchmarks).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
suites=(test_data test_model test_learn test_ode test_spice test_circuit test_spice_workers test_bad_input
        test_conventions test_characterize test_chip_backend)
fuzz=(fuzz_netlist fuzz_run_config fuzz_device_model fuzz_npy fuzz_model_dir)
# Unity build and line tables only (-g1: the reports' stack traces keep file and line).
cmake -S "$here" -B "$here/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEQSIM_SANITIZE=address,undefined \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=8 \
      ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} >/dev/null
cmake --build "$here/build-asan" -j2 --target eqsim eqsim-spice-worker "${suites[@]}" "${fuzz[@]}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# halt_on_error: the first report ends the process with a failure. LeakSanitizer checks
# eqsim and the tests; libngspice (not instrumented) runs only in the eqsim-spice-worker
# processes, which leave with _exit and disable LeakSanitizer (its memory goes with them).
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
cd "$here/build-asan"
pattern="^(fuzz_replay_.*|$(IFS='|'; echo "${suites[*]}"))\$"
ctest --output-on-failure -j2 -R "$pattern"
