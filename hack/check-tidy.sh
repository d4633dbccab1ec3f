#!/usr/bin/env bash
# Fails when `go mod tidy` would change go.mod or go.sum of the root module or
# of any tool module under hack/tools.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
status=0
for dir in "$ROOT" "$ROOT"/hack/tools/*/; do
  tmp=$(mktemp -d)
  cp "$dir/go.mod" "$dir/go.sum" "$tmp/"
  (cd "$dir" && GOFLAGS=-mod=mod go mod tidy)
  if ! diff -q "$tmp/go.mod" "$dir/go.mod" >/dev/null || ! diff -q "$tmp/go.sum" "$dir/go.sum" >/dev/null; then
    echo "go mod tidy changes $(realpath --relative-to="$ROOT" "$dir")/go.mod or go.sum: run it and commit" >&2
    cp "$tmp/go.mod" "$tmp/go.sum" "$dir/"
    status=1
  fi
  rm -rf "$tmp"
done
exit $status
