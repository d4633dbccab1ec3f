#!/usr/bin/env bash
# Builds the main packages PKG... of the pinned tool module hack/tools/MODULE
# into a version-keyed, git-ignored cache folder, once. Prints that folder.
# Usage: build-go-tools.sh MODULE PKG...
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mod="${1:?usage: build-go-tools.sh MODULE PKG...}"; shift
dir="$ROOT/hack/tools/$mod"
key=$( (cat "$dir/go.mod" "$dir/go.sum" "$0"; echo "$@"; go env GOVERSION GOARCH) | sha256sum | cut -c1-16)
bin="${TOOLS_CACHE_DIR:-$ROOT/_output/tools}/$mod-$key/bin"
if [ ! -f "$bin/.complete" ]; then
  mkdir -p "$bin"
  echo ">> building $*" >&2
  (cd "$dir" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -gcflags=all=-dwarf=false -ldflags "-s -w" -o "$bin/" "$@")
  touch "$bin/.complete"
fi
echo "$bin"
