#!/usr/bin/env bash
# Compares what a minimal one-service binary links: GoMs, grpc-go +
# grpc-gateway, connect-go + vanguard. Prints markdown tables.
#
#   scripts/size.sh                 (make size)
#
# The three mains live in their own module, bench/size (its go.mod keeps
# connect-go and vanguard out of the main go.mod), and serve the same echo
# service (bench/size/proto), each from the code its stack generates. Each
# is built twice, with a plain `go build` and with
# `go build -trimpath -ldflags='-s -w'` (no symbol table, no DWARF), in
# the same environment; the packages counted are those
# `go list -deps` gives that are not in the standard library, the main
# package and its generated echo package included.
# bench/size/size_test.go checks that each main serves what the table
# says (cd bench/size && go test .).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/.tmp/size
mkdir -p "$out"
cd bench/size

# The stacks share grpc-go, protobuf and grpc-gateway: they must be at the
# versions the library itself is built with.
versions=""
for m in google.golang.org/grpc google.golang.org/protobuf github.com/grpc-ecosystem/grpc-gateway/v2; do
  here=$(go list -m -f '{{.Version}}' "$m")
  lib=$(cd "$root" && go list -m -f '{{.Version}}' "$m")
  if [ "$here" != "$lib" ]; then
    echo "size.sh: $m is $here in bench/size/go.mod but $lib in go.mod" >&2
    echo "fix: cd bench/size && go get $m@$lib && go mod tidy" >&2
    exit 1
  fi
  versions+="${versions:+, }${m#*/} $here"
done
for m in connectrpc.com/connect connectrpc.com/vanguard connectrpc.com/grpchealth connectrpc.com/grpcreflect; do
  versions+=", $m $(go list -m -f '{{.Version}}' "$m")"
done

impls="goms grpcgateway connect"
declare -A serves=(
  [goms]='gRPC + HTTP gateway, GoMs defaults (`goms.Main`): health, reflection, Prometheus metrics, `/healthz` `/readyz` `/metrics`, logging and recovery interceptors; tracing and etcd discovery are opt-in packages, not linked'
  [grpcgateway]='gRPC + HTTP (grpc-gateway over a loopback `grpc.ClientConn`): health, reflection; no metrics, no interceptors'
  [connect]='gRPC (h2c), gRPC-Web, Connect + HTTP/JSON (vanguard), one port: health (grpchealth), reflection (grpcreflect); no metrics, no interceptors'
)
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

declare -A pkgs default stripped
for impl in $impls; do
  go build -o "$out/$impl" "./$impl"
  go build -trimpath -ldflags='-s -w' -o "$out/$impl-stripped" "./$impl"
  default[$impl]=$(stat -c %s "$out/$impl")
  stripped[$impl]=$(stat -c %s "$out/$impl-stripped")
  go list -deps -f '{{if not .Standard}}{{.ImportPath}} {{.Module.Path}}{{end}}' "./$impl" |
    grep . >"$out/$impl.deps"
  pkgs[$impl]=$(wc -l <"$out/$impl.deps")
done

commit=$(git -C "$root" rev-parse --short HEAD)
[ -z "$(git -C "$root" status --porcelain)" ] || commit+="+dirty"
echo "What a minimal one-service binary links: $(go version | cut -d' ' -f3-), CGO_ENABLED=$(go env CGO_ENABLED), commit $commit"
echo "$versions"
echo
echo "| impl | what it serves | non-stdlib packages | binary size (default build) | binary size (-trimpath -s -w) |"
echo "|---|---|--:|--:|--:|"
for impl in $impls; do
  echo "| $impl | ${serves[$impl]} | ${pkgs[$impl]} | $(mib "${default[$impl]}") | $(mib "${stripped[$impl]}") |"
done

# Where the packages come from: non-stdlib packages linked per module
# (go list's .Module.Path), per main.
echo
echo "Non-stdlib packages by module:"
echo
echo "| module | $(echo $impls | sed 's/ / | /g') |"
echo "|---|$(for _ in $impls; do printf -- '--:|'; done)"
cat "$out"/{goms,grpcgateway,connect}.deps | cut -d' ' -f2 | sort -u |
  while read -r mod; do
    row="| \`$mod\`"
    for impl in $impls; do
      n=$(awk -v m="$mod" '$2 == m' "$out/$impl.deps" | wc -l)
      row+=" | $([ "$n" -gt 0 ] && echo "$n" || echo "-")"
    done
    echo "$row |"
  done
