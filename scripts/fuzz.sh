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
# A small quarantine and short allocation stacks: with ASan's defaults the run_config
# target's resident size grew past 1 GB and its rate fell from ~900 to ~70 exec/s within
# half an hour (page faults and stack-depot inserts on every allocation); a finding's
# reproducer replays with full stacks (ASAN_OPTIONS=detect_leaks=1 build-fuzz/fuzz/fuzz_TARGET FILE).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=32:malloc_context_size=4}
exec "./fuzz/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
     -print_final_stats=1 "$@" "corpus/$target" "$here/fuzz/corpus/$target"
