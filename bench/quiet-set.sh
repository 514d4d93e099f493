#!/usr/bin/env bash
# One "quiet set" as bench/RESULTS.md quotes them: every benchmark behind the issues' speed
# targets, back to back, each printout saved whole with the time, the load and the sources.
#   bash bench/quiet-set.sh bench/runs/<name>
# Run it on an otherwise idle machine; the first line of each log says how idle it was.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bench/quiet-set.sh OUTDIR}
mkdir -p "$out"
sources=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench || echo "+changes")
run() {
  local name=$1; shift
  local cmd=$*
  {
    echo "# $(date -u +%H:%M:%S) UTC, load: $(cut -d' ' -f1-3 /proc/loadavg), sources $sources"
    echo "# command: $cmd"
    local rc=0
    bash -c "$cmd" 2>&1 || rc=$?
    echo "# rc=$rc at $(date -u +%H:%M:%S)"
  } > "$out/$name.log"
  echo "$out/$name.log"
}
# the firehoses at the bench's own count (2 M messages a round): 500 k-message rounds (50–100 ms)
# weigh JIT warm-up and connection setup more than a feed that runs for hours ever does
run loopback 'ROUNDS=3 npm run -s bench:loopback -- "firehose|round trip"'
run server 'npm run -s bench:server -- --seconds 3 --rounds 3'
run codec-send 'npm run -s bench:codec -- send'
run replay 'npm run -s bench:replay'
run pool 'ROUNDS=3 REQUESTS=20000 npm run -s bench:pool'
