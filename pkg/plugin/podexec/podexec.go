// Package podexec reaches ports on a pod's loopback through the API
// server's pods/exec: each connection is a relay (see Command) started in
// one of the pod's containers, which connects to 127.0.0.1:PORT and copies
// bytes between that connection and the exec stream. The stream is opened
// as kubectl exec opens it: WebSocket first, SPDY when the server or a
// proxy refuses the WebSocket upgrade.
//
// It works where a port-forward cannot enter the pod's network: under
// gVisor and Kata the kubelet's port-forward connects in the pod's host-side
// network namespace, while the pod's listeners live in the sandbox's own
// network stack; an exec runs inside the sandbox.
package podexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	"k8s.io/klog/v2"
	streamhttp "k8s.io/streaming/pkg/httpstream"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

// closeGrace is how long Close waits for the relay to end by itself (its
// input ended) before it tears the stream down.
const closeGrace = 2 * time.Second

// maxStderr bounds what is kept of a relay's standard error.
const maxStderr = 4096

// Target is the pod, and the container in it, that runs the relays.
type Target struct {
	Namespace, Pod string
	// Container runs the relay; "" is the pod's only or default container
	// (the API server picks it, as for kubectl exec).
	Container string
}

func (t Target) String() string { return t.Namespace + "/" + t.Pod }

// Dialer opens connections to ports on a pod's loopback, one relay each.
// It holds no connection of its own: each is closed by its user.
type Dialer struct {
	clients *kube.Clients
	target  Target
}

// NewDialer returns a dialer to target's ports; it makes no API call.
func NewDialer(clients *kube.Clients, target Target) *Dialer {
	return &Dialer{clients: clients, target: target}
}

// Target is where the dialer's relays run.
func (d *Dialer) Target() Target { return d.target }

// executor opens exec streams running argv, as kubectl exec does.
func (d *Dialer) executor(argv []string) (remotecommand.Executor, error) {
	u := d.clients.Core.RESTClient().Post().Resource("pods").Namespace(d.target.Namespace).Name(d.target.Pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: d.target.Container, Command: argv, Stdin: true, Stdout: true, Stderr: true,
		}, scheme.ParameterCodec).URL()
	spdyExec, err := remotecommand.NewSPDYExecutor(d.clients.Config, http.MethodPost, u)
	if err != nil {
		return nil, err
	}
	// A WebSocket upgrade is a GET (RFC 6455, section 4.1).
	wsExec, err := remotecommand.NewWebSocketExecutor(d.clients.Config, http.MethodGet, u.String())
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(wsExec, spdyExec, func(err error) bool {
		return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)
	})
}

// Dial starts a relay to port and returns its connection once the relay
// has connected. ctx bounds only the dial; the connection lives until it
// is closed or either end closes it.
func (d *Dialer) Dial(ctx context.Context, port int) (net.Conn, error) {
	ex, err := d.executor(Command(port))
	if err != nil {
		return nil, err
	}
	user, relay := net.Pipe()
	sctx, cancel := context.WithCancel(klog.NewContext(context.WithoutCancel(ctx), kube.StreamLogger(klog.FromContext(ctx))))
	c := &conn{Conn: user, cancel: cancel, done: make(chan struct{}), addr: addr{target: d.target, port: port}}
	go func() {
		defer close(c.done)
		c.err = ex.StreamWithContext(sctx, remotecommand.StreamOptions{
			Stdin: relay, Stdout: drainAfterClose{relay}, Stderr: &c.stderr,
		})
		_ = relay.Close() // the user reads the end of the stream
	}()
	if err := c.ready(ctx); err != nil {
		_ = c.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, d.explain(ctx, port, c, err)
	}
	return c, nil
}

