package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestMain(m *testing.M) {
	// The helper process of TestDialInNetns: a listener inside a network
	// namespace of its own.
	if os.Getenv("PODRUNTIME_TEST_LISTEN") != "" {
		os.Exit(listenHelper(os.Getenv("PODRUNTIME_TEST_LISTEN")))
	}
	os.Exit(m.Run())
}

func sandboxdPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sandboxd-abcde", Namespace: "default", UID: "uid-sd",
			Labels: map[string]string{sandboxPodLabel: "h"}},
		Spec: corev1.PodSpec{NodeName: "kwok-node-0", Containers: []corev1.Container{{
			Name: "sandboxd", Image: "sandboxd:v0.5.6",
			Ports: []corev1.ContainerPort{{Name: "rest", ContainerPort: 8080}, {Name: "grpc", ContainerPort: 9090}},
			Env: []corev1.EnvVar{
				{Name: "SANDBOXD_GRPC_ADDR", Value: "localhost:9090"},
				{Name: "SANDBOXD_REST_ADDR", Value: "localhost:8080"},
				{Name: "FROM_SECRET", ValueFrom: &corev1.EnvVarSource{}},
			},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/v1/health", Port: intstr.FromInt32(8080)}}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.1.9"},
	}
}

func TestSandboxdContainer(t *testing.T) {
	ctr := func(image string, env ...string) corev1.Container {
		c := corev1.Container{Name: image, Image: image}
		for _, e := range env {
			c.Env = append(c.Env, corev1.EnvVar{Name: e, Value: "localhost:1"})
		}
		return c
	}
	for _, tc := range []struct {
		name       string
		containers []corev1.Container
		index      int
		sandboxd   bool
	}{
		{"python", []corev1.Container{ctr("python-runtime-sandbox:v0.5.6")}, 0, false},
		{"seed image", []corev1.Container{ctr("sandboxd:v0.5.6")}, 0, true},
		{"upstream image", []corev1.Container{ctr("us-central1-docker.pkg.dev/k8s-staging-images/agent-sandbox/sandboxd:latest-main")}, 0, true},
		{"registry port and digest", []corev1.Container{ctr("reg:5000/x/sandboxd-dev@sha256:0123")}, 0, true},
		{"sandboxd only in the registry path", []corev1.Container{ctr("sandboxd.example/python:1")}, 0, false},
		{"sidecar", []corev1.Container{ctr("agent:1", "SANDBOXD_GRPC_ADDR"), ctr("sandboxd:v1")}, 1, true},
		{"env only", []corev1.Container{ctr("other:1"), ctr("custom:1", "SANDBOXD_GRPC_ADDR")}, 1, true},
		{"REST env alone is not enough", []corev1.Container{ctr("custom:1", "SANDBOXD_REST_ADDR")}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: tc.containers}}
			i, ok := sandboxdContainer(pod)
			if i != tc.index || ok != tc.sandboxd {
				t.Errorf("got (%d, %v), want (%d, %v)", i, ok, tc.index, tc.sandboxd)
			}
		})
	}
}

func TestSandboxdPorts(t *testing.T) {
	pod := sandboxdPod()
	if g, r := sandboxdPorts(pod, 0); g != 9090 || r != 8080 {
		t.Errorf("seed pod: grpc %d rest %d", g, r)
	}
	if got, want := forwardedPorts(pod, 0), []int32{8080, 9090}; !reflect.DeepEqual(got, want) {
		t.Errorf("forwarded %v, want %v", got, want)
	}
	// Named ports win over the env, the env over the defaults.
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "grpc", ContainerPort: 7000}, {ContainerPort: 3000},
		{ContainerPort: 53, Protocol: corev1.ProtocolUDP}}
	pod.Spec.Containers[0].Env[1].Value = "localhost:7001"
	if g, r := sandboxdPorts(pod, 0); g != 7000 || r != 7001 {
		t.Errorf("grpc %d rest %d, want 7000 7001", g, r)
	}
	if got, want := forwardedPorts(pod, 0), []int32{7001, 7000, 3000}; !reflect.DeepEqual(got, want) {
		t.Errorf("forwarded %v, want %v", got, want)
	}
	pod.Spec.Containers[0].Ports, pod.Spec.Containers[0].Env = nil, nil
	if g, r := sandboxdPorts(pod, 0); g != 9090 || r != 8080 {
		t.Errorf("defaults: grpc %d rest %d", g, r)
	}
	r := &runtime{pod: pod, sandboxd: true}
	if path, port := r.probeSpec(); path != "/v1/health" || port != 8080 {
		t.Errorf("default probe %s:%d", path, port)
	}
}

