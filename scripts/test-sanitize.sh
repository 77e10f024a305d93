#!/usr/bin/env bash
# The sanitizer job: builds eqsim with AddressSanitizer and UndefinedBehaviorSanitizer
# in build-asan/ (GCC; any report aborts the process, so it fails its test) and runs
# every unit suite, the fuzz corpora and the end-to-end suites, leaving out the
# end-to-end cases that train or run whole pipelines (under ASan they take most of
# the 15 minutes the full suite needs; the normal build runs them).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$here" -B "$here/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEQSIM_SANITIZE=address,undefined \
      ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} >/dev/null
cmake --build "$here/build-asan" -j2
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# halt_on_error: the first report ends the process with a failure. LeakSanitizer checks
# eqsim and the tests; libngspice (not instrumented) runs only in the eqsim-spice-worker
# processes, which leave with _exit and so make no leak report for its memory.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
cd "$here/build-asan"
ctest --output-on-failure -j2 -E '^(test_cli|test_report_html)$'
# test_cli without its whole-pipeline cases (eqsim run, resumed training, gradcheck).
tests/test_cli -tce='*resume*,*killed*,*failing stage*,*gradcheck*,*same numbers*'
