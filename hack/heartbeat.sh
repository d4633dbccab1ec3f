#!/usr/bin/env bash
# heartbeat.sh WHAT CMD...: runs CMD and, while it runs, prints a line to
# stderr every 15 s ("still building WHAT: 30s"), so that a cold build never
# goes quiet for 20 s (a loaded machine's sleeps overrun: the margin). Exits
# with CMD's status.
set -uo pipefail
what=$1
shift
"$@" &
pid=$!
t0=$SECONDS
next=$((t0 + 15))
# By the clock, not by a count of sleeps: on a loaded machine each overruns.
while kill -0 "$pid" 2>/dev/null; do
  sleep 0.5
  if [ $SECONDS -ge $next ] && kill -0 "$pid" 2>/dev/null; then
    echo ">>    still building $what: $((SECONDS - t0))s" >&2
    next=$((SECONDS + 15))
  fi
done
wait "$pid"
