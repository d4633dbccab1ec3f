#!/usr/bin/env bash
# Restarts one component of the running local cluster (for tests of
# resilience): stops it by its recorded PID and starts the same command line
# again under the same PID file. Usage: restart.sh NAME (e.g. kube-apiserver)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/hack/lib/cluster.sh"
name="${1:?usage: restart.sh NAME}"
pidfile=$(ls "$PID_DIR"/*-"$name".pid 2>/dev/null | head -1)
[ -n "$pidfile" ] || die "no running component named $name"
pid=$(cat "$pidfile")
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$pid" 2>/dev/null || true
mapfile -d '' cmd <"${pidfile%.pid}.cmd"
launch "$name" "$pidfile" "${cmd[@]}"
if [ "$name" = kube-apiserver ]; then
  wait_for "kube-apiserver" 60 kc get --raw /readyz
fi
log "restarted $name ($(cat "$pidfile"))"
