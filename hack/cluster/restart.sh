#!/usr/bin/env bash
# Restarts one component of the running local cluster (for tests of
# resilience): stops it by its recorded PID (only if that PID is still the
# process that was started) and starts the same command line again under the
# same PID file. Usage: restart.sh NAME (e.g. kube-apiserver)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/hack/lib/cluster.sh"
name="${1:?usage: restart.sh NAME}"
pidfile=
for f in "$PID_DIR"/*-"$name".pid; do [ -f "$f" ] && pidfile=$f && break; done
[ -n "$pidfile" ] || die "no running component named $name"
stop_recorded "$pidfile" 15
mapfile -d '' cmd <"${pidfile%.pid}.cmd"
launch "$name" "$pidfile" "${cmd[@]}"
if [ "$name" = kube-apiserver ]; then
  wait_for "kube-apiserver" 60 kc get --raw /readyz
fi
log "restarted $name ($(cat "$pidfile"))"
