#!/usr/bin/env bash
# Builds the plugin (not its tests) for every platform of the Krew manifest,
# with the release's flags, and throws the binaries away: a platform that
# does not build fails here, not at release time. The build cache it fills
# is the one `make release` uses.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
for platform in $(hack/platforms.sh); do
  start=$SECONDS
  CGO_ENABLED=0 GOOS=${platform%/*} GOARCH=${platform#*/} go build -trimpath -gcflags=all=-dwarf=false -o /dev/null ./cmd/kubectl-sandbox ||
    { echo "cross: the plugin does not build for $platform" >&2; exit 1; }
  echo "cross: $platform builds ($((SECONDS - start))s)"
done
