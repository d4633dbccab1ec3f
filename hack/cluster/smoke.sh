#!/usr/bin/env bash
# Smoke check of the local cluster: a claim on each seed pool becomes Ready
# (the warm one adopting a pool sandbox with a different name), a
# POST /execute through the Gateway address reaches the upstream runtime, and
# deleting the claim cascades to its Sandbox.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/hack/lib/cluster.sh"

kc -n default wait --for=jsonpath='{.status.readyReplicas}'=2 --timeout=60s sandboxwarmpool/python >/dev/null
gw=$(kc -n default get gateway external-http-gateway -o jsonpath='{.status.addresses[0].value}')
[ -n "$gw" ] || die "smoke: the Gateway has no address"
for pool in python python-cold; do
  claim="smoke-$pool-$(openssl rand -hex 3)"
  kc -n default create -f - >/dev/null <<YAML
apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxClaim
metadata:
  name: $claim
  labels: {app.kubernetes.io/managed-by: cluster-smoke}
spec:
  warmPoolRef: {name: $pool}
YAML
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
  log "smoke: pool $pool: claim $claim -> sandbox $sandbox answered through the Gateway at $gw"
done
# Reading a v1alpha1 view goes through the conversion webhook on loopback.
kc -n default get sandboxwarmpools.v1alpha1.extensions.agents.x-k8s.io python -o name >/dev/null 2>&1 ||
  die "smoke: the agent-sandbox conversion webhook does not answer"
log "smoke: conversion webhook answers"
