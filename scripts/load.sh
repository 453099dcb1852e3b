#!/usr/bin/env bash
# Load-tests GoMs, the raw baselines and the peers connect-go and vanguard
# with real load tools and prints requests per second, p50 and p99 latency
# per set-up and concurrency.
#
#   scripts/load.sh                 (make load)
#   LOAD_CONCURRENCY="1 16 64" LOAD_REQUESTS=20000 scripts/load.sh
#   LOAD_CHAIN=0 scripts/load.sh    without the three-service chain
#   LOAD_HTTP=0 scripts/load.sh     without the HTTP rows
#
# Each set-up of bench/internal/setup runs alone in its own process
# (bench/cmd/benchserver, in the bench module) on loopback, serving the
# same echo service:
#   gRPC (ghz, unary Echo, 100-byte message): grpc (bare grpc.Server), goms,
#     goms-vt (goms with the opt-in vtcodec, serving bench/proto's copy of
#     Echo; ghz's client does not use it), connect (connect-go, gRPC over h2c)
#   HTTP (wrk if installed, else hey; POST with the same JSON body, 100-byte
#     message): gateway-inproc, goms (gateway mode), gateway-endpoint,
#     goms-http and vanguard (REST -> connect-go) at /v1/echo; connect
#     (connect-go's Connect protocol, JSON) at
#     /fixtures.echo.EchoService/EchoBody
# Then the example shop's three-service chain (QuoteOrder: orders ->
# catalog -> stock), p50 at each concurrency: one process (gateway mode)
# against one process per service plus an http-mode edge process
# ("processes"), called
# over gRPC at the order service (ghz) and over HTTP at the edge (hey or
# wrk).
# Every measurement is preceded by an unrecorded warm-up. Load tool and
# server share the machine, so compare rows of one run, not across runs.
set -euo pipefail
cd "$(dirname "$0")/.."

concurrency=${LOAD_CONCURRENCY:-"1 8 64"}
chain=${LOAD_CHAIN:-1}
http=${LOAD_HTTP:-1}
requests=${LOAD_REQUESTS:-20000}
duration=${LOAD_DURATION:-5} # seconds per wrk run (wrk runs for a time, not a count)
googleapis=$(scripts/googleapis.sh)

work=.tmp/load
mkdir -p "$work"
go -C bench build -o "$PWD/$work/benchserver" ./cmd/benchserver
go build -o "$work/shop" ./examples/shop/cmd/shop
# The chain uses the 20 ports from LOAD_PORT_BASE, which by default sit
# just below the kernel's ephemeral range: a port inside it can be held by
# one of the load tools' own connections when a server starts.
ephemeral_low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
ports=${LOAD_PORT_BASE:-$((ephemeral_low - 100))}
# ghz is pinned in its own module (tools/ghz/go.mod): its dependencies
# would move versions in the main go.mod.
ghz=$(go tool -modfile=tools/ghz/go.mod -n ghz)
# hey is pinned with the other clients in tools/clients/go.mod.
hey=$(go tool -modfile=tools/clients/go.mod -n hey)
wrk=$(command -v wrk || true)

message=$(printf 'm%.0s' $(seq 100))
# set_body JSON: what hey_run, wrk_run and ghz_run send from then on.
set_body() {
  body=$1
  cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
EOF
}
set_body "{\"message\":\"$message\"}"

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
shop_pids=()
stop_shops() {
  for pid in "${shop_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${shop_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  shop_pids=()
}
trap 'stop_server; stop_shops' EXIT INT TERM

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

