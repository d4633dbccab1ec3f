package sandboxd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podconn"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec/podexectest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// A pod's port-forward under gVisor: its streams die at once (nothing
// listens in the pod's host-side network), or hang.
var (
	pfDies  = forwardTo(nil)
	pfHangs = func(_ string, conn io.ReadWriter) { _, _ = io.Copy(io.Discard, conn) }
)

// execPod is an API server whose pod runs procs and files on ports, reached
// by relays over pods/exec (a port in down has no listener); its
// port-forwards are served by pf (nil: they reach the same listeners).
func execPod(t *testing.T, procs *fakeProcesses, files *fakeFiles, ports Ports, pf func(string, io.ReadWriter), down ...int) (*podexectest.APIServer, *podforwardtest.APIServer) {
	t.Helper()
	addrs := podListeners(t, procs, files, ports, down...)
	if pf == nil {
		pf = forwardTo(addrs)
	}
	forwards := podforwardtest.NewAPIServer(t, pf)
	return podexectest.NewAPIServer(t, podexectest.RelayToPorts(addrs), forwards), forwards
}

func echoProcs() *fakeProcesses {
	return &fakeProcesses{run: func(p *fakeProc) error {
		p.stdout(strings.Join(p.req.GetConfig().GetCommand(), " "))
		return p.exit(0)
	}}
}

// kinds are the API requests seen, as "portforward" and "exec CONTAINER".
func kinds(execs *podexectest.APIServer, forwards *podforwardtest.APIServer) (pf, exec int, containers []string) {
	for _, r := range forwards.Requests() {
		if strings.HasSuffix(r, "/pods/box-0/portforward spdy/3.1") {
			pf++
		}
	}
	for _, r := range execs.Requests() {
		exec++
		f := strings.Split(r, " ")
		containers = append(containers, f[len(f)-1])
	}
	return pf, exec, containers
}

// TestDialExec: over pods/exec, commands and files work through relays
// in sandboxd's container (one for gRPC, one per REST connection), no
// port-forward is opened, and Close ends every relay's stream.
func TestDialExec(t *testing.T) {
	files := newFakeFiles(t)
	execs, forwards := execPod(t, echoProcs(), files, podPorts, nil)
	conn, err := Dial(context.Background(), clientsOf(t, execs.URL, nil), boxPod, podPorts, "box", podconn.Exec)
	if err != nil {
		t.Fatal(err)
	}
	if conn.Transport() != podconn.Exec {
		t.Errorf("transport %s", conn.Transport())
	}
	res, err := conn.Execute(context.Background(), sandbox.Command{Argv: []string{"echo", "hi"}})
	if err != nil || res.Stdout != "echo hi" || res.ExitCode != 0 {
		t.Errorf("Execute = %+v, %v", res, err)
	}
	if err := conn.Upload(context.Background(), "f", strings.NewReader("data\x00\xff")); err != nil {
		t.Error(err)
	}
	if got, _ := files.read(t, "f"); got != "data\x00\xff" {
		t.Errorf("uploaded %q", got)
	}
	conn.Close()
	pf, n, containers := kinds(execs, forwards)
	if pf != 0 || n < 2 {
		t.Errorf("%d port-forwards and %d execs, want none and at least 2", pf, n)
	}
	for _, c := range containers {
		if c != "sandboxd" {
			t.Errorf("a relay ran in container %q", c)
		}
	}
	for range n {
		recv(t, execs.Ended)
	}
}

// TestDialAuto: auto uses a port-forward where the pod answers through it,
// pods/exec at once for a pod isolated by its runtime, and pods/exec after
// a port-forward whose connections die or hang (within about a second).
func TestDialAuto(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pf        func(string, io.ReadWriter)
		isolated  string
		transport string
		forwards  int
	}{
		{"runc", nil, "", podconn.PortForward, 1},
		{"gVisor by its RuntimeClass", pfDies, "RuntimeClass gvisor (handler runsc)", podconn.Exec, 0},
		{"port-forward connections die", pfDies, "", podconn.Exec, 1},
		{"port-forward connections hang", pfHangs, "", podconn.Exec, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			execs, forwards := execPod(t, echoProcs(), newFakeFiles(t), podPorts, tc.pf)
			pod := boxPod
			pod.Isolated = tc.isolated
			start := time.Now()
			conn, err := Dial(context.Background(), clientsOf(t, execs.URL, nil), pod, podPorts, "box", podconn.Auto)
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if conn.Transport() != tc.transport {
				t.Errorf("transport %s, want %s", conn.Transport(), tc.transport)
			}
			if took > firstAnswer+2*time.Second {
				t.Errorf("Dial took %s", took)
			}
			res, err := conn.Execute(context.Background(), sandbox.Command{Argv: []string{"true"}})
			if err != nil || res.Stdout != "true" {
				t.Errorf("Execute = %+v, %v", res, err)
			}
			pf, n, _ := kinds(execs, forwards)
			if pf != tc.forwards || (n > 0) != (tc.transport == podconn.Exec) {
				t.Errorf("%d port-forwards and %d execs", pf, n)
			}
		})
	}
}

