#!/usr/bin/env bash
# Starts the local agent-sandbox cluster: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and the agent-sandbox controller
# as local processes, and one real node (hack/lib/node.sh): containerd, runc,
# a CNI bridge, the kubelet and kube-proxy in namespaces of their own. The
# node runs every pod: the sandbox router (a Deployment behind
# sandbox-router-svc, as upstream deploys it) and the sandboxes of the seed
# templates (the upstream python runtime and sandboxd, in images built here
# by hack/build-images.sh). A Gateway object points at the router.
# Idempotent: when the cluster already runs it only re-runs the smoke check.
# Writes _output/cluster/kubeconfig and _output/cluster/env.
# If a step fails (or the script is interrupted) after the first process
# started, everything this run started is stopped again (hack/cluster-down.sh)
# and the script exits non-zero naming the step.
set -eEuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/hack/lib/tools.sh"
source "$ROOT/hack/lib/cluster.sh"
source "$ROOT/hack/lib/node.sh"
export GOTOOLCHAIN=local
T0=$SECONDS

STEP="checking for a running cluster" # what is being done, for the error message
FAILED=                               # the first command that failed
STARTED=                              # set once this run starts processes
step() { STEP="$*"; log "$STEP"; }
on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  [ "$rc" -eq 0 ] && return 0
  log "error: cluster-up failed at step \"$STEP\" (exit $rc${FAILED:+; failed command: $FAILED})"
  if [ -n "$STARTED" ]; then
    log "stopping every process this cluster-up started"
    "$ROOT/hack/cluster-down.sh" || log "error: hack/cluster-down.sh failed; check with: pgrep -af $ROOT/_output"
    log "error: cluster-up failed at step \"$STEP\"; the logs of the stopped processes are in $LOG_DIR"
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'FAILED="interrupted by SIGINT"; exit 130' INT
trap 'FAILED="interrupted by SIGTERM"; exit 143' TERM
# on_err LINENO: records the first failed command of this script, as its
# line here (for a failure inside a function, the line that called it).
on_err() {
  [ -z "$FAILED" ] || return 0
  local n=${#BASH_LINENO[@]} line="$1" text
  [ "$n" -le 2 ] || line=${BASH_LINENO[n - 2]}
  text=$(sed -n "${line}p" "${BASH_SOURCE[n - 1]}")
  text="${text#"${text%%[![:space:]]*}"}"
  FAILED="line $line: ${text:0:160}"
}
trap 'on_err $LINENO' ERR

print_env() {
  cat >&2 <<MSG

The local cluster is up. To use it from this shell:

  . $CLUSTER_DIR/env

or set the variables yourself:

$(sed 's/^/  /' "$CLUSTER_DIR/env")

MSG
}

# CLUSTER_BUILD_ONLY=1 builds what the cluster runs (the tools, gVisor and
# Traefik as CLUSTER_GVISOR and CLUSTER_GATEWAY say, the images) and starts
# nothing, leaving a running cluster alone: `make e2e` builds first, so that
# the tests' time limit counts tests, not a fresh machine's cold builds.
BUILD_ONLY=${CLUSTER_BUILD_ONLY:-}
missing=
[ "${CLUSTER_GVISOR:-1}" != 1 ] || [ -f "$CLUSTER_DIR/gvisor-bin" ] || missing="gVisor"
[ "${CLUSTER_GATEWAY:-1}" != 1 ] || [ -f "$CLUSTER_DIR/gateway" ] || missing="${missing:+$missing and }the Gateway"
if [ -n "$BUILD_ONLY" ]; then
  :
elif alive && kc get --raw /readyz >/dev/null 2>&1 && [ -n "$missing" ]; then
  log "the running local cluster has no $missing (started by make demo): restarting it with them"
elif alive && kc get --raw /readyz >/dev/null 2>&1; then
  log "local cluster already running"
  "$ROOT/hack/cluster/smoke.sh"
  print_env
  exit 0
fi
[ -n "$BUILD_ONLY" ] || "$ROOT/hack/cluster-down.sh" 2>/dev/null || true

step "installing the Debian packages"
"$ROOT/hack/install-deps.sh"
mkdir -p "$CLUSTER_DIR"
# The images' Debian userland (mmdebstrap: network and disk, little CPU)
# builds while the Go tools compile.
step "building the images' Debian userland"
"$ROOT/hack/build-images.sh" base &
BASE_PID=$!
step "building the cluster tools"
BIN="$("$ROOT/hack/build-cluster-tools.sh")"
# gVisor (the RuntimeClass gvisor and its pools): CLUSTER_GVISOR=1 (the
# default) builds it when missing; auto (make demo) uses it only when it is
# already built; 0 leaves it out.
GVISOR_BIN=
case "${CLUSTER_GVISOR:-1}" in
1) step "building gVisor"; GVISOR_BIN="$("$ROOT/hack/build-gvisor.sh")" ;;
auto) ! tools_complete "$(gvisor_bin_dir)" "${GVISOR_BINARIES[@]}" || GVISOR_BIN="$(gvisor_bin_dir)" ;;
0) ;;
*) die "CLUSTER_GVISOR must be 1, auto or 0, not ${CLUSTER_GVISOR}" ;;
esac
# Traefik, the Gateway API implementation: CLUSTER_GATEWAY, likewise.
TRAEFIK_BIN=
case "${CLUSTER_GATEWAY:-1}" in
1) step "building Traefik"; TRAEFIK_BIN="$("$ROOT/hack/build-traefik.sh")" ;;
auto) ! tools_complete "$(traefik_bin_dir)" traefik || TRAEFIK_BIN="$(traefik_bin_dir)" ;;
0) ;;
*) die "CLUSTER_GATEWAY must be 1, auto or 0, not ${CLUSTER_GATEWAY}" ;;
esac
step "building the images' Debian userland"
wait "$BASE_PID"
step "building the images"
IMAGES="$("$ROOT/hack/build-images.sh" "$BIN")"
AS_DIR="$(module_dir agent-sandbox "sigs.k8s.io/agent-sandbox@$AGENT_SANDBOX_VERSION")"
GW_DIR="$(module_dir agent-sandbox "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")"
if [ ! -d "$AS_DIR" ] || [ ! -d "$GW_DIR" ]; then
  die "module download failed"
