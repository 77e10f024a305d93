#!/usr/bin/env bash
# Fetches the UCI digits (sklearn/datasets/data/digits.csv.gz) from Debian's
# python3-sklearn package into the cache folder and checks its SHA-256.
# Usage: scripts/fetch-digits.sh [DIR]   (default: data/ in the project)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-${EQSIM_DATA_DIR:-$here/data}}
want=46abec6b12486ad9e51943373abcf22bbea1b5a51a1619b361570d8893f1464a
target="$dir/digits.csv.gz"
if [ -f "$target" ] && echo "$want  $target" | sha256sum -c --status; then
  echo "digits: cached at $target"; exit 0
fi
mkdir -p "$dir"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download python3-sklearn >/dev/null 2>&1 || { apt-get update -qq && apt-get download python3-sklearn; })
dpkg-deb -x "$work"/python3-sklearn_*.deb "$work/x"
src=$(find "$work/x" -name digits.csv.gz | head -n 1)
[ -n "$src" ] || { echo "digits.csv.gz not found in python3-sklearn" >&2; exit 1; }
echo "$want  $src" | sha256sum -c --status || { echo "digits.csv.gz: SHA-256 mismatch" >&2; exit 1; }
cp "$src" "$target.tmp" && mv "$target.tmp" "$target"
echo "digits: fetched into $target"
