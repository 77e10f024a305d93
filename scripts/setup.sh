#!/usr/bin/env bash
# Installs every Debian package eqsim needs (root, or sudo), fetches the digits
# and configures + builds into build/. Safe to run again.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
packages=(g++ cmake ninja-build pkg-config libeigen3-dev libboost-dev libngspice0-dev ngspice
          libyaml-cpp-dev doctest-dev libcli11-dev libfmt-dev nlohmann-json3-dev
          libmuparser-dev zlib1g-dev libssl-dev gnuplot-nox libcmark-gfm-dev libcmark-gfm-extensions-dev
          chromium clang openmpi-bin libopenmpi-dev)  # openmpi: eqsim under mpirun (study/mpi); chromium: the report test opens report.html in it (headless); clang: scripts/fuzz.sh (libFuzzer)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
"$here/scripts/fetch-digits.sh"
# Unity build (sources compiled in batches of 8): about a third less compile time on a
# fresh machine; -DCMAKE_UNITY_BUILD=OFF in a development folder rebuilds less per edit.
cmake -S "$here" -B "$here/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD=ON \
      -DCMAKE_UNITY_BUILD_BATCH_SIZE=8 >/dev/null
cmake --build "$here/build" -j2
