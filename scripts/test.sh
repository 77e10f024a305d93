#!/usr/bin/env bash
# The test command: set up (install, fetch, build), then run every test.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
cd "$here/build" && ctest --output-on-failure -j2 "$@"