fi
if [ -n "$BUILD_ONLY" ]; then
  log "built in $((SECONDS - T0))s (CLUSTER_BUILD_ONLY: nothing started)"
  exit 0
fi

rm -rf "$CLUSTER_DIR/etcd" "$LOG_DIR"
mkdir -p "$PID_DIR" "$LOG_DIR" "$JAIL"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$JAIL/resolv.conf"
step "creating the PKI"
"$ROOT/hack/cluster/pki.sh" "$PKI" "$NODE_NAME" "$HOST_LINK_IP" "$NODE_IP"
"$ROOT/hack/cluster/kubeconfig.sh" "$PKI" "$APISERVER_URL" >"$KUBECONFIG_FILE"
"$ROOT/hack/cluster/kubeconfig.sh" "$PKI" "$APISERVER_URL" kubelet >"$CLUSTER_DIR/kubelet.kubeconfig"
"$ROOT/hack/cluster/kubeconfig.sh" "$PKI" "$APISERVER_URL" kube-proxy >"$CLUSTER_DIR/kube-proxy.kubeconfig"
# The tools this cluster runs: cluster-down and restart.sh use the same
# ones, whatever the scripts' cache key says meanwhile.
echo "$BIN" >"$CLUSTER_DIR/tools-bin"
if [ -n "$GVISOR_BIN" ]; then echo "$GVISOR_BIN" >"$CLUSTER_DIR/gvisor-bin"; else rm -f "$CLUSTER_DIR/gvisor-bin"; fi
if [ -n "$TRAEFIK_BIN" ]; then touch "$CLUSTER_DIR/gateway"; else rm -f "$CLUSTER_DIR/gateway"; fi
log "starting (tools: $BIN; gVisor: ${GVISOR_BIN:-none}; Traefik: ${TRAEFIK_BIN:-none}; images: $IMAGES)"

