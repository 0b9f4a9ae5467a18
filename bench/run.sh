#!/usr/bin/env bash
# Throughput of strait relative to talking to the backend directly, measured
# in one run on this machine: h2load against nghttpd, then against strait in
# front of the same nghttpd. Prints both and their ratio (higher is better;
# 1.0 would mean the proxy costs nothing).
#
#   bench/run.sh [requests] [clients] [streams-per-client] [workers]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-200000}
clients=${2:-8}
streams=${3:-32}
workers=${4:-1}

command -v h2load >/dev/null && command -v nghttpd >/dev/null || {
  echo "bench: needs h2load and nghttpd (apt-get install nghttp2-client nghttp2-server)" >&2
  exit 1
}
[ -x build/src/server/strait ] || bash scripts/build.sh

dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
echo "hello" > "$dir/index.html"
head -c 1048576 /dev/urandom > "$dir/1m.bin"
backend_port=18480
proxy_port=18481
nghttpd --no-tls -d "$dir" "$backend_port" >/dev/null 2>&1 &
cat > "$dir/strait.yaml" <<YAML
entryPoints: {web: {address: "127.0.0.1:$proxy_port"}}
routers: {all: {rule: "PathPrefix(\`/\`)", service: s}}
services: {s: {loadBalancer: {servers: [{url: "h2c://127.0.0.1:$backend_port"}]}}}
YAML
./build/src/server/strait --config "$dir/strait.yaml" --workers "$workers" --log-level warn \
  --admin off --metrics off --state off &
sleep 1

rate() {  # N C M URL -> requests per second
  h2load -n "$1" -c "$2" -m "$3" "$4" 2>/dev/null | awk '/^finished in/ {print $4}'
}
compare() {  # LABEL N C M PATH
  local direct proxied
  direct=$(rate "$2" "$3" "$4" "http://127.0.0.1:$backend_port/$5")
  proxied=$(rate "$2" "$3" "$4" "http://127.0.0.1:$proxy_port/$5")
  printf '%-22s direct %12s req/s   via strait %12s req/s   ratio %s\n' "$1" "$direct" \
    "$proxied" "$(echo "$proxied / $direct" | bc -l | cut -c1-5)"
}

compare "small responses" "$requests" "$clients" "$streams" index.html
compare "1 MiB responses" 4000 4 4 1m.bin
