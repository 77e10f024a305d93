#!/usr/bin/env bash
# The main job on the embedded default config: set up, then `eqsim run`.
# Extra arguments go to `eqsim run` (e.g. --out DIR, --set key=value).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
exec "$here/build/eqsim" run "$@"
