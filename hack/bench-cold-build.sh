#!/usr/bin/env bash
# Times the builds of a first `make demo` as on a fresh machine: the plugin,
# the cluster tools and the node's images with empty Go build and module
# caches and no image cache (every module downloaded from the proxy, every
# package compiled, the images' Debian userland bootstrapped from Debian's
# mirror while the tools compile, as hack/cluster-up.sh does), in a
# temporary folder that is removed afterwards. Writes
# test/bench/cold-build.json, which `make bench` reports. Takes 10-20
# minutes on 2 cores; nothing else should run meanwhile. System packages
# (apt) are assumed present: they take seconds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/cold-build.XXXXXX")"
cleanup() {
  GOMODCACHE="$tmp/gomod" go clean -modcache 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export GOCACHE="$tmp/gocache" GOMODCACHE="$tmp/gomod" TOOLS_CACHE_DIR="$tmp/tools" IMAGES_CACHE_DIR="$tmp/images" GOTOOLCHAIN=local

t0=$SECONDS
echo ">> building the plugin with empty caches" >&2
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -gcflags=all=-dwarf=false -ldflags '-s -w' -o "$tmp/kubectl-sandbox" ./cmd/kubectl-sandbox)
plugin=$((SECONDS - t0))
echo ">> plugin built in ${plugin}s" >&2

t1=$SECONDS
"$ROOT/hack/build-images.sh" base 2> >(tee "$tmp/base.log" >&2) &
base_pid=$!
bin=$("$ROOT/hack/build-cluster-tools.sh" 2> >(tee "$tmp/tools.log" >&2))
tools=$((SECONDS - t1))
wait "$base_pid"
base=$((SECONDS - t1))
t2=$SECONDS
"$ROOT/hack/build-images.sh" "$bin" >/dev/null
images=$((SECONDS - t2))
total=$((SECONDS - t0))

steps=$(sed -n 's/^>>    built \(.*\) in \([0-9]*\)s$/{"step": "\1", "seconds": \2}/p' "$tmp/tools.log" | paste -sd, -)
cat >"$ROOT/test/bench/cold-build.json" <<JSON
{
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "commit": "$(git -C "$ROOT" rev-parse --short HEAD)",
  "machine": "$(nproc) CPUs, $(awk '/MemTotal/ {printf "%d GiB", $2/1048576}' /proc/meminfo)",
  "go": "$(go env GOVERSION)",
  "plugin_seconds": $plugin,
  "tools_seconds": $tools,
  "images_base_seconds": $base,
  "images_seconds": $images,
  "total_seconds": $total,
  "steps": [$steps]
}
JSON
echo ">> cold build: plugin ${plugin}s, cluster tools ${tools}s (the images' Debian userland beside them: ${base}s), images ${images}s; ${total}s in all; written to test/bench/cold-build.json" >&2
