#!/usr/bin/env bash
# Builds Traefik (the local cluster's Gateway API implementation) from the
# pinned module in hack/tools/traefik into a content-keyed cache folder
# (traefik_bin_dir in hack/lib/tools.sh). A second run builds nothing.
# About 15 CPU-minutes cold (a 180 MB binary); apart from the other tools
# because `make demo` can go without it.
#
# Prints the bin folder on stdout; progress goes to stderr, a line at least
# every 20 s.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/hack/lib/tools.sh"

bin="$(traefik_bin_dir)"
if tools_complete "$bin" traefik; then
  echo "$bin"
  exit 0
fi
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
mkdir -p "$bin.tmp"
heartbeat traefik bash -c "cd '$ROOT/hack/tools/traefik' && go build -trimpath -gcflags=all=-dwarf=false \
  -ldflags '-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=v3.6.12' \
  -o '$bin.tmp/traefik' github.com/traefik/traefik/v3/cmd/traefik"
rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo "$bin"
