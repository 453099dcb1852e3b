#!/usr/bin/env bash
# Counts the CPU instructions each set-up of the per-call comparisons
# executes per call, with valgrind's callgrind: the figure of the suite
# that machine noise does not move (time per call moves ±5–20% between
# runs on a shared VM; instruction counts agree within about 2%).
#
#   scripts/instructions.sh            every comparison below
#   scripts/instructions.sh REGEX      only the comparisons matching REGEX
#
# Each variant runs twice under callgrind, INSTR_LOW and INSTR_HIGH calls
# (default 2000 and 8000, -test.benchtime=Nx); the difference of the two
# totals over the difference of the call counts is the instructions per
# call, without the set-up (servers started, first call). The whole
# process counts: client, servers and garbage collector. GOMAXPROCS=1,
# since callgrind runs one thread at a time and idle Ps would only add
# scheduler spinning to the count; asynchronous preemption is off, since
# callgrind does not survive its signals. Instructions are not time (a
# clock read or an atomic costs many cycles, a cache miss more), so the
# time comparisons stay the benchmarks' own (make bench). Each row also
# shows the allocations per call (allocs/op) the INSTR_HIGH run reported.
# ./bench is a module of its own (bench/go.mod), so that connect-go and
# vanguard, the peers, stay out of the library's go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
  echo "valgrind not found; on Debian: apt-get install -y valgrind" >&2
  exit 1
fi
low=${INSTR_LOW:-2000}
high=${INSTR_HIGH:-8000}
only=${1:-.}

# Comparisons: benchmark path, then its variants, the baseline first. A
# path may end in :LOW:HIGH, call counts that replace INSTR_LOW and
# INSTR_HIGH for it (a streaming call is 100 messages).
comparisons=(
  "BenchmarkUnary/size=small grpc goms goms-vt connect"
  "BenchmarkUnary/size=large:$((low / 4)):$((high / 4)) grpc goms goms-vt"
  "BenchmarkHTTP/size=small gateway-inproc goms connect vanguard gateway-endpoint goms-http"
  # Connect JSON unary: GoMs's own protocol code against connect-go's handler.
  "BenchmarkHTTP/size=small connect goms-connect"
  "BenchmarkColocated/size=small loopback local direct"
  "BenchmarkStreamHTTP:$((low / 16)):$((high / 16)) gateway-endpoint goms goms-http connect goms-connect"
  # The same stream as Server-Sent Events (GoMs only; GET, as an EventSource asks).
  "BenchmarkStreamSSE:$((low / 16)):$((high / 16)) goms goms-http"
  # The same stream over a WebSocket (GoMs only), the handshake included.
  "BenchmarkStreamWebSocket:$((low / 16)):$((high / 16)) goms goms-http"
)

bin=.tmp/bench-bin/bench.test
mkdir -p .tmp/bench-bin .tmp/instructions
go -C bench test -c -o "$PWD/$bin" .

# count BENCH IMPL N prints the instructions of N calls and the set-up,
# then the allocations per call the benchmark reported.
count() {
  local log=.tmp/instructions/$RANDOM$RANDOM.log
  local pattern="^${1%%/*}\$/^${1#*/}\$/^impl=$2\$"
  [[ $1 == */* ]] || pattern="^$1\$/^impl=$2\$"
  local allocs
  allocs=$(cd bench && GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind \
    --callgrind-out-file=/dev/null --log-file="../$log" \
    "../$bin" -test.run='^$' -test.bench="$pattern" -test.benchtime="${3}x" -test.benchmem |
    awk '{for (i = 2; i <= NF; i++) if ($i == "allocs/op") print $(i - 1)}')
  echo "$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log") ${allocs:-?}"
  rm -f "$log"
}
export -f count
export bin

echo "instructions per call (callgrind, $low and $high calls, GOMAXPROCS=1), at $(git rev-parse --short HEAD)"
for c in "${comparisons[@]}"; do
  read -r bench impls <<<"$c"
  [[ $bench =~ $only ]] || continue
  lo=$low hi=$high
  if [[ $bench == *:*:* ]]; then
    IFS=: read -r bench lo hi <<<"$bench"
  fi
  echo
  echo "### ${bench#Benchmark} ($lo and $hi calls)"
  printf '  %-18s %9s  %-7s %s\n' impl instr/call ratio allocs/op
  base=
  for impl in $impls; do
    # The two runs of a variant go in parallel: counts do not depend on
    # what else runs. Each prints: calls instructions allocs/op.
    read -r a b allocs < <(printf '%s\n' "$lo" "$hi" | xargs -P 2 -I{} bash -c 'echo {} $(count "$0" "$1" {})' "$bench" "$impl" |
      sort -n | awk '{i[NR] = $2; a = $3} END {print i[1], i[2], a}')
    per=$(((b - a) / (hi - lo)))
    if [ -z "$base" ]; then
      base=$per
    fi
    printf '  %-18s %9d  %-7s %s\n' "$impl" "$per" "$(awk -v x="$per" -v y="$base" 'BEGIN{r = x / y; printf(r >= 0.1 ? "%.3fx" : "%.3gx", r)}')" "$allocs"
  done
done
