#!/usr/bin/env bash
# strait's resident memory while 1 GiB goes to slow readers, both directions
# (bench/memory_bench.cc): prints baseline, peak and growth per run.
#
#   bench/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/bench/memory_bench ] || bash scripts/build.sh
exec build/bench/memory_bench "$@"
