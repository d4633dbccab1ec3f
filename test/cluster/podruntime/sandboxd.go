package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// Sandbox pods come in two kinds:
//
//   - python: the upstream python runtime (examples/python-runtime-sandbox),
//     listening on the pod's IP, port 8888, with a private /app. The router
//     reaches it by pod IP; port-forwards relay to the pod's IP (see
//     ports.go).
//   - sandboxd: the upstream sandboxd daemon (packages/sandboxd), in the
//     pod's own network namespace (so that, as in a real pod, it listens on
//     the pod's 127.0.0.1:9090 and :8080 and nothing outside the pod reaches
//     it), with a private /workspace. It is reached through the API server's
//     pods/portforward: podruntime creates, per pod, a kwok PortForward object
//     named like the pod whose command is `podruntime relay`, which enters the
//     pod's network namespace and relays the stream to 127.0.0.1:<port>.
//
// A pod is of the sandboxd kind when one of its containers runs an image
// whose repository's last path element starts with "sandboxd" (sandboxd:v0.5.6,
// registry.example/agent-sandbox/sandboxd:latest-main), or, failing that,
// when a container sets SANDBOXD_GRPC_ADDR (the variable that tells SDKs to
// speak sandboxd, see packages/sandboxd/USER_GUIDE.md); then the first such
// container stands for sandboxd. Every other pod is of the python kind.

const (
	envGRPCAddr = "SANDBOXD_GRPC_ADDR"
	envRESTAddr = "SANDBOXD_REST_ADDR"

	defaultGRPCPort = 9090
	defaultRESTPort = 8080

	// sandboxdRoot is the pod's workspace inside its sandbox: sandboxd's
	// --root-dir and the working directory of the commands it runs.
	sandboxdRoot = "/workspace"

	// sandboxdMount is where the sandboxd binary is bound inside the
	// sandbox (under the private /tmp, so that a binary living under the
	// host's /tmp is found too).
	sandboxdMount = "/tmp/.sandbox-runtime/sandboxd"

	// sandboxPath is the PATH of sandboxd and of the commands it runs, the
	// usual one of a container image.
	sandboxPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// sandboxdContainer returns the index of the container that stands for
// sandboxd, and whether the pod is of the sandboxd kind (see above).
func sandboxdContainer(pod *corev1.Pod) (int, bool) {
	for i, c := range pod.Spec.Containers {
		if strings.HasPrefix(imageName(c.Image), "sandboxd") {
			return i, true
		}
	}
	for i, c := range pod.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == envGRPCAddr {
				return i, true
			}
		}
	}
	return 0, false
}

// imageName is the last path element of an image reference's repository,
// without tag or digest: "sandboxd" for "reg:5000/x/sandboxd:v1@sha256:...".
func imageName(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	name := path.Base(image)
	if i := strings.IndexByte(name, ':'); i >= 0 {
		name = name[:i]
	}
	return name
}

// sandboxdPorts returns the ports sandboxd listens on in the pod: the
// container ports named "grpc" and "rest" (or "http"), else the ports of
// SANDBOXD_GRPC_ADDR and SANDBOXD_REST_ADDR set on any container, else
// sandboxd's defaults, 9090 and 8080.
func sandboxdPorts(pod *corev1.Pod, container int) (grpcPort, restPort int) {
	envPort := func(name string) int {
		for _, c := range pod.Spec.Containers {
			for _, e := range c.Env {
				if e.Name != name || e.ValueFrom != nil {
					continue
				}
				if _, p, err := net.SplitHostPort(e.Value); err == nil {
					if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
						return n
					}
				}
			}
		}
		return 0
	}
	namedPort := func(names ...string) int {
		for _, p := range pod.Spec.Containers[container].Ports {
			for _, n := range names {
				if p.Name == n {
					return int(p.ContainerPort)
				}
			}
		}
		return 0
	}
	grpcPort = firstNonZero(namedPort("grpc"), envPort(envGRPCAddr), defaultGRPCPort)
	restPort = firstNonZero(namedPort("rest", "http"), envPort(envRESTAddr), defaultRESTPort)
	return grpcPort, restPort
}

