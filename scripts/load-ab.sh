#!/usr/bin/env bash
# Alternating load runs of two gRPC set-ups (A, B, A, B, …), for a
# comparison that one run of make load cannot settle on a shared machine.
# Each run starts a fresh benchserver, warms it up (ghz, 16 × 2,000
# calls), then runs ghz at one concurrency with the body, proto and flags
# of scripts/load.sh, and prints one line:
#
#   round impl qps p50_ms p99_ms server_cpu_us_per_call ghz_cpu_us_per_call errors
#
# server CPU is the benchserver's user + system time over the measured run
# (/proc/<pid>/stat, what getrusage reports for the process; clock ticks,
# so use enough calls), ghz's its own (/usr/bin/time). Take the medians of
# the pairs' ratios.
#
#   scripts/load-ab.sh                          grpc against goms-vt, 6 pairs, -c 64, 30000 calls
#   AB="grpc goms" ROUNDS=8 C=8 N=20000 scripts/load-ab.sh
set -euo pipefail
cd "$(dirname "$0")/.."

read -r impl_a impl_b <<<"${AB:-grpc goms-vt}"
rounds=${ROUNDS:-6}
conc=${C:-64}
n=${N:-30000}
work=.tmp/load
mkdir -p "$work"
go -C bench build -o "$PWD/$work/benchserver" ./cmd/benchserver
ghz=$(go tool -modfile=tools/ghz/go.mod -n ghz)
googleapis=$(scripts/googleapis.sh)
body="{\"message\":\"$(printf 'm%.0s' $(seq 100))\"}"
hz=$(getconf CLK_TCK)

pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null || true' EXIT INT TERM

echo "round impl qps p50_ms p99_ms server_cpu_us_per_call ghz_cpu_us_per_call errors"
for r in $(seq "$rounds"); do
  for impl in "$impl_a" "$impl_b"; do
    # goms-vt serves the copy of Echo in bench/proto (as in scripts/load.sh).
    proto=internal/fixtures/echo/echo.proto method=fixtures.echo.EchoService.Echo
    if [ "$impl" = goms-vt ]; then
      proto=bench/proto/bench/vtecho/v1/vtecho.proto method=bench.vtecho.v1.EchoService.Echo
    fi
    rm -f "$work/addrs"
    "$work/benchserver" -impl "$impl" -addr-file "$work/addrs" &
    pid=$!
    for _ in $(seq 100); do
      [ -f "$work/addrs" ] && break
      sleep 0.1
    done
    read -r g _ <"$work/addrs"
    addr=${g#grpc=}
    args=(--insecure --proto "$proto" -i "internal,examples/shop/proto,bench/proto,$googleapis" --call "$method" -d "$body")
    "$ghz" "${args[@]}" -c 16 -n 2000 "$addr" >/dev/null
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    out=$({ /usr/bin/time -f "ghzcpu %U %S" "$ghz" "${args[@]}" -c "$conc" -n "$n" -O json "$addr"; } 2>&1)
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
    json=$(tr -d ' \n' <<<"$out")
    qps=$(grep -o '"rps":[0-9.e+]*' <<<"$json" | cut -d: -f2)
    p50=$(grep -o '"percentage":50,"latency":[0-9]*' <<<"$json" | cut -d: -f3)
    p99=$(grep -o '"percentage":99,"latency":[0-9]*' <<<"$json" | cut -d: -f3)
    ok=$(grep -o '"statusCodeDistribution":{[^}]*}' <<<"$json" | grep -o '"OK":[0-9]*' | cut -d: -f2)
    read -r _ gu gs < <(grep -o 'ghzcpu [0-9.]* [0-9.]*' <<<"$out")
    awk -v r="$r" -v i="$impl" -v q="$qps" -v p5="$p50" -v p9="$p99" -v a="$t0" -v b="$t1" -v hz="$hz" \
      -v n="$n" -v ok="${ok:-0}" -v gu="$gu" -v gs="$gs" 'BEGIN {
      printf "%d %s %.0f %.3f %.3f %.1f %.1f %d\n", r, i, q, p5 / 1e6, p9 / 1e6, (b - a) / hz / n * 1e6, (gu + gs) / n * 1e6, n - ok }'
  done
done
