#!/usr/bin/env bash
# Three gRPC C++ backends restarted one by one under load, no retry policy,
# with health checked by Watch and then by Check alone every 1 s
# (bench/rolling_restart_bench.cc): prints RPCs and failures by status for
# each.
#
#   bench/rolling_restart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/bench/rolling_restart_bench ] || bash scripts/build.sh
exec build/bench/rolling_restart_bench "$@"
