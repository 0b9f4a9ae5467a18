#!/usr/bin/env bash
# A 64 MiB upload through strait with and without a frozen mirror
# (bench/mirror_bench.cc): prints MiB/s and RSS growth per run.
#
#   bench/mirror.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/bench/mirror_bench ] || bash scripts/build.sh
exec build/bench/mirror_bench "$@"