// explain words why a relay ended before it was ready (readErr is what
// reading its Ready line gave).
func (d *Dialer) explain(ctx context.Context, port int, c *conn, readErr error) error {
	<-c.done
	stderr := strings.TrimSpace(c.stderr.String())
	var code exec.CodeExitError
	switch {
	case c.err == nil && errors.Is(readErr, errNotReady):
		return &RelayError{Target: d.target, Port: port, Err: readErr}
	case c.err == nil:
		return &RelayError{Target: d.target, Port: port, Err: fmt.Errorf("the relay ended before it connected: %s", stderrOr(stderr, "no message"))}
	case errors.As(c.err, &code) && code.Code == ExitRefused:
		return &NoListenerError{Target: d.target, Port: port}
	case errors.As(c.err, &code) && code.Code == ExitNoInterpreter:
		return &NoRelayError{Target: d.target, Why: stderrOr(stderr, "no interpreter for the relay")}
	case errors.As(c.err, &code):
		return &RelayError{Target: d.target, Port: port, Err: fmt.Errorf("%w: %s", c.err, stderrOr(stderr, "no message"))}
	case strings.Contains(c.err.Error(), "executable file not found"):
		// The runtime could not start sh.
		return &NoRelayError{Target: d.target, Why: "it has no sh (" + strings.Join(strings.Fields(c.err.Error()), " ") + ")"}
	}
	err := kube.Refused(ctx, d.clients, d.target.Namespace, d.target.Pod, kube.Exec, c.err)
	var forbidden *kube.ForbiddenError
	if errors.As(err, &forbidden) {
		return err
	}
	return &RelayError{Target: d.target, Port: port, Err: err}
}

func stderrOr(stderr, otherwise string) string {
	if stderr == "" {
		return otherwise
	}
	return strings.Join(strings.Fields(stderr), " ")
}

// conn is a relay's stream as a net.Conn: the user's end of a pipe whose
// other end is the stream's input and output.
type conn struct {
	net.Conn
	cancel context.CancelFunc
	done   chan struct{}
	// err is the stream's outcome, stderr the relay's messages; both are
	// read once done is closed.
	err    error
	stderr boundedBuffer
	addr   addr
	once   sync.Once
}

// errNotReady is a relay whose output did not begin with Ready (something
// else ran: a shell profile that prints, a wrapper of sh).
var errNotReady = errors.New("the relay did not say it was ready")

// ready reads the relay's Ready line, until ctx ends.
func (c *conn) ready(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := readReady(c.Conn); err != nil {
		return err
	}
	if !stop() {
		return ctx.Err() // the deadline may be set: the connection is unusable
	}
	return nil
}

// readReady reads exactly the relay's Ready line from r: what follows is
// the connection's.
func readReady(r io.Reader) error {
	buf := make([]byte, len(Ready))
	if _, err := io.ReadFull(r, buf); err != nil {
		return err
	}
	if string(buf) != Ready {
		return fmt.Errorf("%w: it began with %q", errNotReady, buf)
	}
	return nil
}

// Close ends the relay's input, which ends the relay, and waits for its
// stream to end; a relay that does not end within closeGrace has its
// stream torn down.
func (c *conn) Close() error {
	c.once.Do(func() {
		_ = c.Conn.Close()
		t := time.NewTimer(closeGrace)
		defer t.Stop()
		select {
		case <-c.done:
		case <-t.C:
			klog.V(4).InfoS("the exec relay did not end: closing its stream", "pod", c.addr.target, "port", c.addr.port)
		}
		c.cancel()
		<-c.done
	})
	return nil
}

func (c *conn) LocalAddr() net.Addr  { return c.addr }
func (c *conn) RemoteAddr() net.Addr { return c.addr }

// addr names a relay's port: pod NS/NAME, port P.
type addr struct {
	target Target
	port   int
}

func (a addr) Network() string { return "pods/exec" }
func (a addr) String() string  { return fmt.Sprintf("%s:%d", a.target, a.port) }

// drainAfterClose passes the stream's output to the pipe, and drops it
// once the user has closed the pipe: the stream is read to its end (the
// relay is ending), and client-go sees no error to log.
type drainAfterClose struct{ w io.Writer }

func (d drainAfterClose) Write(b []byte) (int, error) {
	n, err := d.w.Write(b)
	if errors.Is(err, io.ErrClosedPipe) {
		return len(b), nil
	}
	return n, err
}

// boundedBuffer keeps the first maxStderr bytes written to it.
type boundedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxStderr - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
