#!/usr/bin/env bash
# Restarts one component of the running local cluster (for tests of
# resilience): stops it by its recorded PID (only if that PID is still the
# process that was started) and starts the same command line again under the
# same PID file, in the node's namespaces for the node's daemons (kubelet,
# kube-proxy, containerd). Usage: restart.sh NAME [--crash] (e.g.
# kube-apiserver); --crash kills it with SIGKILL first, as a crash would.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/hack/lib/tools.sh"
source "$ROOT/hack/lib/cluster.sh"
source "$ROOT/hack/lib/node.sh"
BIN="$(cat "$CLUSTER_DIR/tools-bin" 2>/dev/null || tools_bin_dir)"
name="${1:?usage: restart.sh NAME}"
[ "$name" != node ] || die "the node's init cannot be restarted: it is the node"
pidfile=$(component_pidfile "$name") || die "no running component named $name"
if [ "${2:-}" = --crash ] && recorded_running "$pidfile" >/dev/null; then
  kill -KILL "$(cat "$pidfile")"
  log "killed $name ($(cat "$pidfile")) with SIGKILL"
fi
stop_recorded "$pidfile" 15
mapfile -d '' cmd <"${pidfile%.pid}.cmd"
if [ -f "${pidfile%.pid}.innode" ]; then
  node_launch "$name" "$pidfile" "${cmd[@]}"
else
  launch "$name" "$pidfile" "${cmd[@]}"
fi
case "$name" in
kube-apiserver) wait_for "kube-apiserver" 60 kc get --raw /readyz ;;
containerd) wait_for "containerd" 30 "$BIN/ctr" --address "$CONTAINERD_SOCK" version ;;
kubelet) wait_for "the kubelet" 30 in_node curl -fsS http://127.0.0.1:10248/healthz ;;
esac
log "restarted $name ($(cat "$pidfile"))"
