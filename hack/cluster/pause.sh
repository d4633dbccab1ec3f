#!/usr/bin/env bash
# Pauses or resumes one component of the running local cluster (for tests
# that need a controller to fall behind): SIGSTOP or SIGCONT to its
# recorded PID, only if that PID is still the process that was started.
# Usage: pause.sh NAME stop|cont (e.g. agent-sandbox-controller). Only
# components started without leader election may be paused: a stopped
# leader would lose its lease.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/hack/lib/cluster.sh"
name="${1:?usage: pause.sh NAME stop|cont}"
case "${2:-}" in
stop) sig=STOP ;;
cont) sig=CONT ;;
*) die "usage: pause.sh NAME stop|cont" ;;
esac
pidfile=$(component_pidfile "$name") || die "no running component named $name"
why=$(recorded_running "$pidfile") || die "$name: $why"
kill -"$sig" "$(cat "$pidfile")"
log "sent SIG$sig to $name ($(cat "$pidfile"))"
