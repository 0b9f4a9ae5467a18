#!/usr/bin/env bash
# Per-request cost of strait against HAProxy, NGINX and nghttpx, in one run on
# this machine, on the workload of bench/instructions.sh: h2load sends small
# GETs (a 6-byte file) over h2c with prior knowledge to the proxy, which sends
# them over h2c to nghttpd; loopback, ports chosen at run time.
#
#   bench/compare.sh STRAIT-BINARY [runs]      (e.g. build/src/server/strait; runs: 1)
#
# Each proxy runs as one process with one worker (strait --workers 1; haproxy
# nbthread 1; nginx master_process off, worker_processes 1; nghttpx workers=1,
# single-process), configs in bench/compare/. For each it prints:
#   - a check, outside callgrind, against a verbose nghttpd: every response
#     2xx, and every request reached the backend as an HTTP/2 stream (nghttpd
#     logs the frames; it refuses HTTP/1 but for an h2c Upgrade, which fails
#     the check), on how many backend connections;
#   - instructions per request under callgrind (all threads and processes),
#     startup and connection setup subtracted: (count(2N) - count(N)) / N, and
#     as bench/instructions.sh does it, (count(N) - count(1 request)) / N;
#   - unless RATE=0, requests per second with h2load outside valgrind (noisy on
#     a shared machine), and the same straight to nghttpd for reference.
# Every h2load run must report all N requests succeeded with a 2xx, or the
# script stops. Environment: REQUESTS (N, default 5000), RATE_REQUESTS
# (default 100000), CLIENTS and STREAMS (h2load -c and -m, the same for every
# proxy; default 4 and 16), KEEP=dir keeps the logs and callgrind outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: bench/compare.sh STRAIT-BINARY [runs]}
runs=${2:-1}
n=${REQUESTS:-5000}
rate_n=${RATE_REQUESTS:-100000}
c=${CLIENTS:-4}
m=${STREAMS:-16}

missing=()
need() {  # command package
  command -v "$1" >/dev/null || missing+=("$1: apt-get install $2")
}
need valgrind valgrind
need h2load nghttp2-client
need nghttpd nghttp2-server
need haproxy haproxy
need nginx "nginx-light (or nginx)"
need nghttpx nghttp2-proxy
[ -x "$bin" ] || missing+=("$bin: the strait binary (build it first)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench/compare.sh: missing:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi

dir=$(mktemp -d)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp -r "$dir"/. "$KEEP"/; fi
  rm -rf "$dir"
}
trap cleanup EXIT
echo "hello" > "$dir/index.html"

used_ports=" "
port() {  # -> a loopback TCP port nothing listens on (and not handed out before)
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    case "$used_ports" in *" $p "*) continue ;; esac
    ss -Htln "sport = :$p" | grep -q . || break
  done
  used_ports="$used_ports$p "
  echo "$p"
}
wait_port() {  # port -> once it accepts (valgrind starts slowly)
  for _ in $(seq 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench/compare.sh: nothing listens on $1 after 60 s" >&2
  return 1
}

stop() {  # pid -> once it has exited. SIGTERM: a background job of a script
  # ignores SIGINT, and HAProxy leaves it so; all four exit on SIGTERM.
  kill -TERM "$1"
  for _ in $(seq 300); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$1" 2>/dev/null; then
    echo "bench/compare.sh: process $1 still running 30 s after SIGTERM" >&2
    exit 1
  fi
  wait "$1" 2>/dev/null || true
}

backend=$(port)
nghttpd --no-tls -d "$dir" "$backend" >/dev/null 2>&1 &
wait_port "$backend"

proxies="strait haproxy nginx nghttpx"
declare -A front
for p in $proxies; do front[$p]=$(port); done
config() {  # proxy backend-port -> its config file, ports filled in
  local f="$dir/$1-$2.conf" src=bench/compare/$1.cfg
  case $1 in strait) src=bench/compare/strait.yaml ;; nginx | nghttpx) src=bench/compare/$1.conf ;; esac
  sed -e "s/@FRONT@/${front[$1]}/g" -e "s/@BACKEND@/$2/g" -e "s#@DIR@#$dir#g" "$src" > "$f"
  echo "$f"
}
cmd() {  # proxy backend-port -> the command line that runs it in the foreground
  local f
  f=$(config "$1" "$2")
  case $1 in
    strait) echo "$bin --config $f --workers 1 --log-level warn --admin off --metrics off --state off --no-watch" ;;
    haproxy) echo "haproxy -db -f $f" ;;
    nginx) echo "nginx -p $dir -e $dir/nginx-error.log -c $f" ;;
    nghttpx) echo "nghttpx --conf=$f" ;;
  esac
}

