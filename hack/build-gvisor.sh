#!/usr/bin/env bash
# Builds gVisor's runsc and containerd-shim-runsc-v1 from the pinned module
# in hack/tools/gvisor into a content-keyed cache folder (gvisor_bin_dir in
# hack/lib/tools.sh: the pins and this script). A second run builds nothing.
# About 4 CPU-minutes cold; apart from build-cluster-tools.sh because only
# the e2e suite needs gVisor, not `make demo`.
#
# Prints the bin folder on stdout; progress goes to stderr, a line at least
# every 20 s.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/hack/lib/tools.sh"

bin="$(gvisor_bin_dir)"
if tools_complete "$bin" "${GVISOR_BINARIES[@]}"; then
  echo "$bin"
  exit 0
fi
export GOTOOLCHAIN=local CGO_ENABLED=0
mkdir -p "$bin.tmp"
started=$SECONDS

if [ ! -x "$bin.tmp/runsc" ]; then
  heartbeat runsc bash -c "cd '$ROOT/hack/tools/gvisor' && GOFLAGS=-mod=readonly go build -trimpath -gcflags=all=-dwarf=false -ldflags '-s -w' -o '$bin.tmp/runsc' gvisor.dev/gvisor/runsc"
fi

# The shim, with one change made at build time in a vendored copy: it
# tolerates a refused lowering of its own OOM score (root here lacks
# CAP_SYS_RESOURCE; containerd's own shims have not asked for a lower score
# since containerd 1.3). Unchanged, it cannot start: "failed to set OOM
# Score on shim: write /proc/N/oom_score_adj: permission denied".
if [ ! -x "$bin.tmp/containerd-shim-runsc-v1" ]; then
  shim="$bin.tmp/.shim"
  rm -rf "$shim" && mkdir -p "$shim"
  cp "$ROOT/hack/tools/gvisor/go.mod" "$ROOT/hack/tools/gvisor/go.sum" "$shim/"
  (cd "$shim" && go mod vendor)
  manager="$shim/vendor/gvisor.dev/gvisor/pkg/shim/v1/manager.go"
  from='if err := sys.SetOOMScore(cmd.Process.Pid, oomScoreMax); err != nil {'
  to='if err := sys.SetOOMScore(cmd.Process.Pid, oomScoreMax); err != nil && !os.IsPermission(err) {'
  [ "$(grep -cF "$from" "$manager")" = 1 ] || {
    echo "build-gvisor: the shim's SetOOMScore call is not where it was: $manager" >&2
    exit 1
  }
  src=$(<"$manager")
  printf '%s\n' "${src/"$from"/"$to"}" >"$manager"
  grep -qF "$to" "$manager" || { echo "build-gvisor: patching $manager failed" >&2; exit 1; }
  heartbeat containerd-shim-runsc-v1 bash -c "cd '$shim' && go build -mod=vendor -trimpath -gcflags=all=-dwarf=false -ldflags '-s -w' -o '$bin.tmp/containerd-shim-runsc-v1' gvisor.dev/gvisor/shim"
  rm -rf "$shim"
fi
echo ">> gVisor built in $((SECONDS - started))s" >&2

rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo "$bin"
