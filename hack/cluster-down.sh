#!/usr/bin/env bash
# Stops the local cluster: every recorded process, in reverse start order
# (so the apiserver goes before etcd), SIGTERM first, then SIGKILL. A PID is
# signalled only if it is still the process that was started (same start
# time and command line as recorded, see hack/lib/cluster.sh); a process
# that is gone, or a PID now used by another process, is skipped with a log
# line.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/hack/lib/cluster.sh"

pidfiles=()
if [ -d "$PID_DIR" ]; then
  shopt -s nullglob
  pidfiles=("$PID_DIR"/*.pid)
  shopt -u nullglob
fi
for ((i = ${#pidfiles[@]} - 1; i >= 0; i--)); do
  stop_recorded "${pidfiles[i]}"
  forget_recorded "${pidfiles[i]}"
done
rm -rf "$CLUSTER_DIR/pods"
if [ -d "$PID_DIR" ]; then
  rm -f "$PID_DIR"/*.cmd "$PID_DIR"/*.cmdline "$PID_DIR"/*.start
fi
log "local cluster is down"
