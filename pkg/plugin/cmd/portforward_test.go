package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec/podexectest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
)

func TestParsePortSpec(t *testing.T) {
	for _, tc := range []struct {
		spec          string
		local, remote int
		ok            bool
	}{
		{"8080", 8080, 8080, true},
		{":8080", 0, 8080, true},
		{"0:80", 0, 80, true},
		{"8080:80", 8080, 80, true},
		{"65535", 65535, 65535, true},
		{"1:65535", 1, 65535, true},
		{"0", 0, 0, false},
		{"70000", 0, 0, false},
		{"a:b", 0, 0, false},
		{"a:80", 0, 0, false},
		{"80:", 0, 0, false},
		{"8080:0", 0, 0, false},
		{"-1:80", 0, 0, false},
		{"70000:80", 0, 0, false},
		{"1:2:3", 0, 0, false},
		{"", 0, 0, false},
		{":", 0, 0, false},
	} {
		local, remote, err := parsePortSpec(tc.spec)
		if (err == nil) != tc.ok || local != tc.local || remote != tc.remote {
			t.Errorf("parsePortSpec(%q) = %d, %d, %v; want %d, %d, ok %v", tc.spec, local, remote, err, tc.local, tc.remote, tc.ok)
		}
		want := fmt.Sprintf("invalid port %q: use [LOCAL_PORT:]REMOTE_PORT with ports 1-65535 (LOCAL_PORT may be empty or 0 for a free one)", tc.spec)
		if err != nil && err.Error() != want {
			t.Errorf("parsePortSpec(%q): error %q\nwant %q", tc.spec, err, want)
		}
	}
}

func TestExpandLocalhost(t *testing.T) {
	got := expandLocalhost([]string{"0.0.0.0", "localhost"})
	if len(got) < 2 || got[0] != "0.0.0.0" || got[1] != "127.0.0.1" || len(got) == 3 && got[2] != "::1" || len(got) > 3 {
		t.Errorf("expandLocalhost = %q", got)
	}
}

func TestPortForwardValidation(t *testing.T) {
	checkRefused(t, "port-forward", NewCmdPortForward, []refusal{
		{[]string{"c1", "0"}, `invalid port "0"`},
		{[]string{"c1", "8080", "70000"}, `invalid port "70000"`},
		{[]string{"c1", "a:b"}, `invalid port "a:b"`},
		{[]string{"c1", ""}, `invalid port ""`},
		{[]string{"c1", "8080", "--address", "example.com"}, `invalid --address "example.com": use an IP address or localhost`},
		{[]string{"c1", "8080", "--address", "127.0.0.1,nope"}, `invalid --address "nope"`},
		{[]string{"Bad_Name", "8080"}, `invalid claim name "Bad_Name"`},
		{[]string{"c1"}, "requires at least 2 arg(s), only received 1"},
		{[]string{"c1", "8080", "--transport", "ssh"}, `invalid --transport "ssh": use auto, port-forward or exec (check $KUBECTL_SANDBOX_TRANSPORT)`},
	})
}

// freePort is a local port nothing listens on (just now).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// coreWithRealREST is a fake core client whose RESTClient is real: the
// port-forward URL is built from it.
type coreWithRealREST struct {
	corev1client.CoreV1Interface
	rest rest.Interface
}

func (c coreWithRealREST) RESTClient() rest.Interface { return c.rest }

// forwardingFactory is a fake cluster whose port-forwards go to an API
// server for tests.
type forwardingFactory struct {
	*fakeFactory
	clients *kube.Clients
}

func (f forwardingFactory) Clients() (*kube.Clients, error) { return f.clients, nil }

func newForwardingFactory(t *testing.T, srv *podforwardtest.APIServer, objs ...runtime.Object) forwardingFactory {
	t.Helper()
	return newStreamingFactory(t, srv.URL, objs...)
}

// newStreamingFactory is a fake cluster whose pod streams (port-forwards,
// execs) go to the API server at url.
func newStreamingFactory(t *testing.T, url string, objs ...runtime.Object) forwardingFactory {
	t.Helper()
	f := newFakeFactory(objs...)
	clients, _ := f.Clients()
	cfg := &rest.Config{Host: url}
	real, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clients.Config, clients.Core = cfg, coreWithRealREST{clients.Core, real.RESTClient()}
	return forwardingFactory{f, clients}
}

