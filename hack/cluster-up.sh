#!/usr/bin/env bash
# Starts the local agent-sandbox cluster: etcd, kube-apiserver,
# kube-controller-manager, the agent-sandbox controller, kwok, the sandbox
# router, a Gateway, and for each sandbox pod its runtime: the upstream python
# runtime, or sandboxd in the pod's own network namespace. Port-forwards to
# any port a sandbox pod listens on and its logs (`kubectl logs`) go through
# kwok PortForward and Logs objects that podruntime keeps per pod.
# Idempotent: when the cluster already runs it only re-runs the smoke check.
# Writes _output/cluster/kubeconfig and _output/cluster/env.
# If a step fails (or the script is interrupted) after the first process
# started, everything this run started is stopped again (hack/cluster-down.sh)
# and the script exits non-zero naming the step.
set -eEuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/hack/lib/tools.sh"
source "$ROOT/hack/lib/cluster.sh"
export GOTOOLCHAIN=local
T0=$SECONDS

STEP="checking for a running cluster" # what is being done, for the error message
FAILED=                               # the first command that failed
STARTED=                              # set once this run starts processes
step() { STEP="$*"; }
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

if alive && kc get --raw /readyz >/dev/null 2>&1; then
  log "local cluster already running"
  "$ROOT/hack/cluster/smoke.sh"
  print_env
  exit 0
fi
"$ROOT/hack/cluster-down.sh" 2>/dev/null || true

step "installing the Debian packages"
"$ROOT/hack/install-deps.sh"
step "building the cluster tools"
BIN="$("$ROOT/hack/build-cluster-tools.sh")"
AS_DIR="$(module_dir agent-sandbox "sigs.k8s.io/agent-sandbox@$AGENT_SANDBOX_VERSION")"
GW_DIR="$(module_dir agent-sandbox "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")"
KWOK_DIR="$(module_dir kwok sigs.k8s.io/kwok@v0.8.0)"
if [ ! -d "$AS_DIR" ] || [ ! -d "$GW_DIR" ] || [ ! -d "$KWOK_DIR" ]; then
  die "module download failed"
fi
[ -x "$BIN/sandboxd" ] || die "no sandboxd in $BIN (hack/build-cluster-tools.sh)"
step "building the pod runtime supervisor"
log "building the pod runtime supervisor"
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$CLUSTER_DIR/bin/podruntime" ./test/cluster/podruntime)

rm -rf "$CLUSTER_DIR/etcd" "$LOG_DIR" "$CLUSTER_DIR/pods"
# /app and /workspace are the mount points of the pods' private folders
# (python runtime and sandboxd): bubblewrap binds over them, on a read-only /.
mkdir -p "$PID_DIR" "$LOG_DIR" "$JAIL" "$CLUSTER_DIR/pods" /app /workspace
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$JAIL/resolv.conf"
step "creating the PKI"
"$ROOT/hack/cluster/pki.sh" "$PKI"
"$ROOT/hack/cluster/kubeconfig.sh" "$PKI" "$APISERVER_URL" >"$KUBECONFIG_FILE"
log "starting (tools: $BIN)"

# 1. etcd
step "1. etcd"
STARTED=1
start etcd "$BIN/etcd" --name local --data-dir "$CLUSTER_DIR/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster local=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
  --unsafe-no-fsync --log-level warn
wait_for "etcd" 30 curl -fsS http://127.0.0.1:2379/health

# 2. kube-apiserver: token and client-cert auth, RBAC.
step "2. kube-apiserver"
start kube-apiserver "$BIN/kube-apiserver" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
  --secure-port=6443 --etcd-servers=http://127.0.0.1:2379 \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" --authorization-mode=RBAC \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range=10.96.0.0/16 --endpoint-reconciler-type=none \
  --kubelet-preferred-address-types=InternalIP --profiling=false --enable-priority-and-fairness=false
wait_for "kube-apiserver" 60 kc get --raw /readyz

# 3. CRDs from the module cache; agent-sandbox's conversion webhook is
#    pointed at the controller on loopback. They go in before the
#    controller-manager starts so that its garbage collector's first discovery
#    sees them (it rediscovers only every 30s): deleting a claim cascades at once.
step "3. CRDs"
kc apply --server-side -f "$AS_DIR/k8s/crds/" >/dev/null
kc apply --server-side -f "$GW_DIR/config/crd/standard/" >/dev/null
# kwok's per-pod port-forward and logs rules (it runs with
# --enable-crds=PortForward,Logs).
kc apply --server-side -f "$KWOK_DIR/kustomize/crd/bases/kwok.x-k8s.io_portforwards.yaml" \
  -f "$KWOK_DIR/kustomize/crd/bases/kwok.x-k8s.io_logs.yaml" >/dev/null
