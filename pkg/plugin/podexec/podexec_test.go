package podexec_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec/podexectest"
)

// clientsOf are clients of the fake API server; authz answers access
// reviews (nil: none are asked).
func clientsOf(t *testing.T, url string, authz *fake.Clientset) *kube.Clients {
	t.Helper()
	cfg := &rest.Config{Host: url}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &kube.Clients{Config: cfg, Core: core}
	if authz != nil {
		c.Authz = authz.AuthorizationV1()
	}
	return c
}

func ended(t *testing.T, srv *podexectest.APIServer) {
	t.Helper()
	select {
	case <-srv.Ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the exec's stream did not end within 5s")
	}
}

var target = podexec.Target{Namespace: "team", Pod: "box-0", Container: "sandboxd"}

// TestDialRelays: over WebSocket and, when a proxy refuses that, SPDY,
// bytes pass both ways unchanged (the Ready line is not among them); the
// exec runs the relay in the container asked for; Close ends the server's
// connection and the exec's stream.
func TestDialRelays(t *testing.T) {
	for _, tc := range []struct {
		name        string
		noWebSocket bool
		upgrades    []string
	}{
		{"websocket", false, []string{"websocket"}},
		{"spdy fallback", true, []string{"websocket", "spdy/3.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port, conns := podexectest.Listener(t)
			srv := podexectest.NewAPIServer(t, podexectest.RelayTo("", nil), nil)
			srv.NoWebSocket.Store(tc.noWebSocket)
			c, err := podexec.NewDialer(clientsOf(t, srv.URL, nil), target).Dial(context.Background(), port)
			if err != nil {
				t.Fatal(err)
			}
			server := <-conns
			msg := []byte("ping\x00\xff\r\n" + strings.Repeat("x", 100<<10))
			go func() { _, _ = c.Write(msg) }()
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(server, got); err != nil || string(got) != string(msg) {
				t.Fatalf("the pod's server read %d bytes, %v; want the %d sent", len(got), err, len(msg))
			}
			if _, err := server.Write([]byte("pong\x00\xfe")); err != nil {
				t.Fatal(err)
			}
			back := make([]byte, 6)
			if _, err := io.ReadFull(c, back); err != nil || string(back) != "pong\x00\xfe" {
				t.Fatalf("read %q, %v", back, err)
			}
			if got, want := c.RemoteAddr().String(), fmt.Sprintf("team/box-0:%d", port); got != want || c.RemoteAddr().Network() != "pods/exec" {
				t.Errorf("remote address %s %q, want pods/exec %q", c.RemoteAddr().Network(), got, want)
			}
			if err := c.Close(); err != nil {
				t.Error(err)
			}
			if n, err := server.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
				t.Errorf("after Close the server read %d, %v; want EOF", n, err)
			}
			ended(t, srv)
			var upgrades []string
			for _, r := range srv.Requests() {
				f := strings.Split(r, " ")
				if f[1] != "/api/v1/namespaces/team/pods/box-0/exec" || f[3] != "sandboxd" {
					t.Errorf("request %q", r)
				}
				upgrades = append(upgrades, f[2])
			}
			if !reflect.DeepEqual(upgrades, tc.upgrades) {
				t.Errorf("upgrades %q, want %q", upgrades, tc.upgrades)
			}
		})
	}
}

// TestDialServerEnds: when the pod's server closes the connection, the
// relay ends and the caller reads EOF after the last bytes.
func TestDialServerEnds(t *testing.T) {
	port, conns := podexectest.Listener(t)
	srv := podexectest.NewAPIServer(t, podexectest.RelayTo("", nil), nil)
	c, err := podexec.NewDialer(clientsOf(t, srv.URL, nil), target).Dial(context.Background(), port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	server := <-conns
	_, _ = server.Write([]byte("last words"))
	_ = server.Close()
	if got, err := io.ReadAll(c); string(got) != "last words" || err != nil {
		t.Errorf("read %q, %v; want the last words, then EOF", got, err)
	}
	ended(t, srv)
}

// TestDialFailures: each way a relay cannot start is one error that says
// why, and no stream is left open.
func TestDialFailures(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freePort := closed.Addr().(*net.TCPAddr).Port
	_ = closed.Close()
	for _, tc := range []struct {
		name string
		run  podexectest.Run
		want string
		is   any
	}{
		{
			name: "nothing listens", run: podexectest.RelayTo("", nil),
			want: fmt.Sprintf("nothing accepts connections on port %d in pod team/box-0 (its loopback, reached through pods/exec)", freePort),
			is:   new(*podexec.NoListenerError),
		},
		{
			name: "no interpreter",
			run: func(e *podexectest.Exec) (int, error) {
				fmt.Fprint(e.Stderr, "neither bash with cat nor python3 is in the container\n")
				return podexec.ExitNoInterpreter, nil
			},
			want: "cannot start a relay in pod team/box-0 through pods/exec: container sandboxd: neither bash with cat nor python3 is in the container",
			is:   new(*podexec.NoRelayError),
		},
		{
			name: "no sh",
			run: func(e *podexectest.Exec) (int, error) {
				return 0, errors.New(`failed to exec in container: exec: "sh": executable file not found in $PATH`)
			},
			want: `cannot start a relay in pod team/box-0 through pods/exec: container sandboxd: it has no sh (error executing command in container: failed to exec in container: exec: "sh": executable file not found in $PATH)`,
			is:   new(*podexec.NoRelayError),
		},
		{
			name: "another exit code",
			run: func(e *podexectest.Exec) (int, error) {
				fmt.Fprint(e.Stderr, "bash: line 1: \nsegfault\n")
				return 139, nil
			},
			want: fmt.Sprintf("relay to port %d of pod team/box-0 through pods/exec: command terminated with exit code 139: bash: line 1: segfault", freePort),
			is:   new(*podexec.RelayError),
		},
		{
			name: "ends at once",
			run:  func(*podexectest.Exec) (int, error) { return 0, nil },
			want: fmt.Sprintf("relay to port %d of pod team/box-0 through pods/exec: the relay ended before it connected: no message", freePort),
			is:   new(*podexec.RelayError),
		},
		{
			name: "begins with something else",
			run: func(e *podexectest.Exec) (int, error) {
				fmt.Fprint(e.Stdout, "motd: welcome to the container\n")
				return 0, nil
			},
			want: fmt.Sprintf(`relay to port %d of pod team/box-0 through pods/exec: the relay did not say it was ready: it began with "motd: welcome to the contain"`, freePort),
			is:   new(*podexec.RelayError),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := podexectest.NewAPIServer(t, tc.run, nil)
			c, err := podexec.NewDialer(clientsOf(t, srv.URL, nil), target).Dial(context.Background(), freePort)
			if err == nil {
				_ = c.Close()
				t.Fatal("Dial succeeded")
			}
			if err.Error() != tc.want {
				t.Errorf("error\n %q\nwant\n %q", err, tc.want)
			}
			if !errors.As(err, tc.is) {
				t.Errorf("error %T, want %T", err, tc.is)
			}
			ended(t, srv)
		})
	}
}

// TestDialForbidden: an exec that RBAC refuses, and an access review
// confirms, is a *kube.ForbiddenError naming pods/exec and the namespace;
// when the review allows it (or none can be asked) the error is the
// stream's.
func TestDialForbidden(t *testing.T) {
	srv := podexectest.NewAPIServer(t, podexectest.RelayTo("", nil), nil)
	srv.Forbidden.Store(true)
	authz, asked := kubetest.Reviewer(false, nil)
	_, err := podexec.NewDialer(clientsOf(t, srv.URL, authz), target).Dial(context.Background(), 9090)
	var forbidden *kube.ForbiddenError
	if !errors.As(err, &forbidden) || forbidden.Subresource != kube.Exec || forbidden.Err == nil {
		t.Fatalf("Dial = %v, want a *kube.ForbiddenError", err)
	}
	if want := `exec into pod team/box-0 is forbidden: you may not create pods/exec in namespace "team"`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	want := []authzv1.ResourceAttributes{{Namespace: "team", Verb: "create", Resource: "pods", Subresource: "exec", Name: "box-0"}}
	if !reflect.DeepEqual(*asked, want) {
		t.Errorf("access reviews %+v, want %+v", *asked, want)
	}

	for _, authz := range []*fake.Clientset{func() *fake.Clientset { a, _ := kubetest.Reviewer(true, nil); return a }(), nil} {
		_, err = podexec.NewDialer(clientsOf(t, srv.URL, authz), target).Dial(context.Background(), 9090)
		var relayErr *podexec.RelayError
		if !errors.As(err, &relayErr) || errors.As(err, &forbidden) || !strings.Contains(err.Error(), `cannot create resource \"pods/exec\"`) &&
			!strings.Contains(err.Error(), `cannot create resource "pods/exec"`) {
			t.Errorf("Dial = %v, want the stream's error", err)
		}
	}
}

// TestDialCancelled: a dial whose context ends before the relay is ready
// returns the context's cause, and its stream ends.
func TestDialCancelled(t *testing.T) {
	release, started := make(chan struct{}), make(chan struct{})
	srv := podexectest.NewAPIServer(t, func(e *podexectest.Exec) (int, error) {
		close(started)
		<-release // the relay never says it is ready
		return 0, nil
	}, nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("interrupted")
	go func() {
		<-started
		cancel(cause)
	}()
	_, err := podexec.NewDialer(clientsOf(t, srv.URL, nil), target).Dial(ctx, 9090)
	close(release)
	if !errors.Is(err, cause) {
		t.Errorf("Dial = %v, want %v", err, cause)
	}
	ended(t, srv)
}
