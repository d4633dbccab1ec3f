#!/usr/bin/env bash
# Stops the local cluster: every recorded process, in reverse start order
# (so the apiserver goes before etcd), SIGTERM first, then SIGKILL.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/hack/lib/cluster.sh"

stop_pid() { # name pid
  local name="$1" pid="$2" i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { log "stopped $name ($pid)"; return 0; }
    sleep 0.1
  done
  log "$name ($pid) ignored SIGTERM for 10s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

if compgen -G "$PID_DIR/*.pid" >/dev/null; then
  for f in $(ls -r "$PID_DIR"/*.pid); do
    name=$(basename "$f" .pid); name=${name#*-}
    stop_pid "$name" "$(cat "$f")"
    rm -f "$f"
  done
fi
rm -rf "$CLUSTER_DIR/pods" "$PID_DIR"/*.cmd
log "local cluster is down"