CA_B64=$(base64 -w0 <"$PKI/ca.crt")
for crd in sandboxes.agents.x-k8s.io sandboxclaims.extensions.agents.x-k8s.io \
  sandboxtemplates.extensions.agents.x-k8s.io sandboxwarmpools.extensions.agents.x-k8s.io; do
  kc patch crd "$crd" --type=merge -p "{\"spec\":{\"conversion\":{\"strategy\":\"Webhook\",\"webhook\":{\"conversionReviewVersions\":[\"v1\"],\"clientConfig\":{\"service\":null,\"url\":\"https://127.0.0.1:9443/convert\",\"caBundle\":\"$CA_B64\"}}}}}" >/dev/null
done
kc wait --for=condition=Established --timeout=60s crd --all >/dev/null
kc create namespace agent-sandbox-system >/dev/null

# 4. kube-controller-manager: garbage collection (claim deletes cascade),
#    namespaces and service accounts.
step "4. kube-controller-manager"
start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$KUBECONFIG_FILE" \
  --controllers=garbagecollector,namespace,serviceaccount,serviceaccount-token \
  --leader-elect=false --bind-address=127.0.0.1 --secure-port=10257 \
  --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
  --use-service-account-credentials=false

# 5. agent-sandbox controller with the extensions.
step "5. agent-sandbox-controller"
start agent-sandbox-controller "$BIN/agent-sandbox-controller" --kubeconfig="$KUBECONFIG_FILE" \
  --extensions=true --leader-elect=false --manage-webhook-certs=false \
  --webhook-cert-dir="$PKI/webhook" --metrics-bind-address=127.0.0.1:18080 \
  --health-probe-bind-address=127.0.0.1:18081

# 6. kwok with one fake node on a loopback pod CIDR. Port-forwards follow the
#    ClusterPortForward in kwok-stages.yaml (the router pod) and the
#    PortForward objects podruntime keeps for sandbox pods (one forward per
#    port the pod listens on); pod logs follow the Logs objects it makes
#    (each pod's runtime output, in the CRI log format).
step "6. kwok"
kc apply -f "$ROOT/hack/cluster/node.yaml" >/dev/null
start kwok "$BIN/kwok" --kubeconfig="$KUBECONFIG_FILE" \
  --config="$KWOK_DIR/kustomize/stage/node/fast/node-initialize.yaml" \
  --config="$ROOT/hack/cluster/kwok-stages.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --node-ip=127.0.0.1 --node-port=10250 --server-address=127.0.0.1:10250 \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --cidr=127.0.1.0/24 --enable-crds=PortForward,Logs

# 7. the sandbox router, with its Pod cache and loopback pod IPs allowed.
step "7. sandbox-router"
start sandbox-router "$BIN/sandbox-router" --kubeconfig="$KUBECONFIG_FILE" --cache-enabled=true \
  --allow-loopback-pod-ip=true --http-bind-address="$ROUTER_ADDR:80" \
  --metrics-bind-address=127.0.0.1:18090 --health-probe-bind-address=127.0.0.1:18091

# 8. the runtime supervisor: one runtime per sandbox pod (the upstream python
#    runtime or sandboxd), each pod's output also in $LOG_DIR/pods (in the
#    CRI log format: what `kubectl logs` serves).
step "8. podruntime"
start podruntime "$CLUSTER_DIR/bin/podruntime" --kubeconfig="$KUBECONFIG_FILE" \
  --node=kwok-node-0 --runtime-dir="$AS_DIR/examples/python-runtime-sandbox" \
  --sandboxd="$BIN/sandboxd" --pods-dir="$CLUSTER_DIR/pods" --logs-dir="$LOG_DIR/pods" \
  --resolv-conf="$JAIL/resolv.conf"

# 9. the router's Service and pod, the Gateway and its route, the seed objects.
step "9. the router's pod, the Gateway and the seed objects"
wait_for "the default service account" 30 kc -n default get serviceaccount default
wait_for "kwok-node-0 to be Ready" 30 kc wait --for=condition=Ready --timeout=1s node/kwok-node-0
kc apply -f "$ROOT/hack/cluster/router.yaml" >/dev/null
kc -n default patch gateway external-http-gateway --subresource=status --type=merge \
  -p "{\"status\":{\"addresses\":[{\"type\":\"IPAddress\",\"value\":\"$ROUTER_ADDR\"}]}}" >/dev/null
wait_for "the agent-sandbox controller" 60 curl -fsS http://127.0.0.1:18081/readyz
wait_for "the sandbox router" 30 curl -fsS "http://$ROUTER_ADDR/healthz"
wait_for "the seed objects" 30 kc apply -f "$ROOT/hack/cluster/seed.yaml"
kc -n agent-sandbox-system wait --for=condition=Ready --timeout=30s pod/sandbox-router >/dev/null

cat >"$CLUSTER_DIR/env" <<ENV
export KUBECONFIG="$KUBECONFIG_FILE"
export PATH="$ROOT/bin:\$PATH"
ENV
log "cluster started in $((SECONDS - T0))s; running the smoke check"
step "the smoke check"
"$ROOT/hack/cluster/smoke.sh"
print_env
