#!/usr/bin/env bash
# What strait runs now: the configuration's version and origin, then every
# server of every load balancer with its state (usable, healthy, drained,
# in flight, RPCs by status).
#
#   examples/admin/list.sh              # every service
#   examples/admin/list.sh greeter      # one service's servers
set -euo pipefail
cd "$(dirname "$0")"
source ./lib.sh
admin GetConfig '{}' | python3 -c '
import json, sys
c = json.load(sys.stdin)
print("version", c["version"], "from", c["origin"].get("kind"), c["origin"].get("detail", ""))
print("services:", ", ".join(sorted(c["config"].get("services", {}))))'
admin ListServers "{\"service\": \"${1:-}\"}"
