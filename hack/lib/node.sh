# The local cluster's node: a real kubelet, containerd, runc, a CNI bridge
# and kube-proxy, run the way Kubernetes' own hack/local-up-cluster.sh runs
# them (local processes, containerd as the runtime), but inside namespaces
# of their own so that nothing they do reaches this machine:
#
#   - a PID namespace whose init is the pause binary: when it ends, the
#     kernel ends every process of the node (daemons, shims, containers);
#   - a mount namespace: /run is a tmpfs, /var an overlay whose upper layer
#     is in $NODE_DIR, /etc/resolv.conf the cluster's jail resolver; every
#     container mount lives and dies there;
#   - a network namespace joined to the host by one veth pair
#     ($HOST_LINK_DEV, $HOST_LINK_IP <-> $NODE_IP): the kubelet's and
#     kube-proxy's iptables rules, the CNI bridge and the pods' interfaces
#     are all in it;
#   - a UTS namespace (the node's hostname).
#
# What is made outside them, and removed by node_down: the veth pair and
# the two routes through it (pod and Service ranges), and the cgroups under
# $CGROUP_ROOT in each cgroup hierarchy (the kubelet's cgroupRoot).
#
# Sourced after hack/lib/cluster.sh. Uses $BIN (the cluster tools).
# shellcheck shell=bash disable=SC2034
NODE_DIR="$CLUSTER_DIR/node"
# containerd's root (its images and snapshots) outlives the cluster, so
# that a warm start imports nothing; its containers do not (node_down).
CONTAINERD_ROOT="$CLUSTER_DIR/containerd"
CONTAINERD_SOCK="$NODE_DIR/containerd.sock"
CGROUP_ROOT=kubectl-sandbox
CNI_BIN_DIR=/usr/lib/cni # Debian's containernetworking-plugins
# The images the node runs, built here (hack/build-images.sh) and imported
# into containerd; never pulled (local.test is a reserved name: a pull
# fails at once).
IMAGE_REPO=local.test/agent-sandbox
PAUSE_IMAGE=local.test/pause:3.10
# The kubelet wants these host-wide kernel settings and would set them;
# node_up shows it these values in the node's own /proc instead, so the
# machine's settings stay as they are.
KUBELET_SYSCTLS="vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000"

