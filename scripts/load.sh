#!/usr/bin/env bash
# Load-tests GoMs and the raw baselines with real load tools and prints
# requests per second, p50 and p99 latency per set-up and concurrency.
#
#   scripts/load.sh                 (make load)
#   LOAD_CONCURRENCY="1 16 64" LOAD_REQUESTS=20000 scripts/load.sh
#
# Each set-up of package bench runs alone in its own process
# (bench/cmd/benchserver) on loopback, serving the same echo service:
#   gRPC (ghz, unary Echo, 100-byte message): grpc (bare grpc.Server), goms
#   HTTP (wrk if installed, else hey; POST /v1/echo, 100-byte message):
#     gateway-inproc, goms (gateway mode), gateway-endpoint, goms-http
# Every measurement is preceded by an unrecorded warm-up. Load tool and
# server share the machine, so compare rows of one run, not across runs.
set -euo pipefail
cd "$(dirname "$0")/.."

concurrency=${LOAD_CONCURRENCY:-"1 16 64"}
requests=${LOAD_REQUESTS:-20000}
duration=${LOAD_DURATION:-5} # seconds per wrk run (wrk runs for a time, not a count)
googleapis=$(scripts/googleapis.sh)

work=.tmp/load
mkdir -p "$work"
go build -o "$work/benchserver" ./bench/cmd/benchserver
# ghz is pinned in its own module (tools/ghz/go.mod): its dependencies
# would move versions in the main go.mod.
ghz=$(go tool -modfile=tools/ghz/go.mod -n ghz)
hey=$(go tool -n hey)
wrk=$(command -v wrk || true)

message=$(printf 'm%.0s' $(seq 100))
body="{\"message\":\"$message\"}"
cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
EOF

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT INT TERM

# start_server IMPL: starts benchserver and sets grpc_addr and http_addr.
start_server() {
  rm -f "$work/addrs"
  "$work/benchserver" -impl "$1" -addr-file "$work/addrs" &
  server_pid=$!
  for _ in $(seq 100); do
    [ -f "$work/addrs" ] && break
    sleep 0.1
  done
  [ -f "$work/addrs" ] || { echo "load.sh: benchserver -impl $1 did not start" >&2; exit 1; }
  read -r g h <"$work/addrs"
  grpc_addr=${g#grpc=}
  http_addr=${h#http=}
}

# to_ms VALUE UNIT: prints VALUE converted to milliseconds.
to_ms() {
  awk -v v="$1" -v u="$2" 'BEGIN {
    f = 1
    if (u == "ns") f = 1e-6; else if (u == "us" || u == "µs") f = 1e-3
    else if (u == "s" || u == "secs") f = 1e3
    printf "%.3f", v * f }'
}

row() { # protocol impl tool concurrency qps p50ms p99ms errors
  printf '| %-5s | %-16s | %-4s | %4s | %9s | %8s | %8s | %6s |\n' "$@"
}

# ghz_run ADDR CONCURRENCY N: prints "qps p50 p99 errors".
ghz_run() {
  local out
  out=$("$ghz" --insecure --proto testdata/echo/echo.proto -i "testdata,$googleapis" \
    --call goms.testdata.echo.EchoService.Echo -d "$body" \
    -c "$2" -n "$3" -O json "$1" | tr -d ' \n')
  local qps p50 p99 ok
  qps=$(grep -o '"rps":[0-9.e+]*' <<<"$out" | cut -d: -f2)
  p50=$(grep -o '"percentage":50,"latency":[0-9]*' <<<"$out" | cut -d: -f3)
  p99=$(grep -o '"percentage":99,"latency":[0-9]*' <<<"$out" | cut -d: -f3)
  ok=$(grep -o '"statusCodeDistribution":{[^}]*}' <<<"$out" | grep -o '"OK":[0-9]*' | cut -d: -f2)
  printf '%.0f %s %s %s\n' "$qps" "$(to_ms "$p50" ns)" "$(to_ms "$p99" ns)" "$(($3 - ${ok:-0}))"
}

# hey_run URL CONCURRENCY N: prints "qps p50 p99 errors".
hey_run() {
  local out qps p50 p99 ok
  out=$("$hey" -n "$3" -c "$2" -m POST -T application/json -d "$body" "$1")
  qps=$(awk '/Requests\/sec:/ {print $2}' <<<"$out")
  # hey prints "50%% in 0.0003 secs".
  p50=$(awk '$1 ~ /^50%+$/ && $2 == "in" {print $3}' <<<"$out")
  p99=$(awk '$1 ~ /^99%+$/ && $2 == "in" {print $3}' <<<"$out")
  ok=$(awk '/\[200\]/ {print $2}' <<<"$out")
  # hey sends n/c requests from each of c workers.
  printf '%.0f %s %s %s\n' "$qps" "$(to_ms "$p50" s)" "$(to_ms "$p99" s)" "$(($3 / $2 * $2 - ${ok:-0}))"
}

# wrk_run URL CONCURRENCY: prints "qps p50 p99 errors".
wrk_run() {
  local out qps p50 p99 errs
  out=$("$wrk" -t "$(($2 < 2 ? 1 : 2))" -c "$2" -d "${duration}s" --latency -s "$work/post.lua" "$1")
  qps=$(awk '/Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  printf '%.0f %s %s %s\n' "$qps" "$(to_ms "${p50%%[a-z]*}" "${p50##*[0-9.]}")" \
    "$(to_ms "${p99%%[a-z]*}" "${p99##*[0-9.]}")" "${errs:-0}"
}

http_tool=hey
[ -n "$wrk" ] && http_tool=wrk

echo "GoMs load test: $(go version | cut -d' ' -f3-), $(nproc) CPUs, $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo '+dirty')"
echo "gRPC: ghz, $requests requests per row; HTTP: $http_tool$([ "$http_tool" = wrk ] && echo ", ${duration}s per row" || echo ", $requests requests per row"); message 100 bytes"
echo
row proto impl tool conc QPS "p50 ms" "p99 ms" errors
echo "|-------|------------------|------|------|-----------|----------|----------|--------|"

for impl in grpc goms; do
  start_server "$impl"
  ghz_run "$grpc_addr" 16 2000 >/dev/null # warm-up
  for c in $concurrency; do
    read -r qps p50 p99 errs < <(ghz_run "$grpc_addr" "$c" "$requests")
    row gRPC "$impl" ghz "$c" "$qps" "$p50" "$p99" "$errs"
  done
  stop_server
done

for impl in gateway-inproc goms gateway-endpoint goms-http; do
  start_server "$impl"
  url="http://$http_addr/v1/echo"
  hey_run "$url" 16 2000 >/dev/null # warm-up
  for c in $concurrency; do
    if [ "$http_tool" = wrk ]; then
      read -r qps p50 p99 errs < <(wrk_run "$url" "$c")
    else
      read -r qps p50 p99 errs < <(hey_run "$url" "$c" "$requests")
    fi
    row HTTP "$impl" "$http_tool" "$c" "$qps" "$p50" "$p99" "$errs"
  done
  stop_server
done
