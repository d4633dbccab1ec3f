# Shared state of the local cluster: paths, ports and process bookkeeping.
# shellcheck shell=bash disable=SC2034 # the scripts that source this use the variables
CLUSTER_DIR="${CLUSTER_DIR:-$ROOT/_output/cluster}"
PID_DIR="$CLUSTER_DIR/pids"
LOG_DIR="$CLUSTER_DIR/logs"
PKI="$CLUSTER_DIR/pki"
KUBECONFIG_FILE="$CLUSTER_DIR/kubeconfig"
JAIL="$CLUSTER_DIR/jail"
# The node's link: a veth pair between this host's network namespace and
# the node's own. The API server listens on the host's end of it (the node
# and its pods reach it there; so do kubectl and the plugin), and the
# host routes the pod and Service ranges through the node's end.
HOST_LINK_IP=10.200.0.1
NODE_IP=10.200.0.2
HOST_LINK_DEV=sbx-node0
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
APISERVER_URL="https://$HOST_LINK_IP:6443"
# The router's Service (sandbox-router-svc) has this fixed ClusterIP; the
# Gateway's status points at it (hack/cluster/router.yaml).
ROUTER_IP=10.96.0.10
ROUTER_URL="http://$ROUTER_IP:8080"
NODE_NAME=sandbox-node
ADMIN_TOKEN_FILE="$PKI/admin.token"