func TestSandboxdCommand(t *testing.T) {
	s := newSupervisor(nil, config{sandboxd: "/opt/bin/sandboxd", resolvConf: "/jail/resolv.conf"})
	r := &runtime{sup: s, pod: sandboxdPod(), dir: "/pods/default_sandboxd-abcde_uid-sd", sandboxd: true}
	cmd := r.command()
	args := strings.Join(cmd.Args, " ")
	for _, want := range []string{
		"bwrap --ro-bind / / --tmpfs /tmp --ro-bind /opt/bin/sandboxd /tmp/.sandbox-runtime/sandboxd --bind /pods/default_sandboxd-abcde_uid-sd /workspace --proc /proc --dev /dev",
		"--unshare-pid --unshare-net",
		"--hostname sandboxd-abcde",
		"--die-with-parent",
		"--ro-bind /jail/resolv.conf /etc/resolv.conf",
		"--clearenv --setenv PATH /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--setenv HOME /workspace",
		"--setenv SANDBOXD_GRPC_ADDR localhost:9090 --setenv SANDBOXD_REST_ADDR localhost:8080",
		"--chdir /workspace /tmp/.sandbox-runtime/sandboxd --root-dir /workspace --grpc-port 9090 --rest-port 8080",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("command %q lacks %q", args, want)
		}
	}
	if strings.Contains(args, "FROM_SECRET") {
		t.Errorf("a valueFrom variable was passed: %q", args)
	}
	if !strings.HasSuffix(args, "--rest-port 8080") {
		t.Errorf("command %q", args)
	}
	// The python kind is unchanged: on the pod's IP.
	r = &runtime{sup: s, pod: newFixture(t).r.pod}
	if args := strings.Join(r.command().Args, " "); !strings.Contains(args, "--host 127.0.1.7 --port 8888") || strings.Contains(args, "--unshare-net") {
		t.Errorf("python command %q", args)
	}
}

func TestPortForwardObject(t *testing.T) {
	s := newSupervisor(nil, config{podsDir: "/pods", self: "/bin/podruntime"})
	r := &runtime{sup: s, pod: sandboxdPod(), sandboxd: true}
	got := r.portForward()
	want := map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1",
		"kind":       "PortForward",
		"metadata": map[string]any{
			"name": "sandboxd-abcde", "namespace": "default",
			"labels": map[string]any{"app.kubernetes.io/managed-by": "podruntime"},
			"ownerReferences": []any{map[string]any{
				"apiVersion": "v1", "kind": "Pod", "name": "sandboxd-abcde", "uid": "uid-sd"}},
		},
		"spec": map[string]any{"forwards": []any{
			map[string]any{"ports": []any{int64(8080)}, "command": []any{"/bin/podruntime", "relay",
				"--netns-file", "/pods/.netns/default_sandboxd-abcde_uid-sd", "--port", "8080"}},
			map[string]any{"ports": []any{int64(9090)}, "command": []any{"/bin/podruntime", "relay",
				"--netns-file", "/pods/.netns/default_sandboxd-abcde_uid-sd", "--port", "9090"}},
			map[string]any{"command": []any{"/bin/podruntime", "relay",
				"--netns-file", "/pods/.netns/default_sandboxd-abcde_uid-sd", "--any-port", "--known", "8080,9090"}},
		}},
	}
	if !reflect.DeepEqual(got.Object, want) {
		t.Errorf("PortForward\n%#v\nwant\n%#v", got.Object, want)
	}
}