// firstNonZero returns the first of ports that is not 0.
func firstNonZero(ports ...int) int {
	for _, p := range ports {
		if p != 0 {
			return p
		}
	}
	return 0
}

// forwardedPorts are the ports of a sandboxd pod that a port-forward
// reaches: sandboxd's two and every container port of the pod, in order,
// without repeats.
func forwardedPorts(pod *corev1.Pod, container int) []int32 {
	g, r := sandboxdPorts(pod, container)
	ports := []int32{int32(r), int32(g)}
	seen := map[int32]bool{ports[0]: true, ports[1]: true}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if (p.Protocol != "" && p.Protocol != corev1.ProtocolTCP) || seen[p.ContainerPort] {
				continue
			}
			seen[p.ContainerPort] = true
			ports = append(ports, p.ContainerPort)
		}
	}
	return ports
}

// sandboxdCommand is the runtime process of a sandboxd pod: sandboxd under
// bubblewrap, with its own network, PID, UTS and IPC namespaces (bubblewrap
// brings the new network namespace's lo up), a read-only host, a private
// /tmp and the pod's folder as /workspace, its working directory.
func (r *runtime) sandboxdCommand() *exec.Cmd {
	c := r.sup.cfg
	bin := c.sandboxd
	if bin == "" {
		// bubblewrap fails, and the pod says why (CrashLoopBackOff, with
		// bubblewrap's error naming this path).
		bin = "/nonexistent/sandboxd (podruntime --sandboxd is not set)"
	}
	grpcPort, restPort := sandboxdPorts(r.pod, r.index)
	args := []string{
		"--ro-bind", "/", "/",
		"--tmpfs", "/tmp",
		"--ro-bind", bin, sandboxdMount,
		"--bind", r.dir, sandboxdRoot,
		"--proc", "/proc", "--dev", "/dev",
		"--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-ipc",
		"--hostname", hostname(r.pod.Name),
		"--die-with-parent",
	}
	if c.resolvConf != "" {
		args = append(args, "--ro-bind", c.resolvConf, "/etc/resolv.conf")
	}
	// A container's environment: nothing of podruntime's own, the usual
	// PATH and HOSTNAME, and the literal env values of the pod's containers
	// (all of them: in the sidecar layout the SANDBOXD_* variables are on
	// the workload container), those of the sandboxd container last.
	args = append(args, "--clearenv", "--setenv", "PATH", sandboxPath,
		"--setenv", "HOSTNAME", hostname(r.pod.Name), "--setenv", "HOME", sandboxdRoot)
	for i, ctr := range r.pod.Spec.Containers {
		if i != r.index {
			args = appendEnv(args, ctr)
		}
	}
	args = appendEnv(args, r.container())
	args = append(args, "--chdir", sandboxdRoot, sandboxdMount,
		"--root-dir", sandboxdRoot,
		"--grpc-port", strconv.Itoa(grpcPort), "--rest-port", strconv.Itoa(restPort))
	return exec.Command("bwrap", args...)
}

func appendEnv(args []string, c corev1.Container) []string {
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			args = append(args, "--setenv", e.Name, e.Value)
		}
	}
	return args
}

// hostname is a pod's hostname: its name, cut to 63 characters.
func hostname(pod string) string {
	if len(pod) > 63 {
		pod = pod[:63]
	}
	return strings.TrimRight(pod, "-.")
}

// netnsFile is where podruntime records the process holding a sandboxd
// pod's network namespace, for `podruntime relay` (see writeNetns). The
// folder is hidden, so that globs over the pods' folders miss it.
func (r *runtime) netnsFile() string {
	return netnsFile(r.sup.cfg.podsDir, r.pod)
}

func netnsFile(podsDir string, pod *corev1.Pod) string {
	return filepath.Join(podsDir, ".netns", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID))
}

