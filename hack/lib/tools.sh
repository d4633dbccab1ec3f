# Shared helpers: where the cluster tool binaries live and whether they are built.
# shellcheck shell=bash disable=SC2034 # the scripts that source this use the variables
K8S_VERSION=v1.37.2
AGENT_SANDBOX_VERSION=v0.5.6
GATEWAY_API_VERSION=v1.6.3
TOOLS_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy etcd
  agent-sandbox-controller sandbox-router sandboxd containerd containerd-shim-runc-v2 ctr runc pause)
# The Kubernetes binaries (name=package), built by hack/build-cluster-tools.sh
# from hack/tools/k8s; hack/check-tidy.sh compares their modules with the
# plugin's.
K8S=(kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver
  kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager
  kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler
  kubelet=k8s.io/kubernetes/cmd/kubelet
  kube-proxy=k8s.io/kubernetes/cmd/kube-proxy)

# tools_key hashes everything that decides what the cluster binaries are.
tools_key() {
  local m mods=(agent-sandbox containerd etcd k8s runc)
  (cd "$ROOT/hack/tools" && for m in "${mods[@]}"; do cat "$m/go.mod"; done &&
    for m in "${mods[@]}"; do cat "$m/go.sum"; done && cat ../build-cluster-tools.sh ../lib/tools.sh && go env GOVERSION GOARCH) |
    sha256sum | cut -c1-16
}

tools_bin_dir() {
  echo "${TOOLS_CACHE_DIR:-$ROOT/_output/tools}/$(tools_key)/bin"
}

tools_complete() { # dir [binary...] (default: TOOLS_BINARIES)
  local b
  local d=$1; shift
  [ $# -gt 0 ] || set -- "${TOOLS_BINARIES[@]}"
  for b in "$@"; do [ -x "$d/$b" ] || return 1; done
}

# module_dir prints the module-cache folder of a module version, downloading it if needed.
module_dir() {
  (cd "$ROOT/hack/tools/$1" && GOFLAGS=-mod=mod go mod download -json "$2" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
}

# gVisor (runsc and its containerd shim) is built apart from the other
# tools: `make demo` does not need it, the e2e suite does (hack/build-gvisor.sh).
GVISOR_BINARIES=(runsc containerd-shim-runsc-v1)

gvisor_bin_dir() {
  local key
  key=$( (cd "$ROOT/hack" && cat tools/gvisor/go.mod tools/gvisor/go.sum build-gvisor.sh && go env GOVERSION GOARCH) |
    sha256sum | cut -c1-16)
  echo "${TOOLS_CACHE_DIR:-$ROOT/_output/tools}/gvisor-$key/bin"
}

# heartbeat WHAT CMD...: runs CMD with a progress line every 15 s.
heartbeat() {
  local what=$1 t0=$SECONDS
  shift
  echo ">> building $what (${SECONDS}s so far)" >&2
  "$ROOT/hack/heartbeat.sh" "$what" "$@"
  echo ">>    built $what in $((SECONDS - t0))s" >&2
}

# Traefik, the Gateway API implementation of the local cluster: built apart
# (hack/build-traefik.sh), for the same reason as gVisor.
traefik_bin_dir() {
  local key
  key=$( (cd "$ROOT/hack" && cat tools/traefik/go.mod tools/traefik/go.sum build-traefik.sh && go env GOVERSION GOARCH) |
    sha256sum | cut -c1-16)
  echo "${TOOLS_CACHE_DIR:-$ROOT/_output/tools}/traefik-$key/bin"
}
