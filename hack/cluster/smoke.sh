#!/usr/bin/env bash
# Smoke check of the local cluster, three checks at once: a claim on each
# seed python pool becomes Ready (the warm one adopting a pool sandbox with a
# different name), a POST /execute through the Gateway address reaches the
# upstream runtime, and deleting the claim cascades to its Sandbox; a claim
# on the sandboxd pool: a `kubectl port-forward` to its pod's port 8080
# reaches sandboxd (health, and a file PUT and read back), and deleting the
# claim cascades to its Sandbox. Also: the conversion webhook answers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/hack/lib/cluster.sh"

# router_addr: the open router's HOST:PORT: the Gateway's (Traefik's
# listener) when the cluster runs Traefik, else the router Service's.
router_addr() {
  if [ -f "$CLUSTER_DIR/gateway" ]; then
    kc -n default get gateway external-http-gateway -o jsonpath='{.status.addresses[0].value}:{.spec.listeners[0].port}'
  else
    echo "${ROUTER_URL#http://}"
  fi
}

# new_claim POOL: creates a claim on POOL and prints its name.
new_claim() {
  local claim="smoke-$1-$(openssl rand -hex 3)"
  kc -n default create -f - >/dev/null <<YAML
apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxClaim
metadata:
  name: $claim
  labels: {app.kubernetes.io/managed-by: cluster-smoke}
spec:
  warmPoolRef: {name: $1}
YAML
  echo "$claim"
}

# python_pool POOL: the python runtime of a claim on POOL answers through
# the Gateway's address.
python_pool() {
  local pool="$1" claim sandbox out gw
  [ "$pool" = python ] &&
    kc -n default wait --for=jsonpath='{.status.readyReplicas}'=2 --timeout=60s sandboxwarmpool/python >/dev/null
  gw=$(router_addr)
  [ "${gw%:*}" != "" ] || die "smoke: the Gateway has no address"
  claim=$(new_claim "$pool")
  trap 'kc -n default delete sandboxclaim "$claim" --ignore-not-found --wait=false >/dev/null 2>&1' EXIT
  kc -n default wait --for=condition=Ready --timeout=60s "sandboxclaim/$claim" >/dev/null ||
    die "smoke: claim $claim on pool $pool did not become Ready"
  sandbox=$(kc -n default get sandboxclaim "$claim" -o jsonpath='{.status.sandbox.name}')
  if [ "$pool" = python ] && [ "$sandbox" = "$claim" ]; then
    die "smoke: claim $claim on the warm pool was not given a warm sandbox"
  fi
  out=$(curl -sS --max-time 20 -X POST "http://$gw/execute" -H "X-Sandbox-ID: $sandbox" \
    -H "X-Sandbox-Namespace: default" -H "Content-Type: application/json" \
    -d '{"command":"echo smoke-ok"}')
  [ "$out" = '{"stdout":"smoke-ok\n","stderr":"","exit_code":0}' ] ||
    die "smoke: unexpected /execute answer through the Gateway for $sandbox: $out"
  kc -n default delete sandboxclaim "$claim" --wait=true --timeout=60s >/dev/null
  kc -n default wait --for=delete --timeout=60s "sandbox/$sandbox" >/dev/null ||
    die "smoke: deleting claim $claim did not cascade to sandbox $sandbox"
  trap - EXIT
  log "smoke: pool $pool: claim $claim -> sandbox $sandbox answered through $gw"
}

# sandboxd_pool: through the API server's port-forward (the kubelet's and
# containerd's streaming server, inside the pod's network namespace).
sandboxd_pool() {
  kc -n default wait --for=jsonpath='{.status.readyReplicas}'=2 --timeout=60s sandboxwarmpool/sandboxd >/dev/null
  local claim sandbox pod port tmp pf=
  claim=$(new_claim sandboxd)
  tmp=$(mktemp -d "$CLUSTER_DIR/smoke.XXXXXX")
  # shellcheck disable=SC2064 # expanded now: the names are fixed
  trap "[ -z \"\$pf\" ] || kill \"\$pf\" 2>/dev/null; kc -n default delete sandboxclaim $claim --ignore-not-found --wait=false >/dev/null 2>&1; rm -rf $tmp" EXIT
  kc -n default wait --for=condition=Ready --timeout=60s "sandboxclaim/$claim" >/dev/null ||
    die "smoke: claim $claim on pool sandboxd did not become Ready"
  sandbox=$(kc -n default get sandboxclaim "$claim" -o jsonpath='{.status.sandbox.name}')
  # The pod is named after the Sandbox, unless the Sandbox names another one.
  pod=$(kc -n default get sandbox "$sandbox" -o jsonpath='{.metadata.annotations.agents\.x-k8s\.io/pod-name}')
  pod=${pod:-$sandbox}
  # kubectl itself, not the kc function: $! must be kubectl's PID.
  kubectl --kubeconfig "$KUBECONFIG_FILE" -n default port-forward "pod/$pod" :8080 >"$tmp/pf.log" 2>&1 &
  pf=$!
  port=
  for _ in $(seq 1 100); do
    port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) -> 8080$/\1/p' "$tmp/pf.log")
    [ -z "$port" ] || break
    kill -0 "$pf" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || die "smoke: kubectl port-forward pod/$pod :8080 did not start: $(cat "$tmp/pf.log")"
  local health
  health=$(curl -sS --max-time 20 "http://127.0.0.1:$port/v1/health") ||
    die "smoke: GET /v1/health through the port-forward to pod $pod failed"
  case "$health" in
  '{"status":"ok"'*) ;;
  *) die "smoke: unexpected /v1/health answer from pod $pod: $health" ;;
  esac
  head -c 1048576 /dev/urandom >"$tmp/data"
  curl -sS --fail-with-body --max-time 20 -X PUT --data-binary "@$tmp/data" \
    "http://127.0.0.1:$port/v1/files/smoke/data.bin" >/dev/null ||
    die "smoke: PUT /v1/files/smoke/data.bin through the port-forward to pod $pod failed"
  curl -sS --fail --max-time 20 -o "$tmp/back" "http://127.0.0.1:$port/v1/files/smoke/data.bin" ||
    die "smoke: GET /v1/files/smoke/data.bin through the port-forward to pod $pod failed"
  cmp -s "$tmp/data" "$tmp/back" || die "smoke: the file read back from pod $pod differs from the one written"
  kill "$pf" 2>/dev/null || true
  wait "$pf" 2>/dev/null || true
  pf=
  kc -n default delete sandboxclaim "$claim" --wait=true --timeout=60s >/dev/null
  kc -n default wait --for=delete --timeout=60s "sandbox/$sandbox" >/dev/null ||
    die "smoke: deleting claim $claim did not cascade to sandbox $sandbox"
  rm -rf "$tmp"
  trap - EXIT
  log "smoke: pool sandboxd: claim $claim -> pod $pod: sandboxd answered through kubectl port-forward (health, 1 MiB PUT/GET)"
}

