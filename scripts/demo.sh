#!/usr/bin/env bash
# Sets up and builds strait, starts two greeter backends (a on 50051, b on
# 50052) and runs strait in front of them on 127.0.0.1:8080
# (examples/strait.yaml). Ctrl-C stops strait, then the greeters.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/build.sh

strait=build/src/server/strait
greeter=build/examples/greeter/greeter_server
for bin in "$strait" "$greeter"; do
  if [ ! -x "$bin" ]; then
    echo "demo: $bin was not built" >&2
    exit 1
  fi
done

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in 8080 50051 50052; do
  if listening "$port"; then
    echo "demo: 127.0.0.1:$port is already in use; stop what listens there first" >&2
    exit 1
  fi
done

# Starts a greeter and waits (at most 5 s) until it accepts connections.
start_greeter() {
  local port=$1 name=$2
  "$greeter" --port "$port" --name "$name" &
  pids+=($!)
  for _ in $(seq 50); do
    if listening "$port"; then return 0; fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "demo: greeter $name did not start on 127.0.0.1:$port" >&2
  exit 1
}
start_greeter 50051 a
start_greeter 50052 b

cat <<'MSG'

strait is starting on 127.0.0.1:8080 in front of greeter a (127.0.0.1:50051)
and greeter b (127.0.0.1:50052). Try, from another terminal:

  grpcurl -plaintext 127.0.0.1:8080 list
  grpcurl -plaintext -d '{"name": "you"}' 127.0.0.1:8080 helloworld.Greeter/SayHello
  ./build/examples/greeter/greeter_client --target 127.0.0.1:8080 --count 6

Ctrl-C stops strait and the greeters.

MSG
# strait runs in the background so that a signal to this script (Ctrl-C, or
# a kill) is passed on as SIGTERM: strait then drains and exits, then the
# greeters stop.
# Admin changes (127.0.0.1:9901) are kept in build/, not beside the example.
"$strait" --config examples/strait.yaml --state build/demo.state.json &
strait_pid=$!
trap 'kill -TERM "$strait_pid" 2>/dev/null || true' INT TERM
status=0
wait "$strait_pid" || status=$?
while kill -0 "$strait_pid" 2>/dev/null; do  # a trapped signal interrupted the wait
  status=0
  wait "$strait_pid" || status=$?
done
exit "$status"
