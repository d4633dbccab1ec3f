#!/usr/bin/env bash
# Times the builds of a first `make demo` as on a fresh machine: the plugin
# and the cluster tools with empty Go build and module caches (every module
# downloaded from the proxy, every package compiled), in a temporary folder
# that is removed afterwards. Writes test/bench/cold-build.json, which
# `make bench` reports. Takes 10-20 minutes on 2 cores; nothing else should
# run meanwhile. System packages (apt) are assumed present: they are not Go
# builds and take seconds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/cold-build.XXXXXX")"
cleanup() {
  GOMODCACHE="$tmp/gomod" go clean -modcache 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export GOCACHE="$tmp/gocache" GOMODCACHE="$tmp/gomod" TOOLS_CACHE_DIR="$tmp/tools" GOTOOLCHAIN=local

t0=$SECONDS
echo ">> building the plugin with empty caches" >&2
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/kubectl-sandbox" ./cmd/kubectl-sandbox)
plugin=$((SECONDS - t0))
echo ">> plugin built in ${plugin}s" >&2

t1=$SECONDS
"$ROOT/hack/build-cluster-tools.sh" >/dev/null 2> >(tee "$tmp/tools.log" >&2)
tools=$((SECONDS - t1))
wait

steps=$(sed -n 's/^>>    built \(.*\) in \([0-9]*\)s$/{"step": "\1", "seconds": \2}/p' "$tmp/tools.log" | paste -sd, -)
cat >"$ROOT/test/bench/cold-build.json" <<JSON
{
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "commit": "$(git -C "$ROOT" rev-parse --short HEAD)",
  "machine": "$(nproc) CPUs, $(awk '/MemTotal/ {printf "%d GiB", $2/1048576}' /proc/meminfo)",
  "go": "$(go env GOVERSION)",
  "plugin_seconds": $plugin,
  "tools_seconds": $tools,
  "total_seconds": $((plugin + tools)),
  "steps": [$steps]
}
JSON
echo ">> cold build: plugin ${plugin}s + cluster tools ${tools}s = $((plugin + tools))s; written to test/bench/cold-build.json" >&2
