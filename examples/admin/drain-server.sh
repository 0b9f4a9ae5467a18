#!/usr/bin/env bash
# Takes one server out of rotation before maintenance: no new RPCs go to it
# (in every service that lists it), RPCs in flight finish. Waits until none
# is left, then says it is safe to stop the server. Undrain afterwards.
#
#   examples/admin/drain-server.sh h2c://127.0.0.1:50051
#   UNDRAIN=1 examples/admin/drain-server.sh h2c://127.0.0.1:50051
set -euo pipefail
cd "$(dirname "$0")"
source ./lib.sh
url=${1:?usage: drain-server.sh SERVER_URL}

if [ -n "${UNDRAIN:-}" ]; then
  admin UndrainServer "{\"url\": \"$url\"}"
  echo "$url takes new RPCs again"
  exit 0
fi
admin DrainServer "{\"url\": \"$url\"}"
in_flight() {
  admin ListServers '{}' | python3 -c '
import json, sys
url = sys.argv[1]
servers = json.load(sys.stdin).get("servers", [])
print(sum(int(s.get("inFlight", 0)) for s in servers if s["url"] == url))' "$url"
}
for _ in $(seq 1 ${WAIT_SECONDS:-60}); do
  left=$(in_flight)
  if [ "$left" = 0 ]; then
    echo "$url is drained: no RPC in flight, safe to stop it"
    exit 0
  fi
  echo "$url: $left RPCs still in flight"
  sleep 1
done
echo "$url still has RPCs in flight after ${WAIT_SECONDS:-60}s" >&2
exit 1
