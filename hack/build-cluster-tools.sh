#!/usr/bin/env bash
# Builds the binaries of the local test cluster from the pinned modules in
# hack/tools/*, into a version-keyed, git-ignored cache folder. A second run
# with the same pins finds the folder complete and builds nothing.
#
# Prints the bin folder on stdout; build logs go to stderr.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/hack/lib/tools.sh"
# The pins are hack/tools/*/go.mod and go.sum, part of the cache key
# (tools_key), as is this script.

bin="$(tools_bin_dir)"
if tools_complete "$bin"; then
  echo "$bin"
  exit 0
fi

mkdir -p "$bin.tmp"
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0
K8S_LDFLAGS="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  K8S_LDFLAGS+=" -X $p.gitVersion=${K8S_VERSION} -X $p.gitMajor=1 -X $p.gitMinor=37"
  K8S_LDFLAGS+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

# Progress for a newcomer's first, cold build (minutes on 2 cores): which
# step, how long it has run, what is left, and a line every 15 s meanwhile.
steps=("kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy" "etcd"
  "agent-sandbox-controller sandbox-router sandboxd" "containerd containerd-shim-runc-v2 ctr" "runc" "pause")
step=0
started=$SECONDS
progress() { # what
  local left=("${steps[@]:$((step + 1))}")
  echo ">> [$((step + 1))/${#steps[@]}] building $1 (${SECONDS}s so far; then: ${left[*]:-nothing})" >&2
}

# build_group module-dir ldflags out=package... builds the packages of one
# module in one `go build` (shared compilation and parallel links), each
# binary under its own name, with a heartbeat while it runs.
build_group() {
  local mod="$1" ldf="$2" spec out pkg missing=() pkgs=() outs=()
  shift 2
  for spec in "$@"; do
    out=${spec%%=*} pkg=${spec#*=}
    [ -x "$bin.tmp/$out" ] && continue
    missing+=("$out") pkgs+=("$pkg") outs+=("$out")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    progress "${missing[*]}"
    local t0=$SECONDS work="$bin.tmp/.group" pid
    rm -rf "$work" && mkdir -p "$work"
    (cd "$ROOT/hack/tools/$mod" && go build -trimpath -gcflags=all=-dwarf=false ${BUILD_TAGS:+-tags "$BUILD_TAGS"} -ldflags "$ldf" -o "$work/" "${pkgs[@]}") &
    pid=$!
    while ! wait_for_pid "$pid" 15; do # a line every 15 s: never 20 s quiet
      echo ">>    still building ${missing[*]}: $((SECONDS - t0))s" >&2
    done
    wait "$pid"
    local i
    local name
    for i in "${!pkgs[@]}"; do
      # go build names a binary after its package's last path element, or
      # the one before a major version suffix (server/v3 -> server).
      name=$(basename "${pkgs[$i]}")
      [[ $name =~ ^v[0-9]+$ ]] && name=$(basename "$(dirname "${pkgs[$i]}")")
      mv "$work/$name" "$bin.tmp/${outs[$i]}"
    done
    rm -rf "$work"
    echo ">>    built ${missing[*]} in $((SECONDS - t0))s" >&2
  fi
  step=$((step + 1))
}

# wait_for_pid PID SECONDS: true once PID has ended, false after SECONDS.
# (By the clock, not by a count of sleeps: on a loaded machine each sleep
# and kill overruns.)
wait_for_pid() {
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt "$deadline" ]; do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.5
  done
  ! kill -0 "$1" 2>/dev/null
}

ETCD=(etcd=go.etcd.io/etcd/server/v3)
AGENT_SANDBOX=(agent-sandbox-controller=sigs.k8s.io/agent-sandbox/cmd/agent-sandbox-controller
  sandbox-router=sigs.k8s.io/agent-sandbox/sandbox-router/cmd
  sandboxd=sigs.k8s.io/agent-sandbox/packages/sandboxd/cmd/sandboxd)
CONTAINERD=(containerd=github.com/containerd/containerd/v2/cmd/containerd
  containerd-shim-runc-v2=github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2
  ctr=github.com/containerd/containerd/v2/cmd/ctr)
CONTAINERD_TAGS="no_btrfs no_devmapper no_zfs"
RUNC=(runc=github.com/opencontainers/runc)

# prefetch module-dir tags out=package...: downloads the modules the
# packages need (`go list -deps`: no compiling), in the background while
# the Kubernetes group compiles: the network works beside the CPU. The
# build that follows reports any failure.
prefetch() {
  local mod="$1" tags="$2"
  shift 2
  (cd "$ROOT/hack/tools/$mod" && go list -deps ${tags:+-tags "$tags"} "${@#*=}" >/dev/null 2>&1) &
}
prefetch etcd "" "${ETCD[@]}"
prefetch agent-sandbox "" "${AGENT_SANDBOX[@]}"
prefetch containerd "$CONTAINERD_TAGS" "${CONTAINERD[@]}"
CGO_ENABLED=1 prefetch runc seccomp "${RUNC[@]}"

build_group k8s "$K8S_LDFLAGS" "${K8S[@]}" # K8S: hack/lib/tools.sh
build_group etcd "-s -w" "${ETCD[@]}"
build_group agent-sandbox "-s -w -X sigs.k8s.io/agent-sandbox/internal/version.gitVersion=${AGENT_SANDBOX_VERSION}" "${AGENT_SANDBOX[@]}"
CONTAINERD_LDFLAGS="-s -w -X github.com/containerd/containerd/v2/version.Version=v2.4.2"
BUILD_TAGS="$CONTAINERD_TAGS" build_group containerd "$CONTAINERD_LDFLAGS" "${CONTAINERD[@]}"
# runc needs cgo (its nsexec is C) and libseccomp (hack/install-deps.sh).
CGO_ENABLED=1 BUILD_TAGS=seccomp build_group runc "-s -w -X main.version=1.5.3" "${RUNC[@]}"
# pause: the node's init (hack/lib/node.sh), from the kubernetes module.
if [ ! -x "$bin.tmp/pause" ]; then
  progress pause
  k8s_dir=$(cd "$ROOT/hack/tools/k8s" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)
  gcc -Os -static -DVERSION=v3.10-kubectl-sandbox -o "$bin.tmp/pause" "$k8s_dir/build/pause/linux/pause.c"
fi
wait # the prefetches, long done
echo ">> cluster tools built in $((SECONDS - started))s" >&2

rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo "$bin"
