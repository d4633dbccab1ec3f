#!/usr/bin/env bash
# Builds krew (as the kubectl plugin kubectl-krew) and validate-krew-manifest
# from the pinned sigs.k8s.io/krew in hack/tools/krew, into a version-keyed,
# git-ignored cache folder. Prints that folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
key=$( (cat "$ROOT/hack/tools/krew/go.mod" "$ROOT/hack/tools/krew/go.sum" "$0"; go env GOVERSION GOARCH) | sha256sum | cut -c1-16)
bin="${TOOLS_CACHE_DIR:-$ROOT/_output/tools}/krew-$key/bin"
if [ ! -x "$bin/kubectl-krew" ] || [ ! -x "$bin/validate-krew-manifest" ]; then
  mkdir -p "$bin"
  echo ">> building krew and validate-krew-manifest" >&2
  (cd "$ROOT/hack/tools/krew" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 \
    go build -trimpath -ldflags "-s -w" -o "$bin/" sigs.k8s.io/krew/cmd/krew sigs.k8s.io/krew/cmd/validate-krew-manifest)
  mv "$bin/krew" "$bin/kubectl-krew"
fi
echo "$bin"
