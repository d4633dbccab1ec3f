package sandboxd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podconn"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// Environment variables by which a pod template announces sandboxd
// (agent-sandbox's KEP 539.2 discovery variables).
const (
	EnvGRPCAddr = "SANDBOXD_GRPC_ADDR"
	EnvRESTAddr = "SANDBOXD_REST_ADDR"
)

// Ports are sandboxd's listening ports in the pod.
type Ports struct{ GRPC, REST int }

// Detect says whether a pod spec runs sandboxd, and on which ports: a
// container that sets SANDBOXD_GRPC_ADDR or SANDBOXD_REST_ADDR (their
// ports, else the defaults), or a container named "sandboxd" (the
// defaults).
func Detect(spec *corev1.PodSpec) (Ports, bool) {
	ports := Ports{GRPC: DefaultGRPCPort, REST: DefaultRESTPort}
	found := false
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if c.Name == "sandboxd" {
			found = true
		}
		for _, e := range c.Env {
			switch e.Name {
			case EnvGRPCAddr:
				found = true
				if p := addrPort(e.Value); p > 0 {
					ports.GRPC = p
				}
			case EnvRESTAddr:
				found = true
				if p := addrPort(e.Value); p > 0 {
					ports.REST = p
				}
			}
		}
	}
	return ports, found
}

// Container is the container of a pod spec that runs sandboxd: the one
// named "sandboxd", else the first that announces it (its environment
// names sandboxd's addresses), else "" (the pod's default). A relay over
// pods/exec runs in it: any container shares the pod's loopback, and this
// one is known to run.
func Container(spec *corev1.PodSpec) string {
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range all {
		if c.Name == "sandboxd" {
			return c.Name
		}
	}
	for _, c := range all {
		for _, e := range c.Env {
			if e.Name == EnvGRPCAddr || e.Name == EnvRESTAddr {
				return c.Name
			}
		}
	}
	return ""
}

// addrPort is the port of HOST:PORT, or 0.
func addrPort(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return 0
	}
	return p
}