log() { printf '%s %s\n' "$(date +%H:%M:%S.%2N)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Process bookkeeping. For each component, $PID_DIR holds:
#   NN-NAME.pid      its PID (NN is the start order);
#   NN-NAME.start    the start time of that PID: field 22 of /proc/PID/stat,
#                    in clock ticks since boot;
#   NN-NAME.cmdline  the command line launch ran (NUL-separated); the PID
#                    execs through nohup, unshare and sh, so /proc/PID/cmdline
#                    is always one of its tails, ending with the component's
#                    own command line once it runs;
#   NN-NAME.cmd      the component's own command line (NUL-separated), for
#                    hack/cluster/restart.sh.
# A PID is signalled only while its start time and command line still match
# the records: a PID that the kernel gave to another process is left alone.

# start NAME CMD...: start CMD in the background inside the resolv.conf jail
# (a private mount namespace whose /etc/resolv.conf points at loopback, so no
# component ever asks a resolver off this machine) and record its PID.
# unshare execs the command, so $! is the component's own PID.
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
  # shellcheck disable=SC2016 # $0 and $@ are expanded by sh -c
  local argv=(nohup unshare --mount --propagation private
    sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$JAIL/resolv.conf" "$@")
  "${argv[@]}" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  local pid=$!
  printf '%s\0' "${argv[@]}" >"${pidfile%.pid}.cmdline"
  # Empty when the process is already gone: then it is never signalled.
  proc_start_time "$pid" >"${pidfile%.pid}.start" || true
  echo "$pid" >"$pidfile"
}

# proc_start_time PID: prints the start time of PID (field 22 of
# /proc/PID/stat); fails when there is no such process or it is a zombie.
proc_start_time() {
  local stat f
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  # Field 2, the command name in parentheses, may hold spaces and ')':
  # fields 3 and on follow its last ')'.
  read -ra f <<<"${stat##*) }"
  [ "${f[0]:-}" != Z ] && [ -n "${f[19]:-}" ] || return 1
  echo "${f[19]}"
}

# proc_cmdline PID: the command line of PID, space-separated, cut at 120
# characters (for log lines).
proc_cmdline() {
  local -a argv
  mapfile -d '' argv 2>/dev/null <"/proc/$1/cmdline" || true
  local s="${argv[*]}"
  echo "${s:0:120}"
}

# recorded_name PIDFILE: the component name of a PID file (NN-NAME.pid).
recorded_name() {
  local name; name=$(basename "$1" .pid)
  echo "${name#*-}"
}

# component_pidfile NAME prints the PID file of the component NAME
# (NN-NAME.pid), or fails when none is recorded.
component_pidfile() {
  local f
  for f in "$PID_DIR"/*-"$1".pid; do [ -f "$f" ] && echo "$f" && return 0; done
  return 1
}

# recorded_running PIDFILE: succeeds when the PID recorded in PIDFILE is still
# the process launch started (same start time, and a command line that is a
# tail of the launched one, at least as long as the component's own). If
# not, prints why on stdout. The command line is checked again for up to 1s
# when the start time matches, as right after launch the PID may still be
# between two of its execs.
recorded_running() {
  local base="${1%.pid}" pid start now
  pid=$(cat "$1" 2>/dev/null) || { echo "no PID recorded"; return 1; }
  start=$(cat "$base.start" 2>/dev/null) || start=
  now=$(proc_start_time "$pid") || { echo "PID $pid is gone (the process exited)"; return 1; }
  if [ ! -f "$base.cmdline" ]; then
    # Recorded by an older version of these scripts: the command line is
    # all there is to compare.
    cmdline_is_tail "$pid" "$base.cmd" "$base.cmd" && return 0
    echo "PID $pid runs another command ($(proc_cmdline "$pid"))"
    return 1
  fi
  if [ "$now" != "$start" ]; then
    echo "PID $pid now belongs to another process (started at tick $now, not ${start:-unknown})"
    return 1
  fi
  local _
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    cmdline_is_tail "$pid" "$base.cmdline" "$base.cmd" && return 0
    sleep 0.1
  done
  echo "PID $pid runs another command ($(proc_cmdline "$pid"))"
  return 1
}

# cmdline_is_tail PID LAUNCHED OWN: /proc/PID/cmdline is a tail of the
# NUL-separated command line in file LAUNCHED, at least as long as the one
# in file OWN.
cmdline_is_tail() {
  local -a got launched own
  mapfile -d '' got 2>/dev/null <"/proc/$1/cmdline" || return 1
  mapfile -d '' launched <"$2" || return 1
  mapfile -d '' own <"$3" || return 1
  local n=${#got[@]} m=${#launched[@]} i
  [ "$n" -ge "${#own[@]}" ] && [ "$n" -le "$m" ] && [ "$n" -gt 0 ] || return 1
  for ((i = 0; i < n; i++)); do
    [ "${got[i]}" = "${launched[m - n + i]}" ] || return 1
  done
}

# stop_recorded PIDFILE [SECONDS]: stops the process recorded in PIDFILE if
# it is still the one that was started (else logs why it is skipped):
# SIGTERM, then SIGKILL after SECONDS (default 10). Removes nothing.
stop_recorded() {
  local name pid start why _ grace="${2:-10}"
  name=$(recorded_name "$1")
  pid=$(cat "$1" 2>/dev/null) || pid=
  if ! why=$(recorded_running "$1"); then
    log "not signalling $name: $why"
    return 0
  fi
  start=$(proc_start_time "$pid") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((grace * 10))); do
    [ "$(proc_start_time "$pid")" = "$start" ] || { log "stopped $name ($pid)"; return 0; }
    sleep 0.1
  done
  if [ "$(proc_start_time "$pid")" = "$start" ]; then
    log "$name ($pid) ignored SIGTERM for ${grace}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do
      [ "$(proc_start_time "$pid")" = "$start" ] || return 0
      sleep 0.1
    done
  fi
}

# forget_recorded PIDFILE: removes the records of one component.
forget_recorded() {
  local base="${1%.pid}"
  rm -f "$base.pid" "$base.start" "$base.cmdline" "$base.cmd"
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

# alive: every recorded process still runs (and is the one that was started).
alive() {
  local f
  compgen -G "$PID_DIR/*.pid" >/dev/null || return 1
  for f in "$PID_DIR"/*.pid; do recorded_running "$f" >/dev/null || return 1; done
}

kc() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# api PATH: GET PATH from the API server as the admin, by curl: what the
# start polls every 0.1 s (each kubectl would start a 57 MB binary and take
# the CPU that the starting cluster needs).
api() {
  curl -fsS --max-time 5 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $(<"$ADMIN_TOKEN_FILE")" "$APISERVER_URL$1"
}
