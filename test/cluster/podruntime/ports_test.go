package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// /proc/net/tcp and tcp6 as a little-endian kernel writes them.
const procNetTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A459 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 928092 2 0000000077dc2649 100 0 0 10 0
   1: 0301007F:22B8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 2 0000000000000000 100 0 0 10 0
   2: 00000000:23A3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 2 0000000000000000 100 0 0 10 0
   3: 0100007F:A459 0100007F:D2B4 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 20 4 30 10 -1
   4: garbage
`

const procNetTCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:24E3 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 816166 2 000000000b336b4c 100 0 0 10 0
   1: 0000000000000000FFFF00000301007F:1388 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 2 0000000000000000 100 0 0 10 0
   2: 00000000000000000000000001000000:1389 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2002 2 0000000000000000 100 0 0 10 0
   3: 0000000000000000FFFF00000100007F:24E3 0000000000000000FFFF00000100007F:9D04 01 00000000:00000000 02:00000000 00000000     0        0 921098 2 00000000db6cedfc 21 4 17 39 -1
`

func littleEndian(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the samples are those of a little-endian kernel")
	}
}

func sock(addr string, port uint16, inode uint64) listenSocket {
	return listenSocket{addr: netip.MustParseAddr(addr), port: port, inode: inode}
}

func TestParseProcNetTCP(t *testing.T) {
	littleEndian(t)
	got := parseProcNetTCP([]byte(procNetTCP))
	want := []listenSocket{
		sock("127.0.0.1", 42073, 928092),
		sock("127.0.1.3", 8888, 1001),
		sock("0.0.0.0", 9123, 1002),
	}
	if !slices.Equal(got, want) {
		t.Errorf("tcp: %v, want %v", got, want)
	}
	got = parseProcNetTCP([]byte(procNetTCP6))
	want = []listenSocket{
		sock("::", 9443, 816166),
		sock("::ffff:127.0.1.3", 5000, 2001),
		sock("::1", 5001, 2002),
	}
	if !slices.Equal(got, want) {
		t.Errorf("tcp6: %v, want %v", got, want)
	}
	if got := parseProcNetTCP(nil); len(got) != 0 {
		t.Errorf("empty: %v", got)
	}
}

func TestSandboxdForwards(t *testing.T) {
	got := sandboxdForwards([]listenSocket{
		sock("::", 9123, 1),             // python's http.server: dual-stack
		sock("127.0.0.1", 8080, 2),      // sandboxd
		sock("::1", 7000, 3),            // IPv6 loopback only
		sock("127.0.0.5", 7001, 4),      // another loopback address
		sock("::1", 7002, 5),            // both: 127.0.0.1 preferred
		sock("0.0.0.0", 7002, 6),        //
		sock("::ffff:127.0.0.1", 90, 7), // v4-mapped
	})
	want := []forward{{90, "127.0.0.1"}, {7000, "::1"}, {7001, "127.0.0.5"}, {7002, "127.0.0.1"},
		{8080, "127.0.0.1"}, {9123, "127.0.0.1"}}
	if !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
}

func TestPythonForwards(t *testing.T) {
	socks := []listenSocket{
		sock("127.0.1.3", 8888, 1),  // the runtime, on the pod's IP
		sock("::", 9123, 2),         // http.server in the pod: on the pod's IP
		sock("0.0.0.0", 9124, 3),    // wildcard IPv4
		sock("127.0.0.1", 9125, 4),  // the pod's, on loopback only
		sock("127.0.1.4", 9126, 5),  // another pod's IP: left out
		sock("0.0.0.0", 9443, 99),   // not the pod's (the controller's webhook)
		sock("127.0.0.1", 6443, 98), // not the pod's (the API server)
		sock("::ffff:127.0.1.3", 9127, 6),
	}
	owned := map[uint64]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true}
	got := pythonForwards(socks, owned, "127.0.1.3")
	want := []forward{{8888, "127.0.1.3"}, {9123, "127.0.1.3"}, {9124, "127.0.1.3"}, {9125, "127.0.0.1"}, {9127, "127.0.1.3"}}
	if !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	if got := pythonForwards(socks, owned, ""); got != nil {
		t.Errorf("no pod IP: %v", got)
	}
}

// TestListeningSocketsOfProcesses: readListening and socketInodes find a
// listener held by a descendant of this process (as a python pod's server
// is one of its runtime's bubblewrap).
func TestListeningSocketsOfProcesses(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "PODRUNTIME_TEST_LISTEN=127.0.0.1:0")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "listening\n" {
		t.Fatalf("helper: %q, %v", line, err)
	}
	socks, err := readListening(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	child := socketInodes(cmd.Process.Pid)
	fws := pythonForwards(socks, child, "127.0.1.77")
	if len(fws) != 1 || fws[0].host != "127.0.0.1" || fws[0].port == 0 {
		t.Fatalf("the helper's listener: %v (sockets %v, its inodes %v)", fws, socks, child)
	}
	// Its parent's descendants include it.
	if got := pythonForwards(socks, socketInodes(os.Getpid()), "127.0.1.77"); !slices.Contains(got, fws[0]) {
		t.Errorf("from this process: %v, want %v among them", got, fws[0])
	}
	if _, err := readListening(1 << 30); err == nil {
		t.Error("read the sockets of a PID that does not exist")
	}
}

