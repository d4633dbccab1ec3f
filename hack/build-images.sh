#!/usr/bin/env bash
# Builds the container images of the local cluster's node offline, from
# Debian's packages and the pinned Go modules, into a content-keyed,
# git-ignored cache folder; a second run with the same inputs builds
# nothing. Prints that folder on stdout (progress on stderr): one
# docker-archive tarball per image, which `ctr images import` reads.
#
#   pause                  the pause program of k8s.io/kubernetes (build/pause),
#                          static, alone in its image
#   python-runtime-sandbox the upstream python runtime (examples/python-
#                          runtime-sandbox/main.py of agent-sandbox) on Debian
#                          bookworm's python3 with fastapi, uvicorn and
#                          multipart; /app owned by UID 1000, run as 1000 on
#                          0.0.0.0:8888, as upstream's Dockerfile does
#   sandboxd               the upstream sandboxd binary on the same Debian
#                          userland (sh, coreutils, tar, procps, python3),
#                          /workspace owned by 1000, run as 1000, as
#                          upstream's packages/sandboxd/Dockerfile does
#   sandbox-router-go      the upstream Go router alone (as upstream's
#                          distroless image), run as 65532
#
# The Debian userland is one mmdebstrap run (minbase) shared as the bottom
# layer of the two runtime images. SOURCE_DATE_EPOCH is fixed, so the same
# package versions give the same layer; images are written by
# hack/tools/imagebuild (no timestamps).
# Usage: build-images.sh BIN   (BIN: the cluster tools, hack/build-cluster-tools.sh)
#        build-images.sh base  (the Debian userland only; it needs no tools)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/hack/lib/tools.sh"
BIN="${1:?usage: build-images.sh BIN|base}"
export SOURCE_DATE_EPOCH=1700000000 GOTOOLCHAIN=local

PACKAGES=python3,python3-fastapi,python3-uvicorn,python3-multipart,procps,ca-certificates,bash,tar
cache="${IMAGES_CACHE_DIR:-$ROOT/_output/images}"
base_key=$( (sed -n '/^PACKAGES=/p;/^mmdebstrap_base()/,/^}/p' "$0") | sha256sum | cut -c1-16)
base="$cache/base/$base_key.tar"
t0=$SECONDS
# heartbeat PID WHAT: a progress line every 15 s while PID runs (never 20 s
# quiet), by the clock: on a loaded machine each sleep overruns.
heartbeat() {
  local t=$SECONDS next=$((SECONDS + 15))
  while kill -0 "$1" 2>/dev/null; do
    sleep 0.5
    if [ $SECONDS -ge $next ] && kill -0 "$1" 2>/dev/null; then
      echo ">>    still $2: $((SECONDS - t))s" >&2
      next=$((SECONDS + 15))
    fi
  done
}

# mmdebstrap_base OUT: the Debian userland as one uncompressed tar. Runs in
# a mount namespace of its own, so no mount it makes can outlive it.
mmdebstrap_base() {
  unshare --mount --propagation private mmdebstrap --quiet --variant=minbase --format=tar \
    --include="$PACKAGES" --dpkgopt=force-unsafe-io --skip=output/dev \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*' \
    bookworm "$1" >&2
}

mkdir -p "$cache/base"
if [ ! -f "$base" ]; then
  echo ">> building the Debian userland of the runtime images (mmdebstrap: $PACKAGES)" >&2
  mmdebstrap_base "$base.tmp" &
  pid=$!
  heartbeat "$pid" "building the Debian userland"
  wait "$pid"
  mv "$base.tmp" "$base"
  echo ">>    built the Debian userland in $((SECONDS - t0))s ($(du -m "$base" | cut -f1) MiB)" >&2
fi
[ "$BIN" = base ] && exit 0

AS_DIR="$(module_dir agent-sandbox "sigs.k8s.io/agent-sandbox@$AGENT_SANDBOX_VERSION")"
K8S_DIR="$(module_dir k8s "k8s.io/kubernetes@$K8S_VERSION")"
[ -d "$AS_DIR" ] && [ -d "$K8S_DIR" ] || { echo "build-images: module download failed" >&2; exit 1; }
key=$( (cat "$0" && echo "$base_key" && basename "$(dirname "$BIN")" && cat "$ROOT/hack/tools/imagebuild/"{main.go,go.mod,go.sum}) |
  sha256sum | cut -c1-16)
out="$cache/$key"
if [ -f "$out/complete" ]; then
  echo "$out"
  exit 0
fi
work="$out.tmp/work"
rm -rf "$out.tmp"
mkdir -p "$work"

echo ">> writing the images" >&2
(cd "$ROOT/hack/tools/imagebuild" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -gcflags=all=-dwarf=false -ldflags "-s -w" -o "$work/imagebuild" .)
# layer DIR OUT OWNER PATH...: an uncompressed layer of PATHs under DIR.
layer() {
  local dir="$1" dest="$2" owner="$3"; shift 3
  tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner="$owner" --group="$owner" --numeric-owner \
    -C "$dir" -cf "$dest" "$@"
}
img() { "$work/imagebuild" "$@"; }

mkdir -p "$work/pause"
gcc -Os -static -DVERSION=v3.10-kubectl-sandbox -o "$work/pause/pause" "$K8S_DIR/build/pause/linux/pause.c"
layer "$work/pause" "$work/pause.tar" 0 pause
img -o "$out.tmp/pause.tar" -name local.test/pause:3.10 -layer "$work/pause.tar" -entrypoint /pause -user 65535:65535

mkdir -p "$work/python/app"
install -m 0644 "$AS_DIR/examples/python-runtime-sandbox/main.py" "$work/python/app/main.py"
layer "$work/python" "$work/python.tar" 1000 app
img -o "$out.tmp/python-runtime-sandbox.tar" -name "local.test/agent-sandbox/python-runtime-sandbox:$AGENT_SANDBOX_VERSION" \
  -layer "$base" -layer "$work/python.tar" -user 1000 -workdir /app \
  -arg python3 -arg -m -arg uvicorn -arg main:app -arg --host -arg 0.0.0.0 -arg --port -arg 8888 -arg --log-level -arg trace

mkdir -p "$work/sandboxd/usr/local/bin" "$work/sandboxd/workspace"
install -m 0755 "$BIN/sandboxd" "$work/sandboxd/usr/local/bin/sandboxd"
layer "$work/sandboxd" "$work/sandboxd-bin.tar" 0 usr
layer "$work/sandboxd" "$work/sandboxd-ws.tar" 1000 workspace
img -o "$out.tmp/sandboxd.tar" -name "local.test/agent-sandbox/sandboxd:$AGENT_SANDBOX_VERSION" \
  -layer "$base" -layer "$work/sandboxd-bin.tar" -layer "$work/sandboxd-ws.tar" -user 1000 -workdir /workspace \
  -entrypoint /usr/local/bin/sandboxd

mkdir -p "$work/router/tmp"
chmod 1777 "$work/router/tmp"
install -m 0755 "$BIN/sandbox-router" "$work/router/sandbox-router"
layer "$work/router" "$work/router.tar" 0 sandbox-router tmp
img -o "$out.tmp/sandbox-router-go.tar" -name "local.test/agent-sandbox/sandbox-router-go:$AGENT_SANDBOX_VERSION" \
  -layer "$work/router.tar" -user 65532:65532 -entrypoint /sandbox-router

rm -rf "$work"
touch "$out.tmp/complete"
rm -rf "$out"
mv "$out.tmp" "$out"
echo ">> images written in $((SECONDS - t0))s: $out" >&2
echo "$out"
