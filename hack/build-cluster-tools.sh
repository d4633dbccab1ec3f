#!/usr/bin/env bash
# Builds the binaries of the local test cluster from the pinned modules in
# hack/tools/*, into a version-keyed, git-ignored cache folder. A second run
# with the same pins finds the folder complete and builds nothing.
#
# Prints the bin folder on stdout; build logs go to stderr.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/hack/lib/tools.sh"
# sandboxd (the upstream sandbox runtime daemon) is built with the others; a
# cache folder without it is incomplete. Its pin is hack/tools/agent-sandbox,
# whose go.mod and go.sum are part of the cache key (tools_key), as is this
# script.
TOOLS_BINARIES+=(sandboxd)

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

build() { # module-dir output package [ldflags]
  local mod="$1" out="$2" pkg="$3" ldf="${4:--s -w}"
  if [ -x "$bin.tmp/$out" ]; then return; fi
  local t0=$SECONDS
  echo ">> building $out ($pkg)" >&2
  (cd "$ROOT/hack/tools/$mod" && go build -trimpath -ldflags "$ldf" -o "$bin.tmp/$out" "$pkg")
  echo ">> built $out in $((SECONDS - t0))s" >&2
}

build k8s kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$K8S_LDFLAGS"
build k8s kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$K8S_LDFLAGS"
build etcd etcd go.etcd.io/etcd/server/v3
build agent-sandbox agent-sandbox-controller sigs.k8s.io/agent-sandbox/cmd/agent-sandbox-controller
build agent-sandbox sandbox-router sigs.k8s.io/agent-sandbox/sandbox-router/cmd
build agent-sandbox sandboxd sigs.k8s.io/agent-sandbox/packages/sandboxd/cmd/sandboxd \
  "-s -w -X sigs.k8s.io/agent-sandbox/internal/version.gitVersion=${AGENT_SANDBOX_VERSION}"
build kwok kwok sigs.k8s.io/kwok/cmd/kwok

rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo "$bin"