// pidFile is where podruntime records a python pod's runtime process (its
// bubblewrap), in the format of writeNetns, for `podruntime relay
// --any-port`: the pod's sockets are those its processes hold.
func (r *runtime) pidFile() string {
	return filepath.Join(r.sup.cfg.podsDir, ".pid", fmt.Sprintf("%s_%s_%s", r.pod.Namespace, r.pod.Name, r.pod.UID))
}

// portForwardGVR is kwok's per-pod port-forward rule (kwok.x-k8s.io/v1alpha1
// PortForward, served when kwok runs with --enable-crds=PortForward).
var portForwardGVR = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "portforwards"}

// staticForwards are the forwards a pod's PortForward always has, whether
// or not something listens there yet: for a sandboxd pod its forwardedPorts,
// dialled at 127.0.0.1 in its network namespace; for a python pod the
// runtime's port and every TCP container port, dialled at the pod's IP.
func (r *runtime) staticForwards() []forward {
	if r.sandboxd {
		var out []forward
		for _, p := range forwardedPorts(r.pod, r.index) {
			out = append(out, forward{port: p, host: "127.0.0.1"})
		}
		return out
	}
	out := []forward{{port: int32(r.port()), host: r.pod.Status.PodIP}}
	for _, c := range r.pod.Spec.Containers {
		for _, p := range c.Ports {
			if (p.Protocol != "" && p.Protocol != corev1.ProtocolTCP) || slices.ContainsFunc(out, func(f forward) bool { return f.port == p.ContainerPort }) {
				continue
			}
			out = append(out, forward{port: p.ContainerPort, host: r.pod.Status.PodIP})
		}
	}
	return out
}

// relayCommand is the command of the pod's forward f: `podruntime relay`,
// into the pod's network namespace for a sandboxd pod.
func (r *runtime) relayCommand(f forward) []any {
	cmd := []any{r.sup.cfg.self, "relay"}
	if r.sandboxd {
		cmd = append(cmd, "--netns-file", r.netnsFile())
	}
	if f.host != "127.0.0.1" {
		cmd = append(cmd, "--host", f.host)
	}
	return append(cmd, "--port", strconv.Itoa(int(f.port)))
}

// portForward is the kwok PortForward of the pod with the listening ports
// last recorded (see watchPorts).
func (r *runtime) portForward() *unstructured.Unstructured {
	_, extra := r.portForwardState()
	return r.portForwardWith(extra)
}

// portForwardWith is the kwok PortForward of the pod: named like the pod,
// owned by it (so that the garbage collector deletes it with the pod should
// podruntime not), one forward per port, the static ones and then those of
// extra (the ports the pod's processes listen on) that are not among them,
// each running `podruntime relay`. A port with no forward is refused by
// kwok ("forward not found for port N"), as a kubelet fails a port-forward
// to a port nothing listens on.
func (r *runtime) portForwardWith(extra []forward) *unstructured.Unstructured {
	var forwards []any
	var seen []int32
	for _, f := range append(r.staticForwards(), extra...) {
		if slices.Contains(seen, f.port) {
			continue
		}
		seen = append(seen, f.port)
		forwards = append(forwards, map[string]any{
			"ports":   []any{int64(f.port)},
			"command": r.relayCommand(f),
		})
	}
	// The default forward, for a port the pod began to listen on since
	// (see relayMain's --any-port).
	known := make([]string, len(seen))
	for i, p := range seen {
		known[i] = strconv.Itoa(int(p))
	}
	cmd := []any{r.sup.cfg.self, "relay"}
	if r.sandboxd {
		cmd = append(cmd, "--netns-file", r.netnsFile())
	} else {
		cmd = append(cmd, "--pid-file", r.pidFile(), "--host", r.pod.Status.PodIP)
	}
	cmd = append(cmd, "--any-port", "--known", strings.Join(known, ","))
	forwards = append(forwards, map[string]any{"command": cmd})
	return r.owned("PortForward", map[string]any{"forwards": forwards})
}

