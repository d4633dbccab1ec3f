#!/usr/bin/env bash
# Fails when `go mod tidy` would change go.mod or go.sum of the root module or
# of any tool module under hack/tools or test/bench/gosdk, and shows the change.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
status=0
for dir in "$ROOT" "$ROOT"/hack/tools/*/ "$ROOT"/test/bench/gosdk/; do
  if ! (cd "$dir" && GOFLAGS=-mod=mod go mod tidy -diff); then
    echo "go mod tidy changes $(realpath --relative-to="$ROOT" "$dir")/go.mod or go.sum: run it there and commit" >&2
    status=1
  fi
done
exit $status