// TestDialAutoFails: when neither transport reaches sandboxd, the error
// says why: nothing listens (both agree), or each transport's own error
// (pods/exec refused by RBAC: its one line names the right).
func TestDialAutoFails(t *testing.T) {
	t.Run("nothing listens", func(t *testing.T) {
		execs, _ := execPod(t, &fakeProcesses{}, newFakeFiles(t), podPorts, pfDies, podPorts.REST)
		_, err := Dial(context.Background(), clientsOf(t, execs.URL, nil), boxPod, podPorts, "box", podconn.Auto)
		var unreachable *UnreachableError
		if !errors.As(err, &unreachable) || unreachable.Port != podPorts.REST {
			t.Fatalf("Dial = %v, want an *UnreachableError", err)
		}
		if want := "pod team/box-0 does not answer on sandboxd's port 7001: nothing accepts connections on it (seen through pods/exec)"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	})
	t.Run("exec forbidden", func(t *testing.T) {
		execs, _ := execPod(t, &fakeProcesses{}, newFakeFiles(t), podPorts, pfDies)
		execs.Forbidden.Store(true)
		authz, _ := kubetest.Reviewer(false, nil)
		_, err := Dial(context.Background(), clientsOf(t, execs.URL, authz), boxPod, podPorts, "box", podconn.Auto)
		var failed *podconn.FailedError
		var forbidden *kube.ForbiddenError
		if !errors.As(err, &failed) || !errors.As(err, &forbidden) || forbidden.Subresource != kube.Exec {
			t.Fatalf("Dial = %v, want a *podconn.FailedError with a *kube.ForbiddenError", err)
		}
		// How the dying forward's connection ends (EOF, a reset) varies.
		prefix := "cannot reach pod team/box-0: through a port-forward: pod team/box-0 does not answer on sandboxd's port 7001: health: "
		suffix := `; through pods/exec: exec into pod team/box-0 is forbidden: you may not create pods/exec in namespace "team"`
		if !strings.HasPrefix(err.Error(), prefix) || !strings.HasSuffix(err.Error(), suffix) {
			t.Errorf("error\n %q\nwant\n %q...%q", err, prefix, suffix)
		}
	})
	t.Run("no relay in the container", func(t *testing.T) {
		execs := podexectest.NewAPIServer(t, func(e *podexectest.Exec) (int, error) {
			fmt.Fprint(e.Stderr, "neither bash with cat nor python3 is in the container\n")
			return podexec.ExitNoInterpreter, nil
		}, nil)
		_, err := Dial(context.Background(), clientsOf(t, execs.URL, nil), boxPod, podPorts, "box", podconn.Exec)
		var noRelay *podexec.NoRelayError
		if !errors.As(err, &noRelay) {
			t.Fatalf("Dial = %v, want a *podexec.NoRelayError", err)
		}
		if want := "cannot start a relay in pod team/box-0 through pods/exec: container sandboxd: neither bash with cat nor python3 is in the container"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	})
}

// TestContainer: the container that runs sandboxd, by name, else by its
// environment.
func TestContainer(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		want string
	}{
		{"by name", corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: env(EnvRESTAddr, ":1")}, {Name: "sandboxd"}}}, "sandboxd"},
		{"a sidecar by name", corev1.PodSpec{InitContainers: []corev1.Container{{Name: "sandboxd"}}, Containers: []corev1.Container{{Name: "app"}}}, "sandboxd"},
		{"by environment", corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: "agent", Env: env(EnvGRPCAddr, ":1")}}}, "agent"},
		{"none", corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}, ""},
	} {
		if got := Container(&tc.spec); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestDialAutoSlowSandboxd: a sandboxd slower to answer than firstAnswer,
// with no relay to fall back to (pods/exec refused): the port-forward is
// tried again with a health check's time, and serves.
func TestDialAutoSlowSandboxd(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveProcesses(t, echoProcs(), lis)
	files := newFakeFiles(t).handler()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/health" {
			select {
			case <-time.After(firstAnswer + 500*time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		files.ServeHTTP(w, r)
	}))
	defer slow.Close()
	addrs := map[string]string{strconv.Itoa(podPorts.GRPC): lis.Addr().String(), strconv.Itoa(podPorts.REST): slow.Listener.Addr().String()}
	forwards := podforwardtest.NewAPIServer(t, forwardTo(addrs))
	execs := podexectest.NewAPIServer(t, podexectest.RelayToPorts(addrs), forwards)
	execs.Forbidden.Store(true)
	authz, _ := kubetest.Reviewer(false, nil)
	conn, err := Dial(context.Background(), clientsOf(t, execs.URL, authz), boxPod, podPorts, "box", podconn.Auto)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.Transport() != podconn.PortForward {
		t.Errorf("transport %s", conn.Transport())
	}
}
