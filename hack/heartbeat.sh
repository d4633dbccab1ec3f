#!/usr/bin/env bash
# heartbeat.sh WHAT CMD...: runs CMD and, while it runs, prints a line to
# stderr every 20 s ("still building WHAT: 40s"), so that a cold build never
# goes quiet for longer. Exits with CMD's status.
set -uo pipefail
what=$1
shift
"$@" &
pid=$!
t0=$SECONDS
while kill -0 "$pid" 2>/dev/null; do
  for ((i = 0; i < 40; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  ! kill -0 "$pid" 2>/dev/null || echo ">>    still building $what: $((SECONDS - t0))s" >&2
done
wait "$pid"