func TestPortForwardRun(t *testing.T) {
	srv := podforwardtest.NewAPIServer(t, func(port string, conn io.ReadWriter) {
		fmt.Fprintf(conn, "pod port %s\n", port)
	})
	objs := []runtime.Object{claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady"), sandboxObj("sb-a", ""),
		sandboxPod("sb-a", corev1.PodRunning)}
	f := newForwardingFactory(t, srv, objs...)
	v := start(t, f, NewCmdPortForward, []string{"a", ":8080", "0:9090", "--address", "127.0.0.1"})
	re := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:([0-9]+) -> ([0-9]+)\n$`)
	for _, remote := range []string{"8080", "9090"} {
		l := v.line(t)
		m := re.FindStringSubmatch(l)
		if m == nil || m[2] != remote {
			t.Fatalf("printed %q, want a forward to %s", l, remote)
		}
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", m[1]))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != "pod port "+remote+"\n" {
			t.Errorf("local port %s reached %q, %v; want pod port %s", m[1], got, err, remote)
		}
	}
	if err := v.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("the verb returned %v, want %v", err, context.Canceled)
	}
	<-srv.Ended
	if got := srv.Requests(); len(got) != 2 || got[1] != "POST /api/v1/namespaces/default/pods/sb-a/portforward spdy/3.1" {
		t.Errorf("requests %q", got)
	}
}

func TestPortForwardNeedsARunningPod(t *testing.T) {
	claim := claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady")
	res, _ := run(t, NewCmdPortForward, []string{"a", "8080"}, claim, sandboxObj("sb-a", ""), sandboxPod("sb-a", corev1.PodPending))
	if res.err == nil || res.err.Error() != `pod sb-a of sandboxclaim "a" is Pending, not Running` || res.out != "" {
		t.Errorf("%+v", res)
	}
	res, _ = run(t, NewCmdPortForward, []string{"a", "8080"}, claim, sandboxObj("sb-a", ""))
	var noPod *claims.NoPodError
	if !errors.As(res.err, &noPod) || noPod.Suspended {
		t.Errorf("%+v", res)
	}
}

// TestPortForwardRelays: a pod whose RuntimeClass runs gVisor gets each
// connection relayed over pods/exec (in its first container: it has no
// sandboxd), printed as a forward is; the pod's deletion ends the verb
// with that news.
func TestPortForwardRelays(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4)
				n, _ := io.ReadFull(c, buf)
				fmt.Fprintf(c, "pod got %q", buf[:n])
			}()
		}
	}()
	containers := make(chan string, 8)
	forwards := podforwardtest.NewAPIServer(t, func(string, io.ReadWriter) { t.Error("a port-forward was opened") })
	execs := podexectest.NewAPIServer(t, podexectest.RelayTo(lis.Addr().String(), containers), forwards)
	pod := livePod("sb-a", "uid-1", "5")
	gvisor := "gvisor"
	pod.Spec.RuntimeClassName = &gvisor
	f := newStreamingFactory(t, execs.URL, claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady"), sandboxObj("sb-a", ""), pod)
	reactor, watchers := kubetest.DrivenWatches()
	f.core.PrependWatchReactor("pods", reactor)
	v := start(t, f, NewCmdPortForward, []string{"a", ":8000", "--address", "127.0.0.1"})
	m := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:([0-9]+) -> 8000\n$`).FindStringSubmatch(v.line(t))
	if m == nil {
		t.Fatal("no forward printed")
	}
	for range 2 {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", m[1]))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("ping"))
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != `pod got "ping"` {
			t.Errorf("read %q, %v", got, err)
		}
		if c := <-containers; c != "runtime" {
			t.Errorf("the relay ran in container %q", c)
		}
	}
	(<-watchers).Delete(livePod("sb-a", "uid-1", "6"))
	if err := v.ended(t); err == nil || err.Error() != "pod sb-a was deleted" {
		t.Errorf("the verb returned %v, want the pod's deletion", err)
	}
}

// TestPortForwardWarnsOnIsolatedPods: asked to port-forward to a gVisor
// pod, the verb does, and warns that its connections will fail.
func TestPortForwardWarnsOnIsolatedPods(t *testing.T) {
	srv := podforwardtest.NewAPIServer(t, func(string, io.ReadWriter) {})
	pod := sandboxPod("sb-a", corev1.PodRunning)
	kata := "kata-qemu"
	pod.Spec.RuntimeClassName = &kata
	f := newForwardingFactory(t, srv, claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady"), sandboxObj("sb-a", ""), pod)
	v := start(t, f, NewCmdPortForward, []string{"a", ":8000", "--address", "127.0.0.1", "--transport", "port-forward"})
	var warning string
	select {
	case warning = <-v.errOut:
	case <-time.After(hang):
		t.Fatal("no warning")
	}
	if want := "Warning: pod sb-a runs under RuntimeClass kata-qemu, which port-forwards do not enter: connections through this one will fail (use --transport exec, or kubectl sandbox proxy a PORT)\n"; warning != want {
		t.Errorf("warned %q, want %q", warning, want)
	}
	v.line(t)
	if err := v.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("the verb returned %v", err)
	}
}
