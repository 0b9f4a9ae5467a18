#!/bin/sh
# promtool_check.sh PROMTOOL SAMPLE: runs `promtool check metrics` (Debian's
# `prometheus` package) on what SAMPLE writes. Fails, never skips, when
# promtool was not found at configure time.
set -eu
promtool=$1
sample=$2
if [ -z "$promtool" ] || [ ! -x "$promtool" ]; then
  echo "promtool not found at configure time: apt-get install prometheus (scripts/bootstrap.sh), then re-run cmake" >&2
  exit 1
fi
out=$("$sample")
printf '%s\n' "$out" | head -5
# promtool exits non-zero on a parse error and on lint problems alike.
printf '%s\n' "$out" | "$promtool" check metrics
echo "promtool check metrics: ok"