// newDynamic is a fake API server for PortForwards and Logs that, like a
// real one, gives each created object a UID (pf-1, pf-2...).
func newDynamic(objs ...kruntime.Object) *dynamicfake.FakeDynamicClient {
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(kruntime.NewScheme(),
		map[schema.GroupVersionResource]string{portForwardGVR: "PortForwardList", logsGVR: "LogsList"}, objs...)
	created := 0
	dyn.PrependReactor("create", "*", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		created++
		a.(k8stesting.CreateAction).GetObject().(*unstructured.Unstructured).SetUID(types.UID(fmt.Sprintf("pf-%d", created)))
		return false, nil, nil
	})
	return dyn
}

func getPortForward(t *testing.T, dyn *dynamicfake.FakeDynamicClient, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := dyn.Resource(portForwardGVR).Namespace("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return u
}

// TestPortForwardCreatedAndDeleted: ensurePortForward creates the pod's
// PortForward, replaces one of the same name left for an earlier pod,
// updates one left by an earlier podruntime for this pod, and
// deletePortForward deletes it.
func TestPortForwardCreatedAndDeleted(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		existing *unstructured.Unstructured
	}{
		{"none", nil},
		{"an earlier pod's", func() *unstructured.Unstructured {
			u := (&runtime{sup: newSupervisor(nil, config{}), pod: sandboxdPod()}).portForward()
			u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "sandboxd-abcde", UID: "uid-old"}})
			u.SetUID("pf-old")
			return u
		}()},
		{"this pod's, from an earlier podruntime", func() *unstructured.Unstructured {
			u := (&runtime{sup: newSupervisor(nil, config{self: "/old/podruntime"}), pod: sandboxdPod()}).portForward()
			u.SetUID("pf-same")
			return u
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var objs []kruntime.Object
			if tc.existing != nil {
				objs = append(objs, tc.existing)
			}
			dyn := newDynamic(objs...)
			s := newSupervisor(nil, config{podsDir: "/pods", self: "/bin/podruntime"})
			s.dynamic = dyn
			r := &runtime{sup: s, pod: sandboxdPod(), sandboxd: true}
			uid, err := r.ensurePortForward(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := getPortForward(t, dyn, "sandboxd-abcde")
			if got == nil || got.GetUID() != uid || uid == "" {
				t.Fatalf("PortForward %v, uid %q", got, uid)
			}
			if o := got.GetOwnerReferences(); len(o) != 1 || o[0].UID != "uid-sd" {
				t.Errorf("owners %+v", o)
			}
			if !reflect.DeepEqual(got.Object["spec"], r.portForward().Object["spec"]) {
				t.Errorf("spec %v", got.Object["spec"])
			}
			r.deletePortForward(uid)
			if got := getPortForward(t, dyn, "sandboxd-abcde"); got != nil {
				t.Errorf("not deleted: %v", got)
			}
		})
	}
	// Without a dynamic client (the unit tests of the python kind), nothing.
	r := &runtime{sup: newSupervisor(nil, config{}), pod: sandboxdPod(), sandboxd: true}
	if uid, err := r.ensurePortForward(ctx); uid != "" || err != nil {
		t.Errorf("%q %v", uid, err)
	}
	r.deletePortForward("x")
}