# 1. the node's namespaces and its link to this host (the API server
#    listens on the host's end); containerd, which imports the images
#    while the control plane starts.
step "1. the node's namespaces and link"
STARTED=1
node_up
step "1. containerd"
node_containerd
import_images() {
  local marker="$CONTAINERD_ROOT/imported-$(basename "$IMAGES")" f
  [ -f "$marker" ] && return 0
  for f in "$IMAGES"/*.tar; do
    ctr_k8s images import "$f" >/dev/null
  done
  touch "$marker"
}
import_images >"$LOG_DIR/images-import.log" 2>&1 &
IMPORT_PID=$!

# 2. etcd
step "2. etcd"
start etcd "$BIN/etcd" --name local --data-dir "$CLUSTER_DIR/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster local=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
  --unsafe-no-fsync --log-level warn
wait_for "etcd" 30 curl -fsS http://127.0.0.1:2379/health

# 3. kube-apiserver: token and client-cert auth; Node and RBAC
#    authorization; it reaches the kubelet with a client certificate and
#    checks the kubelet's serving certificate.
step "3. kube-apiserver"
start kube-apiserver "$BIN/kube-apiserver" --bind-address="$HOST_LINK_IP" --advertise-address="$HOST_LINK_IP" \
  --secure-port=6443 --etcd-servers=http://127.0.0.1:2379 \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$PKI/ca.crt" \
  --kubelet-preferred-address-types=InternalIP --profiling=false --enable-priority-and-fairness=false
wait_for "kube-apiserver" 60 api /readyz

# 4. The kubelet and kube-proxy; the CRDs from the module cache; agent-sandbox's conversion webhook is
#    pointed at the controller on loopback. They go in before the
#    controller-manager starts so that its garbage collector's first discovery
#    sees them (it rediscovers only every 30s): deleting a claim cascades at once.
# The node's kubelet and kube-proxy start now, once the images are in: the
# node registers while the CRDs go in.
step "4. the kubelet and kube-proxy"
wait "$IMPORT_PID" || die "importing the images into containerd failed: $(tail -3 "$LOG_DIR/images-import.log")"
kc apply -f "$ROOT/hack/cluster/rbac.yaml" >/dev/null
node_kubelet
step "4. CRDs"
# agent-sandbox's CRDs go in with their conversion webhook already pointed
# at the controller on loopback (patched here, not on the server: each
# change of a CRD makes the API server rebuild its OpenAPI). The patched
# CRDs are kept by content (the CRDs and the CA): a warm start runs no
# kubectl for them. One apply takes them, Gateway API's and the namespace.
AS_CRDS="$CLUSTER_DIR/agent-sandbox-crds-$(cat "$AS_DIR"/k8s/crds/*.yaml "$PKI/ca.crt" | sha256sum | cut -c1-16).yaml"
if [ ! -f "$AS_CRDS" ]; then
  rm -f "$CLUSTER_DIR"/agent-sandbox-crds-*.yaml
  CA_B64=$(base64 -w0 <"$PKI/ca.crt")
  CONVERSION="{\"spec\":{\"conversion\":{\"strategy\":\"Webhook\",\"webhook\":{\"conversionReviewVersions\":[\"v1\"],\"clientConfig\":{\"service\":null,\"url\":\"https://127.0.0.1:9443/convert\",\"caBundle\":\"$CA_B64\"}}}}}"
  for crd in "$AS_DIR"/k8s/crds/*.yaml; do
    echo ---
    kc patch --local -f "$crd" --type=merge -p "$CONVERSION" -o yaml
  done >"$AS_CRDS.tmp"
  mv "$AS_CRDS.tmp" "$AS_CRDS"
fi
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: agent-sandbox-system}\n' |
  kc apply --server-side -f "$GW_DIR/config/crd/standard/" -f "$AS_CRDS" -f - >/dev/null
kc wait --for=condition=Established --timeout=60s crd --all >/dev/null

# 5. kube-controller-manager: garbage collection (claim deletes cascade),
#    namespaces, service accounts and their root CA, Deployments, Services'
#    EndpointSlices, and the node's lifecycle (its not-ready taint).
step "5. kube-controller-manager and kube-scheduler"
start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$KUBECONFIG_FILE" \
  --controllers=garbage-collector-controller,namespace-controller,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller,deployment-controller,replicaset-controller,endpointslice-controller,node-lifecycle-controller,pod-garbage-collector-controller \
  --leader-elect=false --bind-address=127.0.0.1 --secure-port=10257 \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --use-service-account-credentials=false
start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$KUBECONFIG_FILE" \
  --leader-elect=false --bind-address=127.0.0.1 --secure-port=10259

# 6. agent-sandbox controller with the extensions.
step "6. agent-sandbox-controller"
start agent-sandbox-controller "$BIN/agent-sandbox-controller" --kubeconfig="$KUBECONFIG_FILE" \
  --extensions=true --leader-elect=false --manage-webhook-certs=false \
  --webhook-cert-dir="$PKI/webhook" --metrics-bind-address=127.0.0.1:18080 \
  --health-probe-bind-address=127.0.0.1:18081

# 7. the node Ready (its not-ready taint goes with the node lifecycle
#    controller).
step "7. the node to be Ready"
wait_for "node $NODE_NAME to register" 60 api "/api/v1/nodes/$NODE_NAME"
kc wait --for=condition=Ready --timeout=60s "node/$NODE_NAME" >/dev/null || die "node $NODE_NAME did not become Ready (logs: $LOG_DIR)"

# 8. the router, the Gateway and its routes and their secrets (one apply),
#    the seed objects.
step "8. the router, the Gateway and the seed objects"
wait_for "the default service account" 30 api /api/v1/namespaces/default/serviceaccounts/default
# secret NAMESPACE NAME TYPE KEY=FILE...: a Secret's manifest.
secret() {
  local kv
  printf -- '---\napiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: %s}\ntype: %s\ndata:\n' "$2" "$1" "$3"
  shift 3
  for kv in "$@"; do printf '  %s: %s\n' "${kv%%=*}" "$(base64 -w0 <"${kv#*=}")"; done
}
ROUTER=(-f "$ROOT/hack/cluster/router.yaml" -f "$ROOT/hack/cluster/router-auth.yaml")
[ -z "$TRAEFIK_BIN" ] || ROUTER+=(-f "$ROOT/hack/cluster/gateway.yaml")
{
  secret agent-sandbox-system sandbox-router-scoped-key Opaque key="$PKI/scoped-token.key"
  [ -z "$TRAEFIK_BIN" ] || secret default gateway-tls kubernetes.io/tls tls.crt="$PKI/gateway.crt" tls.key="$PKI/gateway.key"
} | kc apply -f - "${ROUTER[@]}" >/dev/null
if [ -n "$TRAEFIK_BIN" ]; then
  # Traefik on the host's end of the node's link: it reaches the routers'
  # pod IPs (the EndpointSlices of their Services) by the host's route. Its
  # token is in its configuration file, not on its command line.
  (
    umask 077
    echo "entryPoints:"
    for port in 80 443 8081 8443 8082 8444; do echo "  p$port: {address: \"$HOST_LINK_IP:$port\"}"; done
    cat <<YAML
providers:
  kubernetesGateway:
    endpoint: "$APISERVER_URL"
    token: "$(cat "$PKI/traefik.token")"
    certAuthFilePath: "$PKI/ca.crt"
    statusAddress: {ip: "$HOST_LINK_IP"}
global: {checkNewVersion: false, sendAnonymousUsage: false}
log: {level: INFO}
YAML
  ) >"$CLUSTER_DIR/traefik.yaml"
  start traefik "$TRAEFIK_BIN/traefik" --configFile="$CLUSTER_DIR/traefik.yaml"
fi
wait_for "the agent-sandbox controller" 60 curl -fsS http://127.0.0.1:18081/readyz
SEED=(-f "$ROOT/hack/cluster/seed.yaml")
[ -z "$GVISOR_BIN" ] || SEED+=(-f "$ROOT/hack/cluster/gvisor.yaml")
wait_for "the seed objects" 30 kc apply "${SEED[@]}"
wait_for "the sandbox router at $ROUTER_URL" 60 curl -fsS "$ROUTER_URL/healthz"
if [ -n "$TRAEFIK_BIN" ]; then
  kc -n default wait --for=condition=Programmed --timeout=60s >/dev/null \
    gateway/external-http-gateway gateway/tokenreview-gateway gateway/scoped-token-gateway ||
    die "the Gateways were not Programmed by Traefik within 60s (logs: $LOG_DIR)"
fi

cat >"$CLUSTER_DIR/env" <<ENV
export KUBECONFIG="$KUBECONFIG_FILE"
export PATH="$ROOT/bin:\$PATH"
ENV
log "cluster started in $((SECONDS - T0))s; running the smoke check"
step "the smoke check"
"$ROOT/hack/cluster/smoke.sh"
print_env
