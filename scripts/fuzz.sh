#!/usr/bin/env bash
# scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]: builds the libFuzzer
# targets with clang in build-fuzz/ (ASan + UBSan) and fuzzes TARGET (netlist,
# run_config, device_model, npy, model_dir) for SECONDS, starting from its
# committed corpus fuzz/corpus/TARGET. New inputs go to build-fuzz/corpus/TARGET
# (the committed corpus is left as it is); a crash leaves its reproducer in
# build-fuzz/crash-* : fix it, then add the reproducer to fuzz/corpus/TARGET.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS}
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS}
shift 2
cmake -S "$here" -B "$here/build-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
      -DEQSIM_FUZZ=ON >/dev/null
cmake --build "$here/build-fuzz" -j2 --target "fuzz_$target"
mkdir -p "$here/build-fuzz/corpus/$target"
cd "$here/build-fuzz"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
exec "./fuzz/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
     -print_final_stats=1 "$@" "corpus/$target" "$here/fuzz/corpus/$target"
