#!/usr/bin/env bash
# Instructions strait executes for a fixed workload, counted by callgrind:
# repeatable whatever else the machine is doing, so a change's cost can be
# compared before/after on a shared machine.
#
#   bench/instructions.sh [strait-binary]     (default: build/src/server/strait)
#
# Prints instructions per MiB carried (200 x 1 MiB responses) and per small
# request (5000 requests; and the same over TLS 1.3 on the front, with a
# P-256 certificate made here: 4 connections, so 4 handshakes), each
# measured in its own strait process, in front of nghttpd, with the admin service, state file and file watcher off (the
# control plane is not on the data path). With KEEP_CALLGRIND=dir, the three callgrind outputs are kept
# there (idle.out, big.out, small.out, small-tls.out, idle-log.out,
# small-log.out) for callgrind_annotate. The RPC metrics are counted in
# every run (the /metrics server itself is off: a scrape is not per RPC);
# the last run adds an access log of every RPC, against its own idle run.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/src/server/strait}
command -v valgrind >/dev/null && command -v h2load >/dev/null && command -v nghttpd >/dev/null &&
  command -v openssl >/dev/null || {
  echo "bench: needs valgrind, h2load, nghttpd and openssl (apt-get install valgrind nghttp2-client nghttp2-server openssl)" >&2
  exit 1
}
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
echo "hello" > "$dir/index.html"
head -c 1048576 /dev/urandom > "$dir/1m.bin"
nghttpd --no-tls -d "$dir" 18680 >/dev/null 2>&1 &
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
# Both entry points in every run, so the idle baseline loads the certificate too.
cat > "$dir/strait.yaml" <<YAML
entryPoints:
  web: {address: "127.0.0.1:18681"}
  tls: {address: "127.0.0.1:18682", tls: {certificates: [{certFile: "$dir/tls.crt", keyFile: "$dir/tls.key"}]}}
routers: {all: {rule: "PathPrefix(\`/\`)", service: s}}
services: {s: {loadBalancer: {servers: [{url: "h2c://127.0.0.1:18680"}]}}}
YAML

# Builds from before the metrics have no --metrics (nor an access log).
metrics_off=
if "$bin" --help 2>&1 | grep -q -- --metrics; then metrics_off="--metrics off"; fi
# The same with an access log (JSON lines to a file, every RPC).
{ cat "$dir/strait.yaml"; echo "accessLog: {path: \"$dir/access.log\"}"; } > "$dir/strait-log.yaml"

count() {  # name h2load-args... -> instructions strait executed (startup included)
  local name=$1
  shift
  valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$bin" --config "${CONFIG:-$dir/strait.yaml}" \
    --workers 1 --log-level warn --admin off $metrics_off --state off --no-watch >/dev/null 2>"$dir/cg.err" &
  local pid=$!
  # Ready once the port accepts (valgrind starts slowly).
  for _ in $(seq 200); do
    (exec 3<>/dev/tcp/127.0.0.1/18681) 2>/dev/null && break
    sleep 0.1
  done
  h2load "$@" >/dev/null 2>&1
  kill -INT "$pid"
  wait "$pid" || true
  if [ -n "${KEEP_CALLGRIND:-}" ]; then
    mkdir -p "$KEEP_CALLGRIND"
    cp "$dir/cg.out" "$KEEP_CALLGRIND/$name.out"
  fi
  awk '/Collected/ {print $4}' "$dir/cg.err"
}
idle=$(count idle -n 1 http://127.0.0.1:18681/index.html)
big=$(count big -n 200 -c 2 -m 2 http://127.0.0.1:18681/1m.bin)
small=$(count small -n 5000 -c 4 -m 16 http://127.0.0.1:18681/index.html)
small_tls=$(count small-tls -n 5000 -c 4 -m 16 https://127.0.0.1:18682/index.html)
if [ -n "$metrics_off" ]; then
  idle_log=$(CONFIG="$dir/strait-log.yaml" count idle-log -n 1 http://127.0.0.1:18681/index.html)
  small_log=$(CONFIG="$dir/strait-log.yaml" count small-log -n 5000 -c 4 -m 16 http://127.0.0.1:18681/index.html)
fi
echo "per MiB carried:     $(( (big - idle) / 200 )) instructions"
echo "per small request:   $(( (small - idle) / 5000 )) instructions"
echo "  over TLS (front):  $(( (small_tls - idle) / 5000 )) instructions"
if [ -n "${small_log:-}" ]; then
  echo "  with access log:   $(( (small_log - idle_log) / 5000 )) instructions ($(wc -l < "$dir/access.log") lines)"
fi
