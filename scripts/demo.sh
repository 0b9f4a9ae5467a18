#!/usr/bin/env bash
# Sets up and builds strait, starts two greeter backends (ports 50051 and
# 50052) and runs strait in front of them on 127.0.0.1:8080
# (examples/strait.yaml). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/build.sh

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

./build/examples/greeter/greeter_server --port 50051 --name a & pids+=($!)
./build/examples/greeter/greeter_server --port 50052 --name b & pids+=($!)

cat <<'MSG'

strait is starting on 127.0.0.1:8080 in front of greeters a (50051) and b (50052).
Try, from another terminal:
  grpcurl -plaintext 127.0.0.1:8080 list
  grpcurl -plaintext -d '{"name": "you"}' 127.0.0.1:8080 helloworld.Greeter/SayHello
  ./build/examples/greeter/greeter_client --target 127.0.0.1:8080 --count 6
Ctrl-C stops strait and the greeters.

MSG
./build/src/server/strait --config examples/strait.yaml
