#!/usr/bin/env bash
# Runs the benchmark suite and prints one benchstat table per comparison.
#
#   scripts/bench.sh            run (BENCH_COUNT, BENCH_TIME), save to BENCH_OUT, print tables
#   scripts/bench.sh -t FILE    print the tables of an earlier run's output
#
# The variants of each comparison run interleaved in the same rounds, so
# benchstat compares them under the same machine noise (-col /impl, the
# first column is the baseline). BENCH_COUNT rounds (default 10) of
# BENCH_TIME per benchmark (default 500ms); output in BENCH_OUT.
# BENCH_FILTER (default .) is the -test.bench pattern of ./bench, for a
# shorter run of some comparisons, e.g. BENCH_FILTER='^Benchmark(Unary|HTTP)$'.
# ./bench is a module of its own (bench/go.mod: connect-go and vanguard,
# the peers, stay out of the library's go.mod).
set -euo pipefail
cd "$(dirname "$0")/.."

count=${BENCH_COUNT:-10}
benchtime=${BENCH_TIME:-500ms}
out=${BENCH_OUT:-.tmp/bench.txt}
filter=${BENCH_FILTER:-.}
# Packages benchmarked besides ./bench (their benchmarks have no /impl key):
# the generator's BenchmarkGenerate. BENCH_EXTRA= (empty) leaves it out.
extra=${BENCH_EXTRA-./internal/gen}

if [ "${1:-}" = -t ]; then
  out=${2:?usage: scripts/bench.sh -t FILE}
else
  # `go test -count=N` repeats each sub-benchmark N times in a row, so a
  # burst of machine noise would hit one variant only. Instead, build the
  # test binary once and run the whole suite N times (N rounds, each with
  # -test.count=1): every variant gets N samples, interleaved with the
  # variants it is compared with.
  mkdir -p "$(dirname "$out")" .tmp/bench-bin
  : >"$out"
  pkgs=(./bench/ $extra)
  go -C bench test -c -o "$PWD/.tmp/bench-bin/bench.test" .
  for pkg in $extra; do
    go test -c -o ".tmp/bench-bin/$(basename "$pkg").test" "$pkg"
  done
  echo "$count rounds of: <pkg>.test -test.run='^\$' -test.bench=<BENCH_FILTER for ./bench, else .> -test.benchmem -test.benchtime=$benchtime >> $out" >&2
  for ((i = 1; i <= count; i++)); do
    echo "round $i/$count" >&2
    for pkg in "${pkgs[@]}"; do
      pattern=.
      [ "$pkg" = ./bench/ ] && pattern=$filter
      (cd "$pkg" && "$OLDPWD/.tmp/bench-bin/$(basename "$pkg").test" -test.run='^$' -test.bench="$pattern" \
        -test.benchmem -test.benchtime="$benchtime" -test.timeout=30m) >>"$out"
    done
  done
fi

table() { # title, benchstat args...
  local title=$1
  shift
  echo
  echo "### $title"
  echo
  # benchstat is pinned in its own module (tools/benchstat/go.mod).
  go tool -modfile=tools/benchstat/go.mod benchstat "$@" "$out"
}

table "Unary gRPC over loopback: bare grpc.Server vs GoMs (default interceptors)" \
  -filter '.name:Unary' -row /size -col '/impl@(grpc goms)'
table "HTTP/JSON POST /v1/echo: raw in-process grpc-gateway vs GoMs gateway mode vs raw FromEndpoint vs GoMs http mode" \
  -filter '.name:HTTP' -row /size -col '/impl@(gateway-inproc goms gateway-endpoint goms-http)'
table "HTTP/JSON: GoMs gateway mode against raw FromEndpoint (loopback hop)" \
  -filter '.name:HTTP' -row /size -col '/impl@(gateway-endpoint goms)'
table "Co-located typed call: loopback gRPC vs GoMs in-process conn vs direct method call" \
  -filter '.name:Colocated' -row /size -col '/impl@(loopback local direct)'
table "Three-service chain (QuoteOrder: orders -> catalog -> stock): one binary vs one server per service" \
  -filter '.name:Chain' -row /edge -col '/impl@(one-binary split one-process processes)'
table "Server streaming, 100 messages per call, gRPC" \
  -filter '.name:StreamGRPC' -col '/impl@(grpc goms local)'
table "Server streaming, 100 messages per call, HTTP (NDJSON)" \
  -filter '.name:StreamHTTP' -col '/impl@(gateway-endpoint goms goms-http)'
table "GoMs vs peers, unary gRPC: GoMs vs bare grpc-go vs connect-go (gRPC over h2c), same grpc-go client" \
  -filter '.name:Unary' -row /size -col '/impl@(goms grpc connect)'
table "GoMs vs peers, HTTP/JSON unary: GoMs gateway mode vs raw in-process grpc-gateway vs connect-go (Connect protocol, JSON) vs vanguard (REST) -> connect-go" \
  -filter '.name:HTTP' -row /size -col '/impl@(goms gateway-inproc connect vanguard)'
table "GoMs vs peers, server streaming, 100 messages per call, gRPC: GoMs vs bare grpc-go vs connect-go (gRPC over h2c)" \
  -filter '.name:StreamGRPC' -col '/impl@(goms grpc connect)'
table "GoMs vs peers, server streaming, 100 messages per call, HTTP: GoMs (NDJSON) vs raw grpc-gateway (NDJSON) vs connect-go (Connect streaming, JSON)" \
  -filter '.name:StreamHTTP' -col '/impl@(goms gateway-endpoint connect)'
if [ -n "$extra" ]; then
  table "Generator (internal/gen BenchmarkGenerate)" -filter '.name:Generate'
fi