load() {  # port requests -> h2load's output; stops the script unless all succeeded with a 2xx
  local out
  out=$(h2load -n "$2" -c "$((c < $2 ? c : 1))" -m "$m" "http://127.0.0.1:$1/index.html" 2>&1) || true
  if ! grep -q "^requests: $2 total, $2 started, $2 done, $2 succeeded, 0 failed" <<<"$out" ||
    ! grep -q "^status codes: $2 2xx" <<<"$out"; then
    echo "bench/compare.sh: not every one of $2 requests to port $1 succeeded with a 2xx:" >&2
    grep -E '^(requests|status codes):' <<<"$out" >&2 || echo "$out" >&2
    exit 1
  fi
  echo "$out"
}

check() {  # proxy -> one line: responses, and what the backend saw
  local vport log pid out conns reqs
  vport=$(port)
  log="$dir/check-$1.log"
  nghttpd --no-tls -v -d "$dir" "$vport" >"$log" 2>&1 &
  local backend_pid=$!
  wait_port "$vport"
  $(cmd "$1" "$vport") >"$dir/check-$1.out" 2>&1 &
  pid=$!
  wait_port "${front[$1]}"
  out=$(load "${front[$1]}" 200)
  stop "$pid"
  kill "$backend_pid"
  wait "$backend_pid" 2>/dev/null || true
  reqs=$(grep -c 'recv (stream_id=[0-9]*) :path: /index.html' "$log" || true)
  # Less one: wait_port's own connection to nghttpd.
  conns=$(($(grep -o '^\[id=[0-9]*\]' "$log" | sort -u | wc -l) - 1))
  if grep -qi 'upgrade' "$log"; then
    echo "bench/compare.sh: $1 reached nghttpd by HTTP/1.1 Upgrade, not HTTP/2 with prior knowledge" >&2
    exit 1
  fi
  if [ "$reqs" -ne 200 ]; then
    echo "bench/compare.sh: $1: nghttpd received $reqs HTTP/2 requests, not 200" >&2
    exit 1
  fi
  printf '  %-8s 200/200 responses 2xx; nghttpd got 200 HTTP/2 requests on %d connection(s)\n' "$1" "$conns"
}

count() {  # proxy requests -> instructions executed by all its processes and threads
  local vg pid
  vg=$(mktemp -d "$dir/vg-$1-$2.XXXX")  # a fresh one each run: every log.* in it is summed
  valgrind --tool=callgrind --log-file="$vg/log.%p" --callgrind-out-file="$vg/cg.%p" \
    $(cmd "$1" "$backend") >"$vg/stdout" 2>&1 &
  pid=$!
  wait_port "${front[$1]}"
  load "${front[$1]}" "$2" >/dev/null
  stop "$pid"
  # A forked process (none expected with these configs) writes its own log; wait for all.
  for _ in $(seq 300); do
    [ "$(cat "$vg"/log.* | grep -c Collected)" -eq "$(ls "$vg"/log.* | wc -l)" ] && break
    sleep 0.1
  done
  awk '/Collected/ {s += $4} END {print s}' "$vg"/log.*
}

rate() {  # port -> requests per second
  load "$1" "$rate_n" | awk '/^finished in/ {print $4}'
}

echo "strait:  $("$bin" --version 2>&1 | head -1)"
echo "haproxy: $(haproxy -v | head -1)"
echo "nginx:   $(nginx -v 2>&1)"
echo "nghttpx: $(nghttpx --version)"
echo "backend: $(nghttpd --version), client: $(h2load --version)"
echo "workload: GET /index.html (6 bytes), h2load -c $c -m $m, N=$n under callgrind, $rate_n for req/s"
echo
echo "checks (outside valgrind, 200 requests each, against a verbose nghttpd):"
for p in $proxies; do check "$p"; done
echo
for r in $(seq "$runs"); do
  echo "run $r:"
  printf '  %-8s %18s %22s %s\n' proxy "instr/req 2N-N" "instr/req N-idle" "req/s (noisy)"
  for p in $proxies; do
    idle=$(count "$p" 1)
    one=$(count "$p" "$n")
    two=$(count "$p" $((2 * n)))
    rps=-
    if [ "${RATE:-1}" != 0 ]; then
      $(cmd "$p" "$backend") >"$dir/rate-$p.out" 2>&1 &
      pid=$!
      wait_port "${front[$p]}"
      rps=$(rate "${front[$p]}")
      stop "$pid"
    fi
    printf '  %-8s %18s %22s %s\n' "$p" "$(((two - one) / n))" "$(((one - idle) / n))" "$rps"
  done
  if [ "${RATE:-1}" != 0 ]; then
    printf '  %-8s %18s %22s %s\n' "(direct)" - - "$(rate "$backend")"
  fi
done
