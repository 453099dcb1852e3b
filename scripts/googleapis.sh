#!/usr/bin/env bash
# Puts the third-party protos the repository's protos import under
# .tmp/googleapis, taken from Go modules the Go module proxy serves (the
# protos are not copied into the repository):
# - google/api/annotations.proto, http.proto and httpbody.proto from the
#   grpc-gateway v1.16.0 module;
# - buf/validate/validate.proto (protovalidate's rules) from the
#   github.com/bufbuild/protovalidate module, at the version whose
#   descriptor is that of the Go types buf.build/go/protovalidate v1.4.0
#   uses.
# Prints the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.tmp/googleapis
# moddir prints the directory of Go module $1 in the module cache.
moddir() {
  local dir
  dir=$(go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "googleapis.sh: go mod download $1 gave no directory" >&2; exit 1; }
  echo "$dir"
}
if [ ! -f "$dest/google/api/httpbody.proto" ]; then
  dir=$(moddir github.com/grpc-ecosystem/grpc-gateway@v1.16.0)
  mkdir -p "$dest/google/api"
  for f in annotations.proto http.proto httpbody.proto; do
    install -m 0644 "$dir/third_party/googleapis/google/api/$f" "$dest/google/api/$f"
  done
fi
if [ ! -f "$dest/buf/validate/validate.proto" ]; then
  dir=$(moddir github.com/bufbuild/protovalidate@v1.2.2)
  mkdir -p "$dest/buf/validate"
  install -m 0644 "$dir/proto/protovalidate/buf/validate/validate.proto" "$dest/buf/validate/validate.proto"
fi
echo "$dest"