# gvisor: when the cluster has gVisor, a claim on python-gvisor runs in
# gVisor's kernel: its /proc/version is gVisor's, not this host's.
gvisor() {
  local claim sandbox out gw want
  gw=$(router_addr)
  claim=$(new_claim python-gvisor)
  trap 'kc -n default delete sandboxclaim "$claim" --ignore-not-found --wait=false >/dev/null 2>&1' EXIT
  kc -n default wait --for=condition=Ready --timeout=90s "sandboxclaim/$claim" >/dev/null ||
    die "smoke: claim $claim on pool python-gvisor did not become Ready"
  sandbox=$(kc -n default get sandboxclaim "$claim" -o jsonpath='{.status.sandbox.name}')
  out=$(curl -sS --max-time 20 -X POST "http://$gw/execute" -H "X-Sandbox-ID: $sandbox" \
    -H "X-Sandbox-Namespace: default" -H "Content-Type: application/json" \
    -d '{"command":"cat /proc/version"}')
  want=$(cat /proc/version)
  case "$out" in
  *'"exit_code":0}') ;;
  *) die "smoke: unexpected /execute answer from gVisor sandbox $sandbox: $out" ;;
  esac
  [[ $out != *"${want:0:40}"* ]] || die "smoke: sandbox $sandbox of python-gvisor sees the host's kernel: $out"
  kc -n default delete sandboxclaim "$claim" --wait=false >/dev/null
  trap - EXIT
  log "smoke: pool python-gvisor: sandbox $sandbox runs in gVisor's kernel: ${out:11:60}"
}

# gateways: Traefik serves the Gateways' HTTPS listeners with the Gateway's
# CA, and the tokenreview router behind its Gateway refuses a request
# without a token (401) and lets the admin's token through.
gateways() {
  local code deadline=$((SECONDS + 60))
  # status CURL_ARGS...: the HTTP status of a request, asked again while it
  # is 503: Traefik has no ready endpoint until the router's pod is ready
  # and Traefik has read its EndpointSlice, which may come after the
  # Gateway is Programmed (a CI run met it).
  status() {
    local c
    while c=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$@") && [ "$c" = 503 ] && [ $SECONDS -lt $deadline ]; do
      sleep 0.2
    done
    echo "$c"
  }
  code=$(status --cacert "$PKI/gateway-ca.crt" "https://$HOST_LINK_IP:443/healthz")
  [ "$code" = 200 ] || die "smoke: https://$HOST_LINK_IP:443/healthz through external-http-gateway answered $code, not 200"
  code=$(status -H "X-Sandbox-ID: none" -X POST "http://$HOST_LINK_IP:8081/execute")
  [ "$code" = 401 ] || die "smoke: the tokenreview router answered $code, not 401, to a request without a token"
  code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "X-Sandbox-ID: none" -H "Authorization: Bearer $(cat "$ADMIN_TOKEN_FILE")" \
    -X POST "http://$HOST_LINK_IP:8081/execute")
  [ "$code" != 401 ] || die "smoke: the tokenreview router refused the admin's token"
  log "smoke: Gateways programmed by Traefik: https with the Gateway's CA; the tokenreview router: 401 without a token, $code with one"
}

# Reading a v1alpha1 view goes through the conversion webhook on loopback.
webhook() {
  kc -n default get sandboxwarmpools.v1alpha1.extensions.agents.x-k8s.io python -o name >/dev/null 2>&1 ||
    die "smoke: the agent-sandbox conversion webhook does not answer"
  log "smoke: conversion webhook answers"
}

pids=()
checks=("python_pool python" "python_pool python-cold" sandboxd_pool webhook)
! kc get runtimeclass gvisor >/dev/null 2>&1 || checks+=(gvisor)
[ ! -f "$CLUSTER_DIR/gateway" ] || checks+=(gateways)
for check in "${checks[@]}"; do
  # shellcheck disable=SC2086 # a function and its argument
  ( $check ) &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ "$failed" = 0 ] || die "smoke: a check failed (above)"