// TestNewPort: relay --any-port picks the one port outside --known that the
// pod's processes listen on, fails when there are several, and when none
// appears in time.
func TestNewPort(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), ".pid", "default_sb_uid")
	if err := writeNetns(pidFile, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	listen := func() int32 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return int32(l.Addr().(*net.TCPAddr).Port)
	}
	a := listen()
	// Those of this process already (none, unless another test left one).
	socks, _ := readListening(os.Getpid())
	var others []int32
	for _, f := range pythonForwards(socks, socketInodes(os.Getpid()), "127.0.1.77") {
		if f.port != a {
			others = append(others, f.port)
		}
	}
	got, err := newPort("", pidFile, "127.0.1.77", others, time.Second)
	if err != nil || got != (forward{a, "127.0.0.1"}) {
		t.Errorf("one new port: %v, %v; want %d", got, err, a)
	}
	// One that begins to listen while it waits.
	var b int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		got, err = newPort("", pidFile, "127.0.1.77", append(others, a), 5*time.Second)
	}()
	time.Sleep(200 * time.Millisecond)
	b = listen()
	<-done
	if err != nil || got != (forward{b, "127.0.0.1"}) {
		t.Errorf("a port that comes: %v, %v; want %d", got, err, b)
	}
	if _, err := newPort("", pidFile, "127.0.1.77", others, time.Second); err == nil || !strings.Contains(err.Error(), "several") {
		t.Errorf("two new ports: %v", err)
	}
	start := time.Now()
	if _, err := newPort("", pidFile, "127.0.1.77", append(others, a, b), 200*time.Millisecond); err == nil ||
		!strings.Contains(err.Error(), "nothing in the pod listens") || time.Since(start) < 200*time.Millisecond {
		t.Errorf("no new port: %v after %s", err, time.Since(start))
	}
	if _, err := newPort("", filepath.Join(t.TempDir(), "none"), "127.0.1.77", nil, time.Second); err == nil {
		t.Error("no pid file: no error")
	}
}

func TestParsePorts(t *testing.T) {
	if got := parsePorts("8888, 9123,x,0,70000,"); !slices.Equal(got, []int32{8888, 9123}) {
		t.Errorf("%v", got)
	}
}

func pythonPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "python-abcde", Namespace: "default", UID: "uid-py",
			Labels: map[string]string{sandboxPodLabel: "h"}},
		Spec: corev1.PodSpec{NodeName: "kwok-node-0", Containers: []corev1.Container{{
			Name: "python-runtime", Image: "python-runtime-sandbox:v0.5.6",
			Ports: []corev1.ContainerPort{{ContainerPort: 8888}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
		}, {
			Name: "sidecar", Image: "busybox",
			Ports: []corev1.ContainerPort{{ContainerPort: 8888}, {ContainerPort: 7000}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.1.3"},
	}
}

// TestPythonPortForwardObject: a python pod's PortForward relays its
// container ports and then the ports it listens on to its IP (or where
// they listen), and its default forward is relay --any-port with the
// runtime's PID file.
func TestPythonPortForwardObject(t *testing.T) {
	s := newSupervisor(nil, config{podsDir: "/pods", self: "/bin/podruntime"})
	r := &runtime{sup: s, pod: pythonPod()}
	relay := func(args ...any) []any { return append([]any{"/bin/podruntime", "relay"}, args...) }
	got := r.portForwardWith([]forward{{8888, "127.0.1.3"}, {9123, "127.0.1.3"}, {9125, "127.0.0.1"}})
	want := []any{
		map[string]any{"ports": []any{int64(8888)}, "command": relay("--host", "127.0.1.3", "--port", "8888")},
		map[string]any{"ports": []any{int64(7000)}, "command": relay("--host", "127.0.1.3", "--port", "7000")},
		map[string]any{"ports": []any{int64(9123)}, "command": relay("--host", "127.0.1.3", "--port", "9123")},
		map[string]any{"ports": []any{int64(9125)}, "command": relay("--port", "9125")},
		map[string]any{"command": relay("--pid-file", "/pods/.pid/default_python-abcde_uid-py", "--host", "127.0.1.3",
			"--any-port", "--known", "8888,7000,9123,9125")},
	}
	if !reflect.DeepEqual(got.Object["spec"], map[string]any{"forwards": want}) {
		t.Errorf("spec\n%#v\nwant\n%#v", got.Object["spec"], want)
	}
	if got.GetName() != "python-abcde" || got.GetOwnerReferences()[0].UID != "uid-py" {
		t.Errorf("metadata %v", got.Object["metadata"])
	}
}

func forwardsOf(t *testing.T, obj map[string]any) []string {
	t.Helper()
	var out []string
	fws, _ := obj["spec"].(map[string]any)["forwards"].([]any)
	for _, f := range fws {
		m := f.(map[string]any)
		ports, _ := m["ports"].([]any)
		if len(ports) == 0 {
			out = append(out, "default")
			continue
		}
		out = append(out, strconv.FormatInt(ports[0].(int64), 10))
	}
	return out
}

// TestPortForwardFollowsListeningPorts: updatePortForward rewrites the
// pod's PortForward with the ports it listens on (and records them, so
// that syncPorts writes only changes), and creates it again when it is
// gone; syncPorts of a pod whose runtime does not run drops them.
func TestPortForwardFollowsListeningPorts(t *testing.T) {
	ctx := context.Background()
	dyn := newDynamic()
	s := newSupervisor(nil, config{podsDir: "/pods", self: "/bin/podruntime"})
	s.dynamic = dyn
	r := &runtime{sup: s, pod: pythonPod()}
	if err := r.syncPorts(ctx); err != nil { // not created yet: nothing
		t.Fatal(err)
	}
	if getPortForward(t, dyn, "python-abcde") != nil {
		t.Fatal("created by syncPorts")
	}
	uid, err := r.ensurePortForward(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := forwardsOf(t, getPortForward(t, dyn, "python-abcde").Object); !slices.Equal(got, []string{"8888", "7000", "default"}) {
		t.Errorf("created with %v", got)
	}
	if err := r.updatePortForward(ctx, uid, []forward{{9123, "127.0.1.3"}}); err != nil {
		t.Fatal(err)
	}
	if got := forwardsOf(t, getPortForward(t, dyn, "python-abcde").Object); !slices.Equal(got, []string{"8888", "7000", "9123", "default"}) {
		t.Errorf("after 9123 listens: %v", got)
	}
	if u, extra := r.portForwardState(); u != uid || !slices.Equal(extra, []forward{{9123, "127.0.1.3"}}) {
		t.Errorf("recorded %q %v", u, extra)
	}
	// The runtime does not run (no PID): its ports go.
	if err := r.syncPorts(ctx); err != nil {
		t.Fatal(err)
	}
	if got := forwardsOf(t, getPortForward(t, dyn, "python-abcde").Object); !slices.Equal(got, []string{"8888", "7000", "default"}) {
		t.Errorf("after the runtime stopped: %v", got)
	}
	// Nothing changed since: no call.
	before := len(dyn.Actions())
	if err := r.syncPorts(ctx); err != nil || len(dyn.Actions()) != before {
		t.Errorf("no change, yet %d calls (%v)", len(dyn.Actions())-before, err)
	}
	// Gone (deleted by hand): created again, with the ports.
	if err := dyn.Resource(portForwardGVR).Namespace("default").Delete(ctx, "python-abcde", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := r.updatePortForward(ctx, uid, []forward{{9200, "127.0.1.3"}}); err != nil {
		t.Fatal(err)
	}
	got := getPortForward(t, dyn, "python-abcde")
	if got == nil || got.GetUID() == uid || !slices.Equal(forwardsOf(t, got.Object), []string{"8888", "7000", "9200", "default"}) {
		t.Fatalf("not created again: %v", got)
	}
	if u, _ := r.portForwardState(); u != got.GetUID() {
		t.Errorf("recorded UID %q, object's %q", u, got.GetUID())
	}
	r.deletePortForward(got.GetUID())
	if getPortForward(t, dyn, "python-abcde") != nil {
		t.Error("not deleted")
	}
}

// TestRuntimeKeepsPortForwardInStep: a python pod's runtime records its
// process for relay --any-port, adds a port one of its processes begins to
// listen on to its PortForward within a poll or two, and once stopped
// deletes the PortForward and the record.
func TestRuntimeKeepsPortForwardInStep(t *testing.T) {
	f := newFixture(t)
	dyn := newDynamic()
	f.r.sup.dynamic = dyn
	f.r.sup.cfg.podsDir = t.TempDir()
	f.r.sup.cfg.self = "/bin/podruntime"
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f.r.sup.command = func(*runtime) *exec.Cmd {
		// The listener is a child of the runtime, as a server started in
		// the sandbox is a descendant of its bubblewrap.
		cmd := exec.Command("sh", "-c", `"$0"; exit 1`, self)
		cmd.Env = append(os.Environ(), "PODRUNTIME_TEST_LISTEN=127.0.0.1:0")
		return cmd
	}
	done := make(chan struct{})
	go func() { f.r.run(f.ctx); close(done) }()
	start := time.Now()
	var got []string
	for time.Since(start) < 10*time.Second {
		if pf := getPortForward(t, dyn, "sb"); pf != nil {
			if got = forwardsOf(t, pf.Object); len(got) == 3 {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(got) != 3 || got[0] != "8888" || got[2] != "default" {
		t.Fatalf("PortForward forwards %v", got)
	}
	t.Logf("port %s listed %s after the runtime started", got[1], time.Since(start).Round(time.Millisecond))
	if _, err := readNetns(f.r.pidFile()); err != nil {
		t.Errorf("pid file: %v", err)
	}
	f.cancel()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the runtime did not stop")
	}
	if getPortForward(t, dyn, "sb") != nil {
		t.Error("PortForward left")
	}
	if _, err := os.Stat(f.r.pidFile()); !os.IsNotExist(err) {
		t.Errorf("pid file left: %v", err)
	}
}
