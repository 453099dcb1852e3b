#!/usr/bin/env bash
# Puts google/api/annotations.proto, http.proto and httpbody.proto under
# .tmp/googleapis, taken from the grpc-gateway v1.16.0 Go module (the Go
# module proxy serves it; the protos are not copied into the repository).
# Prints the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.tmp/googleapis
if [ ! -f "$dest/google/api/httpbody.proto" ]; then
  dir=$(go mod download -json github.com/grpc-ecosystem/grpc-gateway@v1.16.0 |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "googleapis.sh: go mod download gave no directory" >&2; exit 1; }
  mkdir -p "$dest/google/api"
  for f in annotations.proto http.proto httpbody.proto; do
    install -m 0644 "$dir/third_party/googleapis/google/api/$f" "$dest/google/api/$f"
  done
fi
echo "$dest"
