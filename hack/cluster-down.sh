#!/usr/bin/env bash
# Stops the local cluster: every recorded process, in reverse start order
# (so the apiserver goes before etcd, the kubelet before containerd),
# SIGTERM first, then SIGKILL. A PID is signalled only if it is still the
# process that was started (same start time and command line as recorded,
# see hack/lib/cluster.sh); a process that is gone, or a PID now used by
# another process, is skipped with a log line. Before containerd stops,
# every pod sandbox and container of the node is removed from it; the node's
# init goes last, ending every process left in its namespaces; then what the
# node made outside them (its link and routes, its cgroups) is removed
# (hack/lib/node.sh). Prints what containerd kept ("0 containers, 0 tasks").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/hack/lib/tools.sh"
source "$ROOT/hack/lib/cluster.sh"
source "$ROOT/hack/lib/node.sh"
BIN="$(cat "$CLUSTER_DIR/tools-bin" 2>/dev/null || tools_bin_dir)"

pidfiles=()
if [ -d "$PID_DIR" ]; then
  shopt -s nullglob
  pidfiles=("$PID_DIR"/*.pid)
  shopt -u nullglob
fi
containerd=
for f in "${pidfiles[@]}"; do
  [ "$(recorded_name "$f")" = containerd ] && containerd=$f
done
removed=
for ((i = ${#pidfiles[@]} - 1; i >= 0; i--)); do
  name=$(recorded_name "${pidfiles[i]}")
  # The pods go once the kubelet cannot start them again, before the API
  # server stops: their connections to it end first.
  if [ -z "$removed" ] && { [ "$name" = containerd ] || [ "$name" = kube-apiserver ]; } &&
    [ -n "$containerd" ] && recorded_running "$containerd" >/dev/null; then
    log "containerd keeps $(node_remove_pods) of the node"
    removed=1
  fi
  stop_recorded "${pidfiles[i]}"
  forget_recorded "${pidfiles[i]}"
done
node_down
if [ -d "$PID_DIR" ]; then
  rm -f "$PID_DIR"/*.cmd "$PID_DIR"/*.cmdline "$PID_DIR"/*.start "$PID_DIR"/*.innode
fi
log "local cluster is down"
