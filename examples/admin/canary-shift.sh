#!/usr/bin/env bash
# A canary release through the admin API, against ./scripts/demo.sh: service
# `greeter` becomes a weighted service over greeter a (stable) and greeter b
# (canary), and the canary's share grows step by step. Each step names the
# version it was computed from (expectedVersion), so a concurrent change by
# someone else makes it fail instead of being overwritten.
#
#   STEPS="10 25 50 100" PAUSE=5 examples/admin/canary-shift.sh
#   ROLLBACK=1 examples/admin/canary-shift.sh     # all traffic back to stable
set -euo pipefail
cd "$(dirname "$0")"
source ./lib.sh
STEPS=${STEPS:-"10 25 50 100"}
PAUSE=${PAUSE:-5}
STABLE=${STABLE:-h2c://127.0.0.1:50051}
CANARY=${CANARY:-h2c://127.0.0.1:50052}

admin UpsertService "{\"name\": \"greeter-stable\", \"service\": {\"loadBalancer\":
  {\"servers\": [{\"url\": \"$STABLE\"}]}}}" >/dev/null
admin UpsertService "{\"name\": \"greeter-canary\", \"service\": {\"loadBalancer\":
  {\"servers\": [{\"url\": \"$CANARY\"}]}}}" >/dev/null

shift_to() {
  local percent=$1 version
  version=$(running_version)
  admin UpsertService "{\"name\": \"greeter\",
    \"service\": {\"weighted\": {\"services\": [
      {\"name\": \"greeter-stable\", \"weight\": $((100 - percent))},
      {\"name\": \"greeter-canary\", \"weight\": $percent}]}},
    \"options\": {\"expectedVersion\": \"$version\"}}"
  echo "canary at ${percent}% (configuration version $((version + 1)))"
}

if [ -n "${ROLLBACK:-}" ]; then
  shift_to 0
  exit 0
fi
for percent in $STEPS; do
  shift_to "$percent"
  [ "$percent" = 100 ] || sleep "$PAUSE"
done
