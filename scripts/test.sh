#!/usr/bin/env bash
# The test command: set up (install, fetch, build), then run every test.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
# ctest runs two suites at once on two cores: one OpenMP thread each, threads that
# sleep when idle (spinning OpenMP threads of two processes slow both down manyfold).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
cd "$here/build" && ctest --output-on-failure -j2 "$@"