# node_init_pid: the host PID of the node's init (its PID namespace's
# PID 1), or nothing.
node_init_pid() {
  local f
  for f in "$PID_DIR"/*-node.pid; do
    [ -f "$f" ] && recorded_running "$f" >/dev/null && cat "$f" && return 0
  done
  return 1
}

# in_node CMD...: runs CMD in the node's namespaces (a short-lived helper,
# not a daemon: see node_start).
in_node() {
  local init; init=$(node_init_pid) || die "the node is not running"
  nsenter -t "$init" -m -n -u -p -- "$@"
}

# node_start NAME CMD...: starts a daemon of the node in its namespaces and
# records its PID (the daemon's own, seen from the host) for
# hack/cluster-down.sh and hack/cluster/restart.sh.
node_start() {
  local name="$1"; shift
  local n; n=$(find "$PID_DIR" -name '*.pid' | wc -l)
  local pidfile; pidfile="$PID_DIR/$(printf '%02d' "$n")-$name.pid"
  printf '%s\0' "$@" >"${pidfile%.pid}.cmd"
  : >"${pidfile%.pid}.innode"
  node_launch "$name" "$pidfile" "$@"
}

# node_launch NAME PIDFILE CMD...: the launch of node_start. nsenter forks
# to enter the PID namespace; its child is the daemon, whose PID is the one
# recorded and signalled (nsenter passes no signal on).
node_launch() {
  local name="$1" pidfile="$2"; shift 2
  local init; init=$(node_init_pid) || die "the node is not running"
  nohup nsenter -t "$init" -m -n -u -p -- "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  local outer=$! pid= _
  for _ in $(seq 1 50); do
    pid=$(pgrep -P "$outer" | head -1) && [ -n "$pid" ] && break
    sleep 0.02
  done
  [ -n "$pid" ] || die "$name did not start (log: $LOG_DIR/$name.log)"
  printf '%s\0' "$@" >"${pidfile%.pid}.cmdline"
  proc_start_time "$pid" >"${pidfile%.pid}.start" || true
  echo "$pid" >"$pidfile"
}

# node_up: the node's namespaces, its link to the host, its file system
# view and its configuration (the daemons start later: node_start).
node_up() {
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"/{var/upper,var/work,kubelet,pod-logs,cni,sysctl,volume-plugins,certs} "$CONTAINERD_ROOT"
  # The node's init: pause reaps the orphans of the node's PID namespace
  # (shims re-parent to it) and ends on SIGTERM, taking the node with it.
  local n; n=$(find "$PID_DIR" -name '*.pid' | wc -l)
  local pidfile; pidfile="$PID_DIR/$(printf '%02d' "$n")-node.pid"
  nohup unshare --fork --pid --mount-proc --mount --propagation private --net --uts -- \
    "$BIN/pause" >>"$LOG_DIR/node.log" 2>&1 </dev/null &
  local outer=$! pid= _
  for _ in $(seq 1 50); do
    pid=$(pgrep -P "$outer" | head -1) && [ -n "$pid" ] && break
    sleep 0.02
  done
  [ -n "$pid" ] || die "the node's namespaces did not start (log: $LOG_DIR/node.log)"
  printf '%s\0' "$BIN/pause" >"${pidfile%.pid}.cmd"
  printf '%s\0' "$BIN/pause" >"${pidfile%.pid}.cmdline"
  proc_start_time "$pid" >"${pidfile%.pid}.start"
  echo "$pid" >"$pidfile"

  # The file system view: nothing the node writes lands outside $NODE_DIR
  # and $CONTAINERD_ROOT (the kubelet and containerd also write to fixed
  # paths under /run and /var).
  local kv sysctls=()
  mkdir -p "$NODE_DIR/sysctl/vm" "$NODE_DIR/sysctl/kernel/keys"
  for kv in $KUBELET_SYSCTLS; do
    echo "${kv#*=}" >"$NODE_DIR/sysctl/${kv%%=*}"
    sysctls+=("${kv%%=*}")
  done
  # shellcheck disable=SC2016 # expanded by the node's sh
  nsenter -t "$pid" -m -u -- sh -ec '
    hostname "$1"
    mount -t tmpfs -o mode=755 tmpfs /run
    mkdir -p /run/containerd /run/lock
    mount -t overlay overlay -o "lowerdir=/var,upperdir=$2/var/upper,workdir=$2/var/work" /var
    mount --bind "$3" /etc/resolv.conf
    for f in $4; do mount --bind "$2/sysctl/$f" "/proc/sys/$f"; done
  ' sh "$NODE_NAME" "$NODE_DIR" "$JAIL/resolv.conf" "${sysctls[*]}"

  # The kubelet's cgroupRoot, in each cgroup v1 hierarchy (the kubelet
  # makes the pods' cgroups under it, but not the root itself).
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -f "$h/cgroup.procs" ] || continue
    mkdir -p "$h$CGROUP_ROOT"
    if [ -f "$h/cpuset.cpus" ]; then
      cat "$h/cpuset.cpus" >"$h$CGROUP_ROOT/cpuset.cpus"
      cat "$h/cpuset.mems" >"$h$CGROUP_ROOT/cpuset.mems"
    fi
  done

  # The link.
  ip link add "$HOST_LINK_DEV" type veth peer name eth0 netns "$pid"
  ip addr add "$HOST_LINK_IP/30" dev "$HOST_LINK_DEV"
  ip link set "$HOST_LINK_DEV" up
  nsenter -t "$pid" -n -- sh -ec '
    ip link set lo up
    ip addr add "$1/30" dev eth0
    ip link set eth0 up
    ip route add default via "$2"
    echo 1 >/proc/sys/net/ipv4/ip_forward
  ' sh "$NODE_IP" "$HOST_LINK_IP"
  ip route add "$POD_CIDR" via "$NODE_IP" dev "$HOST_LINK_DEV"
  ip route add "$SERVICE_CIDR" via "$NODE_IP" dev "$HOST_LINK_DEV"
  node_config
}

# node_config writes the configuration of containerd, the CNI bridge, the
# kubelet and kube-proxy.
node_config() {
  cat >"$NODE_DIR/containerd.toml" <<TOML
version = 3
root = "$CONTAINERD_ROOT"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_DIR/opt"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "$PAUSE_IMAGE"

[plugins."io.containerd.cri.v1.runtime"]
  # root here lacks CAP_SYS_RESOURCE: no process may lower its OOM score.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["$CNI_BIN_DIR"]
    conf_dir = "$NODE_DIR/cni"
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "$BIN/runc"
        SystemdCgroup = false
TOML
  # gVisor (the RuntimeClass gvisor), when cluster-up built it (GVISOR_BIN):
  # one shim per container (gVisor's grouped mode left containers it could
  # not remove here).
  if [ -n "${GVISOR_BIN:-}" ]; then
    cat >>"$NODE_DIR/containerd.toml" <<TOML
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runsc]
      runtime_type = "io.containerd.runsc.v1"
      runtime_path = "$GVISOR_BIN/containerd-shim-runsc-v1"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runsc.options]
        TypeUrl = "io.containerd.runsc.v1.options"
        ConfigPath = "$NODE_DIR/runsc.toml"
TOML
    # runsc's options: systrap (no /dev/kvm here), gVisor's own network
    # stack in the pod's namespace (as GKE Sandbox runs it).
    cat >"$NODE_DIR/runsc.toml" <<TOML
binary_name = "$GVISOR_BIN/runsc"
[runsc_config]
  platform = "systrap"
TOML
  fi
  cat >"$NODE_DIR/cni/10-bridge.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "sandbox-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
  cat >"$NODE_DIR/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1 (hybrid); Kubernetes 1.35+ needs this to run
# there at all (KEP-5573). No systemd: the cgroupfs driver, with the pods'
# cgroups under a root of the node's own.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
podLogsDir: $NODE_DIR/pod-logs
volumePluginDir: $NODE_DIR/volume-plugins
resolvConf: $JAIL/resolv.conf
clusterDomain: cluster.local
failSwapOn: false
# The images are built here and never pulled: keep them whatever the disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
serializeImagePulls: false
maxPods: 250
YAML
  cat >"$NODE_DIR/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $CLUSTER_DIR/kube-proxy.kubeconfig
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
iptables:
  # Pod -> Service -> pod on the same bridge needs the reply to come back
  # through the node: masquerade all Service traffic.
  masqueradeAll: true
  syncPeriod: 10s
  minSyncPeriod: 0s
conntrack:
  # The conntrack table size and timeouts are host-wide settings: left
  # as they are.
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
YAML
}

# node_daemons starts containerd (and imports the images), the kubelet and
# kube-proxy. Needs the API server.
node_containerd() {
  node_start containerd "$BIN/containerd" --config "$NODE_DIR/containerd.toml"
  wait_for "containerd" 30 "$BIN/ctr" --address "$CONTAINERD_SOCK" version
}

node_kubelet() {
  node_start kubelet "$BIN/kubelet" --config="$NODE_DIR/kubelet.yaml" \
    --kubeconfig="$CLUSTER_DIR/kubelet.kubeconfig" --root-dir="$NODE_DIR/kubelet" \
    --cert-dir="$NODE_DIR/certs" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" \
    --runtime-cgroups="" --v=1
  node_start kube-proxy "$BIN/kube-proxy" --config="$NODE_DIR/kube-proxy.yaml"
}

# ctr_k8s ARGS...: ctr on the node's containerd, in the CRI's namespace.
ctr_k8s() { "$BIN/ctr" --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }

# node_remove_pods: with the kubelet stopped, kills and removes every task,
# container and pod sandbox containerd holds for the CRI, so that none is
# left when the node goes; prints how many containers and tasks are left.
node_remove_pods() {
  local id tasks containers sandboxes
  mapfile -t tasks < <(ctr_k8s tasks ls -q 2>/dev/null)
  for id in "${tasks[@]}"; do
    ctr_k8s tasks kill -s SIGKILL "$id" >/dev/null 2>&1 &
  done
  wait
  [ ${#tasks[@]} -eq 0 ] || ctr_k8s tasks rm -f "${tasks[@]}" >/dev/null 2>&1 || true
  mapfile -t containers < <(ctr_k8s containers ls -q 2>/dev/null)
  [ ${#containers[@]} -eq 0 ] || ctr_k8s containers rm "${containers[@]}" >/dev/null 2>&1 || true
  mapfile -t sandboxes < <(ctr_k8s sandboxes ls -q 2>/dev/null)
  [ ${#sandboxes[@]} -eq 0 ] || ctr_k8s sandboxes rm -f "${sandboxes[@]}" >/dev/null 2>&1 || true
  local c t
  c=$(ctr_k8s containers ls -q 2>/dev/null | grep -c . || true)
  t=$(ctr_k8s tasks ls -q 2>/dev/null | grep -c . || true)
  echo "$c containers, $t tasks"
}

# node_cgroups: the cgroup folders of the node (its cgroupRoot in each
# hierarchy), deepest first.
node_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/"$CGROUP_ROOT" /sys/fs/cgroup/"$CGROUP_ROOT"; do
    [ -d "$d" ] && find "$d" -depth -type d
  done
  return 0
}

# node_down removes what node_up made outside the node's namespaces, once
# its init is gone: the processes left in the node's cgroups (none, unless
# the init was lost) and the cgroups themselves, the link and its routes
# (they go with the node's network namespace; removed here if left), and the
# node's files. Does nothing for a cluster folder that has no node.
node_down() {
  [ -d "$NODE_DIR" ] || return 0
  local _ d left pid
  for _ in $(seq 1 100); do
    left=
    while read -r d; do
      [ -n "$d" ] || continue
      if ! rmdir "$d" 2>/dev/null; then
        left=1
        while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$d/cgroup.procs"
      fi
    done < <(node_cgroups)
    [ -z "$left" ] && break
    sleep 0.1
  done
  [ -z "$left" ] || log "error: cgroups left under $CGROUP_ROOT: $(node_cgroups | head -3 | tr '\n' ' ')"
  if ip link show "$HOST_LINK_DEV" >/dev/null 2>&1; then
    ip link del "$HOST_LINK_DEV" || true
  fi
  ip route del "$POD_CIDR" via "$NODE_IP" 2>/dev/null || true
  ip route del "$SERVICE_CIDR" via "$NODE_IP" 2>/dev/null || true
  rm -rf "$NODE_DIR"
}