func TestNetnsRecord(t *testing.T) {
	file := filepath.Join(t.TempDir(), ".netns", "default_sb_uid")
	if _, err := readNetns(file); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("no file: %v", err)
	}
	if err := writeNetns(file, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if pid, err := readNetns(file); pid != os.Getpid() || err != nil {
		t.Errorf("read back %d, %v", pid, err)
	}
	// The same PID with another start time: another process.
	start, _ := procStartTime(os.Getpid())
	if err := os.WriteFile(file, fmt.Appendf(nil, "%d %d\n", os.Getpid(), start+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readNetns(file); err == nil || !strings.Contains(err.Error(), "is gone") {
		t.Errorf("reused PID: %v", err)
	}
}

// pipeServer listens on loopback; each connection is handled by serve.
func pipeServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return l.Addr().String()
}

type closeRecorder struct {
	io.Writer
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// TestRelayHalfClose: the end of the client's data reaches the server as a
// half-close, and the server's answer sent after it reaches the client in
// full (large, so that both directions stream).
func TestRelayHalfClose(t *testing.T) {
	const size = 8 << 20
	addr := pipeServer(t, func(c net.Conn) {
		defer c.Close()
		n, _ := io.Copy(io.Discard, c) // until the half-close
		fmt.Fprintf(c, "got %d bytes\n", n)
		_, _ = io.Copy(c, io.LimitReader(zeros{}, size))
	})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rec := &closeRecorder{Writer: &out}
	done := make(chan error)
	go func() { done <- relay(conn.(*net.TCPConn), io.LimitReader(zeros{}, size), rec) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("relay did not end")
	}
	first, rest, _ := strings.Cut(out.String(), "\n")
	if first != fmt.Sprintf("got %d bytes", size) || len(rest) != size || !rec.closed {
		t.Errorf("answer %q, then %d bytes, closed %v", first, len(rest), rec.closed)
	}
}

// TestRelayServerClosesFirst: when the server closes, relay ends although
// the client has not.
func TestRelayServerClosesFirst(t *testing.T) {
	addr := pipeServer(t, func(c net.Conn) {
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Fprintf(c, "bye %s", line)
		c.Close()
	})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	defer inW.Close()
	go func() { _, _ = inW.Write([]byte("hi\n")) }() // and then nothing, never EOF
	var out strings.Builder
	done := make(chan error)
	go func() { done <- relay(conn.(*net.TCPConn), inR, &out) }()
	select {
	case err := <-done:
		if err != nil || out.String() != "bye hi\n" {
			t.Errorf("%q, %v", out.String(), err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("relay did not end when the server closed")
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// inOwnNetns starts the test binary as a helper listening on 127.0.0.1:port
// inside a new network namespace (bubblewrap brings its lo up), and returns
// the helper's bubblewrap process.
func inOwnNetns(t *testing.T, port string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to enter network namespaces")
	}
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("needs bwrap (hack/install-deps.sh)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bwrap", "--dev-bind", "/", "/", "--unshare-net", "--die-with-parent", self)
	cmd.Env = append(os.Environ(), "PODRUNTIME_TEST_LISTEN=127.0.0.1:"+port)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// The helper says when it listens.
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "listening\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	return cmd
}

func listenHelper(addr string) int {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("listening")
	for {
		c, err := l.Accept()
		if err != nil {
			return 1
		}
		host, _ := os.Hostname()
		fmt.Fprintf(c, "hello from the pod's namespace (%s)\n", host)
		c.Close()
	}
}

// TestDialInNetns: findNetnsHolder finds the helper's namespace below its
// bubblewrap, dialInNetns reaches a listener on 127.0.0.1 there that the
// host's namespace does not have, and every thread of this process is back
// in its own namespace afterwards.
func TestDialInNetns(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0") // a free port, kept busy on the host
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close() // the host's 127.0.0.1:port now refuses
	cmd := inOwnNetns(t, port)
	pid, err := findNetnsHolder(cmd.Process.Pid)
	if err != nil || pid == 0 || pid == cmd.Process.Pid {
		t.Fatalf("holder %d, %v (bwrap is %d)", pid, err, cmd.Process.Pid)
	}
	if own, _ := findNetnsHolder(os.Getpid()); own == os.Getpid() {
		t.Errorf("this process counted as in another namespace")
	}
	for i := 0; i < 20; i++ { // many, so that threads get reused
		c, err := dialInNetns(context.Background(), pid, "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(c)
		c.Close()
		if !strings.HasPrefix(string(b), "hello from the pod's namespace") {
			t.Fatalf("got %q", b)
		}
	}
	if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
		c.Close()
		t.Errorf("the host's namespace has the listener too")
	}
	own, _ := os.Readlink("/proc/self/ns/net")
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		if ns, _ := os.Readlink("/proc/self/task/" + task.Name() + "/ns/net"); ns != own {
			t.Errorf("thread %s is in %s, not %s", task.Name(), ns, own)
		}
	}
	if _, err := dialInNetns(context.Background(), 1<<30, "127.0.0.1:1"); err == nil {
		t.Error("dialed into a PID that does not exist")
	}
}

// TestSandboxdRuntimeLifecycle: a sandboxd pod's runtime creates its
// PortForward, records the process holding its network namespace (which
// the probe then uses), and once stopped removes both.
func TestSandboxdRuntimeLifecycle(t *testing.T) {
	f := newFixture(t)
	pod := sandboxdPod()
	pod.Name, pod.UID, pod.Status = "sb", "uid-1", *f.pod().Status.DeepCopy()
	pod.Spec.Containers[0].Name = "python-runtime" // what the fixture's pod status names
	f.r.pod = pod
	f.r.sandboxd = true
	dyn := newDynamic()
	f.r.sup.dynamic = dyn
	f.r.sup.cfg.podsDir = t.TempDir()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("needs bwrap")
	}
	f.r.sup.command = func(*runtime) *exec.Cmd {
		return exec.Command("bwrap", "--dev-bind", "/", "/", "--unshare-net", "--unshare-pid", "--die-with-parent", "sleep", "60")
	}
	var netnsSeen int
	var pfSeen bool
	f.r.sup.probe = func(context.Context, *runtime) bool {
		pid := f.r.getNetns()
		if pid == 0 {
			return false
		}
		got, err := readNetns(f.r.netnsFile())
		if err != nil || got != pid {
			t.Errorf("netns file: %d, %v; runtime has %d", got, err, pid)
		}
		netnsSeen = pid
		pfSeen = getPortForward(t, dyn, "sb") != nil
		return true
	}
	f.client.PrependReactor("update", "pods", func(k8stesting.Action) (bool, kruntime.Object, error) {
		f.cancel() // Ready: the pod goes away
		return false, nil, nil
	})
	f.run()
	if netnsSeen == 0 || !pfSeen {
		t.Fatalf("probe saw netns %d, PortForward %v", netnsSeen, pfSeen)
	}
	if _, err := os.Stat(f.r.netnsFile()); !os.IsNotExist(err) {
		t.Errorf("netns file left: %v", err)
	}
	if getPortForward(t, dyn, "sb") != nil {
		t.Error("PortForward left")
	}
	// Killed with its bubblewrap; it may take a moment to be reaped.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := procStartTime(netnsSeen); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("sandbox process %d still runs", netnsSeen)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := summary(t, f.updates); !slices.Equal(got, []string{"running, restarts 0; Ready=True "}) {
		t.Errorf("status writes %v", got)
	}
}

// TestReadyIsReportedAgainAfterAFailedWrite: when writing Ready fails (the
// API server restarts), the runtime probes and reports again instead of
// leaving the pod not Ready for good.
func TestReadyIsReportedAgainAfterAFailedWrite(t *testing.T) {
	f := newFixture(t)
	f.r.sup.command = func(*runtime) *exec.Cmd { return sh("exec sleep 60") }
	probes := 0
	f.r.sup.probe = func(context.Context, *runtime) bool { probes++; return true }
	failures := 0
	f.client.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		if failures < 2 {
			failures++
			return true, nil, fmt.Errorf("dial tcp 127.0.0.1:6443: connect: connection refused")
		}
		f.cancel() // Ready written: the pod goes away
		return false, nil, nil
	})
	f.run()
	if cond(f.pod().Status, corev1.PodReady).Status != corev1.ConditionTrue || failures != 2 || probes != 3 {
		t.Errorf("Ready %v after %d failed writes and %d probes", cond(f.pod().Status, corev1.PodReady), failures, probes)
	}
}
