#!/usr/bin/env bash
# Runs `make conformance` N times in a row on a fresh clone of this repository's committed HEAD,
# as a newcomer would, and reports how many runs passed: the measure of a gate people can trust
# to pass first time.
#
#   scripts/conformance-repeat.sh [N]      N defaults to 20
#
# Extra make variables pass through the environment (TARGET=…, PROFILES=…, IDS=…). Each failed
# run's console is kept under the clone's repeat-logs/; the clone is removed unless a run failed.
# Exits non-zero unless every run passed.
set -euo pipefail

runs=${1:-20}
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [N]   (N, the number of runs, is a positive integer; got \"$runs\")" >&2
  exit 2
fi
src=$(cd "$(dirname "$0")/.." && pwd)
clone=$(mktemp -d "${TMPDIR:-/tmp}/mtlsgate-repeat.XXXXXX")
git clone --quiet "$src" "$clone"
echo "fresh clone of $(git -C "$src" rev-parse --short HEAD) in $clone; $runs runs of make conformance"

cd "$clone"
mkdir -p repeat-logs
passed=0
for ((i = 1; i <= runs; i++)); do
  start=$SECONDS
  if make conformance > "repeat-logs/run-$i.log" 2>&1; then
    passed=$((passed + 1))
    echo "run $i/$runs: pass ($((SECONDS - start))s)"
    rm "repeat-logs/run-$i.log"
  else
    echo "run $i/$runs: FAIL ($((SECONDS - start))s); its last lines (all of it in $clone/repeat-logs/run-$i.log):"
    tail -n 8 "repeat-logs/run-$i.log" | sed 's/^/    /'
  fi
done

echo "$passed of $runs runs of make conformance passed"
if ((passed == runs)); then
  cd / && rm -rf "$clone"
  exit 0
fi
exit 1
