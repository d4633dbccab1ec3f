# Shared state of the local cluster: paths, ports and process bookkeeping.
# shellcheck shell=bash
CLUSTER_DIR="${CLUSTER_DIR:-$ROOT/_output/cluster}"
PID_DIR="$CLUSTER_DIR/pids"
LOG_DIR="$CLUSTER_DIR/logs"
PKI="$CLUSTER_DIR/pki"
KUBECONFIG_FILE="$CLUSTER_DIR/kubeconfig"
JAIL="$CLUSTER_DIR/jail"
APISERVER_URL="https://127.0.0.1:6443"
ROUTER_ADDR=127.0.0.10
ADMIN_TOKEN_FILE="$PKI/admin.token"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# start NAME CMD...: start CMD in the background inside the resolv.conf jail
# (a private mount namespace whose /etc/resolv.conf points at loopback, so no
# component ever asks a resolver off this machine) and record its PID.
# unshare execs the command, so $! is the component's own PID.
# The command line is kept beside the PID file so hack/cluster/restart.sh can
# start the component again.
start() {
  local name="$1"; shift
  local n; n=$(find "$PID_DIR" -name '*.pid' | wc -l)
  local pidfile; pidfile="$PID_DIR/$(printf '%02d' "$n")-$name.pid"
  printf '%s\0' "$@" >"${pidfile%.pid}.cmd"
  launch "$name" "$pidfile" "$@"
}

# launch NAME PIDFILE CMD...: the jail and PID bookkeeping of start.
launch() {
  local name="$1" pidfile="$2"; shift 2
  nohup unshare --mount --propagation private \
    sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$JAIL/resolv.conf" "$@" \
    >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# wait_for DESCRIPTION SECONDS CMD...: retry CMD every 100ms until it succeeds.
wait_for() {
  local what="$1" secs="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      die "timed out after ${secs}s waiting for $what (logs: $LOG_DIR)"
    fi
    sleep 0.1
  done
}

# alive: every recorded process still runs.
alive() {
  local f
  compgen -G "$PID_DIR/*.pid" >/dev/null || return 1
  for f in "$PID_DIR"/*.pid; do kill -0 "$(cat "$f")" 2>/dev/null || return 1; done
}

kc() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }
