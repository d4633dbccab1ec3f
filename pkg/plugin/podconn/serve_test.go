package podconn

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec/podexectest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, podforwardtest.LeakOptions()...)
}

// funcDialer dials with a function.
type funcDialer func(ctx context.Context, port int) (net.Conn, error)

func (f funcDialer) DialPort(ctx context.Context, port int) (net.Conn, error) { return f(ctx, port) }
func (funcDialer) Close()                                                     {}
func (funcDialer) Transport() string                                          { return Exec }

// pod is a pod's listener; each connection it accepts goes to the test.
func pod(t *testing.T) (funcDialer, <-chan net.Conn) {
	t.Helper()
	port, conns := podexectest.Listener(t)
	var d net.Dialer
	return func(ctx context.Context, p int) (net.Conn, error) {
		if p != 80 {
			return nil, &podexec.NoListenerError{Target: podexec.Target{Namespace: "team", Pod: "box-0"}, Port: p}
		}
		return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}, conns
}

func within[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing within 5s")
		var zero T
		return zero
	}
}

// serve runs Serve in the background; its result comes on the channel.
func serve(ctx context.Context, d Dialer, routes []Route, warn func(error)) <-chan error {
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, d, routes, warn) }()
	return done
}

// TestServe: each local connection reaches the pod's port, bytes pass
// both ways; the local side's end ends the pod's; a connection to a port
// where nothing listens is a warning and the next one works; ctx's end
// closes the listeners and every connection, and is what Serve returns.
func TestServe(t *testing.T) {
	d, podConns := pod(t)
	routes, err := Listen([]string{"127.0.0.1"}, [][2]int{{0, 80}, {0, 81}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var warnings []string
	warned := make(chan struct{}, 1)
	ctx, cancel := context.WithCancelCause(context.Background())
	done := serve(ctx, d, routes, func(err error) {
		mu.Lock()
		warnings = append(warnings, err.Error())
		mu.Unlock()
		warned <- struct{}{}
	})

	local, err := net.Dial("tcp", routes[0].Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	remote := within(t, podConns)
	if _, err := local.Write([]byte("ping\x00")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(remote, buf); err != nil || string(buf) != "ping\x00" {
		t.Fatalf("the pod read %q, %v", buf, err)
	}
	_, _ = remote.Write([]byte("pong\xff"))
	if _, err := io.ReadFull(local, buf); err != nil || string(buf) != "pong\xff" {
		t.Fatalf("read %q, %v", buf, err)
	}
	_ = local.Close()
	if n, err := remote.Read(buf); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("after the local close the pod read %d, %v", n, err)
	}

	refused, err := net.Dial("tcp", routes[1].Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	within(t, warned)
	if n, err := refused.Read(buf); n != 0 || err == nil {
		t.Errorf("a refused connection read %d, %v", n, err)
	}
	_ = refused.Close()
	mu.Lock()
	if len(warnings) != 1 || warnings[0] != "nothing accepts connections on port 81 in pod team/box-0 (its loopback, reached through pods/exec)" {
		t.Errorf("warnings %q", warnings)
	}
	mu.Unlock()

	open, err := net.Dial("tcp", routes[0].Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	openRemote := within(t, podConns)
	stopped := errors.New("stopped")
	cancel(stopped)
	if err := within(t, done); !errors.Is(err, stopped) {
		t.Errorf("Serve = %v", err)
	}
	if n, err := openRemote.Read(buf); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("after Serve the pod's connection read %d, %v", n, err)
	}
	_ = open.Close()
	if _, err := net.Dial("tcp", routes[0].Listener.Addr().String()); err == nil {
		t.Error("the listener still accepts")
	}
}

// TestServeStops: a refusal that every next connection would meet ends
// Serve with it, without a warning.
func TestServeStops(t *testing.T) {
	for _, fatal := range []error{
		&kube.ForbiddenError{Namespace: "team", Pod: "box-0", Subresource: kube.Exec},
		&podexec.NoRelayError{Target: podexec.Target{Namespace: "team", Pod: "box-0"}, Why: "it has no sh"},
	} {
		routes, err := Listen([]string{"127.0.0.1"}, [][2]int{{0, 80}})
		if err != nil {
			t.Fatal(err)
		}
		d := funcDialer(func(context.Context, int) (net.Conn, error) { return nil, fatal })
		done := serve(context.Background(), d, routes, func(err error) { t.Errorf("warned: %v", err) })
		c, err := net.Dial("tcp", routes[0].Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if err := within(t, done); !errors.Is(err, fatal) {
			t.Errorf("Serve = %v, want %v", err, fatal)
		}
		_ = c.Close()
	}
}

// TestListen: LOCAL 0 is one free port on every address; a port taken is
// an error that closes what was opened.
func TestListen(t *testing.T) {
	routes, err := Listen([]string{"127.0.0.1", "127.0.0.2"}, [][2]int{{0, 80}})
	if err != nil {
		t.Skipf("no 127.0.0.2 here: %v", err)
	}
	if len(routes) != 2 || routes[0].Port != 80 || routes[1].Port != 80 {
		t.Fatalf("routes %+v", routes)
	}
	p0, p1 := routes[0].Listener.Addr().(*net.TCPAddr), routes[1].Listener.Addr().(*net.TCPAddr)
	if p0.Port != p1.Port || p0.IP.String() != "127.0.0.1" || p1.IP.String() != "127.0.0.2" {
		t.Errorf("listening on %s and %s", p0, p1)
	}
	taken := p0.Port
	_, err = Listen([]string{"127.0.0.3", "127.0.0.1"}, [][2]int{{taken, 80}})
	if err == nil || !strings.HasPrefix(err.Error(), "unable to listen on port "+strconv.Itoa(taken)+": ") {
		t.Errorf("Listen on a taken port = %v", err)
	}
	// 127.0.0.3's listener was closed: the port can be listened on again.
	again, err := net.Listen("tcp", net.JoinHostPort("127.0.0.3", strconv.Itoa(taken)))
	if err != nil {
		t.Errorf("the first listener was left open: %v", err)
	} else {
		_ = again.Close()
	}
	for _, r := range routes {
		_ = r.Listener.Close()
	}
}
