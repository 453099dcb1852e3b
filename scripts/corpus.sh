#!/usr/bin/env bash
# Installs the npm package google-proto-files (all of Google's public API
# protos) under .tmp/corpus for the generator's corpus test and benchmark,
# and prints the directory holding its google/ tree. Needs npm.
set -euo pipefail
cd "$(dirname "$0")/.."
version=6.0.1
dest=.tmp/corpus
dir=$dest/node_modules/google-proto-files
if [ ! -f "$dir/package.json" ] || ! grep -q "\"version\": \"$version\"" "$dir/package.json"; then
  command -v npm >/dev/null || { echo "corpus.sh: npm not found; install it: apt-get install npm" >&2; exit 1; }
  mkdir -p "$dest"
  npm install --prefix "$dest" --no-audit --no-fund --ignore-scripts --no-package-lock --silent \
    "google-proto-files@$version" >&2
fi
echo "$dir"