// UnreachableError is a pod whose sandboxd port does not answer: it may
// not run sandboxd.
type UnreachableError struct {
	Namespace, Pod string
	Port           int
	// Transport is how the port was tried (podconn.PortForward or Exec).
	Transport string
	Err       error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("pod %s/%s does not answer on sandboxd's port %d: %v", e.Namespace, e.Pod, e.Port, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Conn is a Client over a transport to the pod; Close ends both.
type Conn struct {
	*Client
	grpc   *grpc.ClientConn
	dialer podconn.Dialer
}

// Close releases the connections and the transport.
func (c *Conn) Close() {
	_ = c.grpc.Close()
	c.http.CloseIdleConnections()
	c.dialer.Close()
}

// Transport is the transport the connection uses (podconn.PortForward or
// podconn.Exec).
func (c *Conn) Transport() string { return c.dialer.Transport() }

// Pod is the pod that runs sandboxd.
type Pod struct {
	Namespace, Name string
	// Container runs the relays of the exec transport ("": the pod's
	// default; see Container).
	Container string
	// Isolated says why port-forwards do not reach the pod's listeners
	// (podconn.Classes.Isolated): podconn.Auto then uses pods/exec at once.
	Isolated string
}

func (p Pod) String() string { return p.Namespace + "/" + p.Name }

// firstAnswer bounds the wait for sandboxd's first answer through a
// port-forward when podconn.Auto may still fall back to pods/exec: under
// gVisor or Kata the forward opens, then its connections die (or hang).
const firstAnswer = time.Second

// Dial reaches sandboxd's ports in pod by transport (podconn.Auto,
// PortForward or Exec) and checks that sandboxd answers its health check
// and gRPC. name names the sandbox in errors.
func Dial(ctx context.Context, clients *kube.Clients, pod Pod, ports Ports, name, transport string) (*Conn, error) {
	switch {
	case transport == podconn.Exec:
		return over(ctx, relay(clients, pod), pod, ports, name, 0)
	case transport == podconn.PortForward:
		return forward(ctx, clients, pod, ports, name, 0)
	case pod.Isolated != "":
		klog.V(2).Infof("pod %s runs under %s, which port-forwards do not enter: relaying to sandboxd over pods/exec", pod, pod.Isolated)
		return over(ctx, relay(clients, pod), pod, ports, name, 0)
	}
	return dialAuto(ctx, clients, pod, ports, name)
}

// dialAuto port-forwards, and relays over pods/exec when sandboxd does not
// answer through the forward within firstAnswer.
func dialAuto(ctx context.Context, clients *kube.Clients, pod Pod, ports Ports, name string) (*Conn, error) {
	c, pfErr := forward(ctx, clients, pod, ports, name, firstAnswer)
	if _, noAnswer := errors.AsType[*UnreachableError](pfErr); pfErr == nil || ctx.Err() != nil || !noAnswer && !isForbidden(pfErr) {
		return c, pfErr
	}
	klog.V(2).Infof("sandboxd in pod %s not reached through a port-forward (%v): relaying over pods/exec", pod, pfErr)
	c, err := over(ctx, relay(clients, pod), pod, ports, name, 0)
	if err == nil || ctx.Err() != nil {
		return c, err
	}
	if _, ok := errors.AsType[*UnreachableError](err); ok {
		// Both transports reached the pod, and nothing answered there.
		return nil, err
	}
	if errors.Is(pfErr, context.DeadlineExceeded) {
		// The forward's connection lived, and sandboxd was only slow to
		// answer (a busy node): with no relay to fall back to, it gets the
		// time a health check has.
		klog.V(2).Infof("no relay over pods/exec to pod %s (%v): port-forwarding again, with time for sandboxd to answer", pod, err)
		c, ferr := forward(ctx, clients, pod, ports, name, 0)
		if ferr == nil || ctx.Err() != nil {
			return c, ferr
		}
		pfErr = ferr
	}
	return nil, &podconn.FailedError{Namespace: pod.Namespace, Pod: pod.Name, PortForward: pfErr, Exec: err}
}

func isForbidden(err error) bool {
	_, ok := errors.AsType[*kube.ForbiddenError](err)
	return ok
}

// relay is a dialer of relays in pod's sandboxd container.
func relay(clients *kube.Clients, pod Pod) podconn.Dialer {
	return podconn.Relay(clients, podexec.Target{Namespace: pod.Namespace, Pod: pod.Name, Container: pod.Container})
}

// forward connects to sandboxd through a port-forward (within as over's).
func forward(ctx context.Context, clients *kube.Clients, pod Pod, ports Ports, name string, within time.Duration) (*Conn, error) {
	fw, err := podconn.Forward(ctx, clients, pod.Namespace, pod.Name, ports.GRPC, ports.REST)
	if err != nil {
		return nil, err
	}
	return over(ctx, fw, pod, ports, name, within)
}

// over connects to sandboxd through d, which it closes on failure; within
// > 0 bounds the wait for sandboxd's first answer.
func over(ctx context.Context, d podconn.Dialer, pod Pod, ports Ports, name string, within time.Duration) (*Conn, error) {
	conn, err := grpc.NewClient("passthrough:///"+net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.GRPC)),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return d.DialPort(ctx, ports.GRPC) }))
	if err != nil {
		d.Close()
		return nil, err
	}
	rest := &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.REST))}
	httpClient := &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialPort(ctx, ports.REST) },
			MaxIdleConnsPerHost: 16,
			// An idle connection over pods/exec is a relay left in the pod.
			IdleConnTimeout: time.Minute,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c := &Conn{Client: New(conn, rest, httpClient, pod.Namespace+"/"+name), grpc: conn, dialer: d}
	// gRPC connects while the health check runs: over pods/exec, each is
	// a relay to start.
	conn.Connect()
	hctx := ctx
	if within > 0 {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, within)
		defer cancel()
	}
	if err := c.Health(hctx); err != nil {
		c.Close()
		switch {
		case ctx.Err() != nil:
			return nil, context.Cause(ctx)
		case hctx.Err() != nil:
			return nil, &UnreachableError{Namespace: pod.Namespace, Pod: pod.Name, Port: ports.REST, Transport: d.Transport(),
				Err: fmt.Errorf("no answer within %s: %w", within, hctx.Err())}
		}
		return nil, unanswered(err, pod, ports.REST, d.Transport())
	}
	if err := connected(ctx, conn); err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, &UnreachableError{Namespace: pod.Namespace, Pod: pod.Name, Port: ports.GRPC, Transport: d.Transport(), Err: err}
	}
	return c, nil
}

// unanswered words a failed health check on port: sandboxd's own answer
// (not ready), a relay that could not start (said as it is), or no
// answer at all (an *UnreachableError: the port is not sandboxd's).
func unanswered(err error, pod Pod, port int, transport string) error {
	if _, ok := errors.AsType[*sandbox.HTTPError](err); ok {
		return err
	}
	if _, ok := errors.AsType[*podexec.NoListenerError](err); ok {
		return &UnreachableError{Namespace: pod.Namespace, Pod: pod.Name, Port: port, Transport: transport, Err: errors.New("nothing accepts connections on it (seen through pods/exec)")}
	}
	if e, ok := errors.AsType[*kube.ForbiddenError](err); ok {
		return e
	}
	if e, ok := errors.AsType[*podexec.NoRelayError](err); ok {
		return e
	}
	if e, ok := errors.AsType[*podexec.RelayError](err); ok {
		return e
	}
	return &UnreachableError{Namespace: pod.Namespace, Pod: pod.Name, Port: port, Transport: transport, Err: errors.Unwrap(err)}
}

// connected connects conn, which the first call would do anyway, and
// waits until it has connected or failed to.
func connected(ctx context.Context, conn *grpc.ClientConn) error {
	conn.Connect()
	for {
		state := conn.GetState()
		switch state {
		case connectivity.Ready:
			return nil
		case connectivity.TransientFailure, connectivity.Shutdown:
			return errors.New("no gRPC server answered")
		}
		if !conn.WaitForStateChange(ctx, state) {
			return ctx.Err()
		}
	}
}