// owned is a kwok object of kind for the pod: named like it, owned by it,
// with spec.
func (r *runtime) owned(kind string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       kind,
		"metadata": map[string]any{
			"name":      r.pod.Name,
			"namespace": r.pod.Namespace,
			"labels":    map[string]any{"app.kubernetes.io/managed-by": "podruntime"},
		},
		"spec": spec,
	}}
	u.SetOwnerReferences([]metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Pod", Name: r.pod.Name, UID: r.pod.UID,
	}})
	return u
}

// ensurePortForward creates the pod's PortForward (replacing the spec of one
// left by an earlier podruntime for the same pod), records its UID for
// watchPorts and returns it, for deletePortForward.
func (r *runtime) ensurePortForward(ctx context.Context) (types.UID, error) {
	want := r.portForward()
	uid, err := r.ensureOwned(ctx, portForwardGVR, want)
	if err != nil || uid == "" {
		return uid, err
	}
	_, extra := r.portForwardState()
	r.setPortForwardState(uid, extra)
	klog.Infof("pod %s: port-forward of ports %v through kwok PortForward %s", r.key(), forwardPorts(r.staticForwards(), extra), want.GetName())
	return uid, nil
}

// ensureOwned creates want, an object of the pod (see owned), replacing one
// of the same name left for an earlier pod and the spec of one left by an
// earlier podruntime for this pod, and returns its UID ("" without a
// dynamic client).
func (r *runtime) ensureOwned(ctx context.Context, gvr schema.GroupVersionResource, want *unstructured.Unstructured) (types.UID, error) {
	if r.sup.dynamic == nil {
		return "", nil
	}
	objs := r.sup.dynamic.Resource(gvr).Namespace(r.pod.Namespace)
	got, err := objs.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		if got, err = objs.Get(ctx, want.GetName(), metav1.GetOptions{}); err != nil {
			return "", err
		}
		owners := got.GetOwnerReferences()
		if len(owners) > 0 && owners[0].UID != r.pod.UID {
			// Left by an earlier pod of the same name that is gone now
			// (the garbage collector deletes it in time): replace it.
			if err := objs.Delete(ctx, got.GetName(), metav1.DeleteOptions{
				Preconditions: &metav1.Preconditions{UID: ptr.To(got.GetUID())}}); err != nil && !apierrors.IsNotFound(err) {
				return "", err
			}
			got, err = objs.Create(ctx, want, metav1.CreateOptions{})
		} else {
			got.Object["spec"] = want.Object["spec"]
			got.SetOwnerReferences(want.GetOwnerReferences())
			got, err = objs.Update(ctx, got, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return "", err
	}
	return got.GetUID(), nil
}

// deletePortForward deletes the PortForward that ensurePortForward created
// (and not one of the same name made since for another pod).
func (r *runtime) deletePortForward(uid types.UID) {
	r.deleteOwned(portForwardGVR, "PortForward", uid)
}

// deleteOwned deletes the object of the pod of UID uid (see ensureOwned).
func (r *runtime) deleteOwned(gvr schema.GroupVersionResource, kind string, uid types.UID) {
	if r.sup.dynamic == nil || uid == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := r.sup.dynamic.Resource(gvr).Namespace(r.pod.Namespace).Delete(ctx, r.pod.Name,
		metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		klog.Errorf("pod %s: deleting its %s: %v", r.key(), kind, err)
	}
}

// writeNetns records pid as the holder of the pod's network namespace (with
// its start time, so that a relay never enters the namespace of another
// process given the same PID), atomically.
func writeNetns(file string, pid int) error {
	start, err := procStartTime(pid)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", pid, start), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// readNetns returns the PID recorded by writeNetns, if that process still
// runs.
func readNetns(file string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		if os.IsNotExist(err) {
			return 0, fmt.Errorf("the pod's sandbox is not running (no %s)", file)
		}
		return 0, err
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(string(b), "%d %d", &pid, &start); err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	if now, err := procStartTime(pid); err != nil || now != start {
		return 0, fmt.Errorf("the pod's sandbox (PID %d) is gone", pid)
	}
	return pid, nil
}