# start_shop GRPC_PORT HTTP_PORT ADMIN_PORT MODE ARGS...: starts the example
# shop on loopback ports (0: not served) and waits until /readyz on the
# admin port answers 200. Calls are not logged (-log-level warn).
start_shop() {
  local grpc=$1 http=$2 admin=$3 mode=$4 log="$work/shop-$3.log"
  shift 4
  "$work/shop" -mode "$mode" -grpc-addr "127.0.0.1:$grpc" -http-addr "127.0.0.1:$http" \
    -admin-addr "127.0.0.1:$admin" -log-level warn "$@" >"$log" 2>&1 &
  shop_pids+=($!)
  for _ in $(seq 150); do
    curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "load.sh: shop -mode $mode $* did not become ready: $(cat "$log")" >&2
  exit 1
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

# ghz_run ADDR CONCURRENCY N: prints "qps p50 p99 errors" of calls to
# ghz_method (in ghz_proto) with $body.
ghz_proto=internal/fixtures/echo/echo.proto ghz_method=fixtures.echo.EchoService.Echo
ghz_run() {
  local out
  out=$("$ghz" --insecure --proto "$ghz_proto" -i "internal,examples/shop/proto,bench/proto,$googleapis" \
    --call "$ghz_method" -d "$body" -c "$2" -n "$3" -O json "$1" | tr -d ' \n')
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

# grpc_rows LABEL ADDR: warms up, then prints a ghz row per concurrency.
# With a benchserver running, it also notes the server's CPU time per call
# (user + system, from /proc), which the load tool sharing the machine
# moves less than the QPS: cpu_notes, printed after the gRPC table.
cpu_notes=""
grpc_rows() {
  ghz_run "$2" 16 2000 >/dev/null # warm-up
  local c qps p50 p99 errs t0
  for c in $concurrency; do
    t0=$(server_cpu_ticks)
    read -r qps p50 p99 errs < <(ghz_run "$2" "$c" "$requests")
    row gRPC "$1" ghz "$c" "$qps" "$p50" "$p99" "$errs"
    if [ -n "$t0" ]; then
      cpu_notes+=$(printf '  %-16s conc %4s: %6.1f µs of server CPU per call' "$1" "$c" \
        "$(awk -v a="$t0" -v b="$(server_cpu_ticks)" -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN{print (b - a) / hz / n * 1e6}')")$'\n'
    fi
  done
}

# server_cpu_ticks prints the benchserver's user + system CPU time in
# clock ticks, or nothing without one.
server_cpu_ticks() {
  [ -n "$server_pid" ] && [ -r "/proc/$server_pid/stat" ] || return 0
  awk '{print $14 + $15}' "/proc/$server_pid/stat"
}

# http_rows LABEL URL: warms up, then prints a row per concurrency, with
# wrk if installed, else hey.
http_rows() {
  hey_run "$2" 16 2000 >/dev/null # warm-up
  local c qps p50 p99 errs
  for c in $concurrency; do
    if [ "$http_tool" = wrk ]; then
      read -r qps p50 p99 errs < <(wrk_run "$2" "$c")
    else
      read -r qps p50 p99 errs < <(hey_run "$2" "$c" "$requests")
    fi
    row HTTP "$1" "$http_tool" "$c" "$qps" "$p50" "$p99" "$errs"
  done
}

echo "GoMs load test: $(go version | cut -d' ' -f3-), $(nproc) CPUs, $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo '+dirty')"
echo "gRPC: ghz, $requests requests per row; HTTP: $http_tool$([ "$http_tool" = wrk ] && echo ", ${duration}s per row" || echo ", $requests requests per row"); message 100 bytes"
echo
row proto impl tool conc QPS "p50 ms" "p99 ms" errors
echo "|-------|------------------|------|------|-----------|----------|----------|--------|"

for impl in grpc goms goms-vt connect; do
  start_server "$impl"
  if [ "$impl" = goms-vt ]; then
    # GoMs with its fast codec serves the copy of Echo in bench/proto.
    ghz_proto=bench/proto/bench/vtecho/v1/vtecho.proto ghz_method=bench.vtecho.v1.EchoService.Echo
  fi
  grpc_rows "$impl" "$grpc_addr"
  ghz_proto=internal/fixtures/echo/echo.proto ghz_method=fixtures.echo.EchoService.Echo
  stop_server
done
if [ -n "$cpu_notes" ]; then
  echo
  printf '%s' "$cpu_notes"
  echo
fi

for impl in gateway-inproc goms gateway-endpoint goms-http connect vanguard; do
  [ "$http" = 0 ] && break
  path=/v1/echo
  [ "$impl" = connect ] && path=/fixtures.echo.EchoService/EchoBody
  start_server "$impl"
  http_rows "$impl" "http://$http_addr$path"
  stop_server
done

[ "$chain" = 0 ] && exit 0

# The three-service chain.
quote='{"items":[{"productId":"tea","quantity":1}]}'
stock=shop.stock.v1.StockService catalog=shop.catalog.v1.CatalogService orders=shop.orders.v1.OrderService
ghz_proto=examples/shop/proto/shop/orders/v1/orders.proto ghz_method=shop.orders.v1.OrderService.QuoteOrder
set_body "$quote"

echo
echo "Three-service chain (QuoteOrder: orders -> catalog -> stock), example shop processes"
echo
row edge topology tool conc QPS "p50 ms" "p99 ms" errors
echo "|-------|------------------|------|------|-----------|----------|----------|--------|"
for topology in one-process processes; do
  if [ "$topology" = one-process ]; then
    start_shop $((ports + 1)) $((ports + 2)) $((ports + 3)) gateway
    grpc_addr=127.0.0.1:$((ports + 1)) http_addr=127.0.0.1:$((ports + 2))
  else
    start_shop $((ports + 4)) 0 $((ports + 5)) grpc -serve $stock
    start_shop $((ports + 6)) 0 $((ports + 7)) grpc -serve $catalog -targets "$stock=127.0.0.1:$((ports + 4))"
    start_shop $((ports + 8)) 0 $((ports + 9)) grpc -serve $orders -targets "$catalog=127.0.0.1:$((ports + 6))"
    start_shop 0 $((ports + 10)) $((ports + 11)) http -upstream 127.0.0.1:$((ports + 8)) \
      -targets "$catalog=127.0.0.1:$((ports + 6))"
    grpc_addr=127.0.0.1:$((ports + 8)) http_addr=127.0.0.1:$((ports + 10))
  fi
  grpc_rows "$topology" "$grpc_addr"
  http_rows "$topology" "http://$http_addr/v1/orders:quote"
  stop_shops
done
