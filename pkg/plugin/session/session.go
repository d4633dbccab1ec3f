// Package session connects to sandboxes: it opens the way to the sandbox
// router once, resolves claims to their sandboxes, and hands out a
// data-plane client per claim, also for many claims at once.
package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podconn"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandboxd"
)

// Runtimes a session can speak.
const (
	// RuntimeAuto picks sandboxd when the sandbox's pod template announces
	// it (sandboxd.Detect), else the python runtime.
	RuntimeAuto = "auto"
	// RuntimePython is the python runtime through the sandbox router.
	RuntimePython = "python"
	// RuntimeSandboxd is sandboxd in the pod, reached by a port-forward or
	// a relay over pods/exec (Options.Transport).
	RuntimeSandboxd = "sandboxd"
)

// Runtime is a choice of runtime, and how a session reaches it.
type Runtime struct{ Name, Doc string }

// Runtimes are the runtimes a session speaks (Options.Runtime),
// RuntimeAuto first.
var Runtimes = []Runtime{
	{RuntimeAuto, "sandboxd when the pod template announces it"},
	{RuntimePython, "through the router"},
	{RuntimeSandboxd, "in the pod, by --transport"},
}

// Roots are the root directories of the runtimes (see
// sandbox.Roots.RemotePath).
var Roots = sandbox.Roots{{Dir: python.Root}, {Dir: sandboxd.Root, Runtime: RuntimeSandboxd}}

// RemotePath turns a user's sandbox path into a runtime path of whichever
// runtime the sandbox runs.
func RemotePath(p string) (string, error) { return Roots.RemotePath(p) }

// Options say how to reach the sandboxes.
type Options struct {
	Router router.Options
	// ServerPort is the runtime's port in the sandbox (X-Sandbox-Port).
	ServerPort int
	// Runtime is RuntimeAuto ("" too), RuntimePython or RuntimeSandboxd.
	Runtime string
	// Sandboxd overrides sandboxd's ports; a zero port comes from the pod
	// template, else sandboxd's default.
	Sandboxd sandboxd.Ports
	// Transport is how sandboxd's ports in the pod are reached:
	// podconn.Auto ("" too), podconn.PortForward or podconn.Exec.
	Transport string
	// ReadyGrace is how long a claim bound to its sandbox whose pod is not
	// ready (starting, or failing its readiness probe on a busy node) is
	// waited for before a call says it is not Ready (0: not at all).
	ReadyGrace time.Duration
}

// Session serves the sandboxes of one namespace. It is safe for concurrent
// use; Close releases what it opened.
type Session struct {
	clients *kube.Clients
	ns      string
	opts    Options

	opening singleflight.Group
	classes *podconn.Classes
	mu      sync.Mutex
	conn    *router.Conn
	dials   []*sandboxd.Conn
}

// New returns a session; it opens nothing until a sandbox is asked for.
func New(clients *kube.Clients, namespace string, opts Options) *Session {
	return &Session{clients: clients, ns: namespace, opts: opts, classes: podconn.NewClasses(clients)}
}

// Namespace is the namespace the session serves.
func (s *Session) Namespace() string { return s.ns }

// router opens the way to the router on first use; a failed open is tried
// again by the next caller.
func (s *Session) router(ctx context.Context) (*router.Conn, error) {
	if err := ctx.Err(); err != nil {
		// Each's others, after the first failed to open it.
		return nil, context.Cause(ctx)
	}
	// Callers that arrive while it is being opened share the outcome.
	v, err, _ := s.opening.Do("router", func() (any, error) {
		s.mu.Lock()
		conn := s.conn
		s.mu.Unlock()
		if conn != nil {
			return conn, nil
		}
		conn, err := router.Open(ctx, s.clients, s.opts.Router, s.ns)
		if err != nil {
			return nil, err
		}
		klog.V(2).Infof("reaching the sandbox router by %s", conn.Via)
		s.mu.Lock()
		s.conn = conn
		s.mu.Unlock()
		return conn, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*router.Conn), nil
}

// Open resolves a Ready claim (one GET) and returns its sandbox's runtime.
func (s *Session) Open(ctx context.Context, claim string) (sandbox.Runtime, *extv1beta1.SandboxClaim, error) {
	c, err := claims.GetReadyWithin(ctx, s.clients.Ext, s.ns, claim, s.opts.ReadyGrace)
	if err != nil {
		return nil, nil, err
	}
	rt, err := s.Runtime(ctx, c)
	return rt, c, err
}

// Runtime returns the runtime of a Ready claim already read. Unless the
// runtime is set, it reads the claim's Sandbox to tell which one it runs.
func (s *Session) Runtime(ctx context.Context, c *extv1beta1.SandboxClaim) (sandbox.Runtime, error) {
	o, err := s.open(ctx, c)
	if o.dial != nil {
		s.mu.Lock()
		s.dials = append(s.dials, o.dial)
		s.mu.Unlock()
	}
	return o.rt, err
}

// opened is a claim's runtime, and what it goes through.
type opened struct {
	rt sandbox.Runtime
	// dial is the sandboxd connection dialled for it (the caller's to
	// close), via the router connection of the python runtime.
	dial *sandboxd.Conn
	via  *router.Conn
}

// open is Runtime, but the sandboxd connection it dials, if any, is the
// caller's to close.
func (s *Session) open(ctx context.Context, c *extv1beta1.SandboxClaim) (opened, error) {
	if s.opts.Runtime == RuntimePython {
		return s.python(ctx, c)
	}
	name := claims.SandboxName(c)
	sb, err := s.clients.Agents.AgentsV1beta1().Sandboxes(c.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil && s.opts.Runtime != RuntimeSandboxd && (apierrors.IsForbidden(err) || apierrors.IsNotFound(err)) {
		// Whoever may use claims but not read Sandboxes gets the runtime
		// that needs no more.
		klog.V(2).Infof("cannot read sandbox %s (%v): using the python runtime", name, err)
		return s.python(ctx, c)
	}
	if err != nil {
		return opened{}, fmt.Errorf("getting sandbox %q of sandboxclaim %q: %w", name, c.Name, err)
	}
	ports, ok := sandboxd.Detect(&sb.Spec.PodTemplate.Spec)
	if !ok && s.opts.Runtime != RuntimeSandboxd {
		return s.python(ctx, c)
	}
	if s.opts.Sandboxd.GRPC != 0 {
		ports.GRPC = s.opts.Sandboxd.GRPC
	}
	if s.opts.Sandboxd.REST != 0 {
		ports.REST = s.opts.Sandboxd.REST
	}
	return s.sandboxd(ctx, sb, ports)
}

// sandboxd reaches sandboxd on ports in a Sandbox's pod, by the session's
// transport.
func (s *Session) sandboxd(ctx context.Context, sb *sandboxv1beta1.Sandbox, ports sandboxd.Ports) (opened, error) {
	spec := &sb.Spec.PodTemplate.Spec
	pod := sandboxd.Pod{Namespace: sb.Namespace, Name: claims.PodName(sb), Container: sandboxd.Container(spec)}
	transport := s.opts.Transport
	if transport == "" {
		transport = podconn.Auto
	}
	if transport == podconn.Auto {
		pod.Isolated = s.classes.Isolated(ctx, spec.RuntimeClassName)
	}
	klog.V(2).Infof("sandbox %s runs sandboxd: reaching pod %s ports %d and %d (transport %s)", sb.Name, pod, ports.GRPC, ports.REST, transport)
	conn, err := sandboxd.Dial(ctx, s.clients, pod, ports, sb.Name, transport)
	if err != nil {
		return opened{}, err
	}
	klog.V(2).Infof("reaching sandboxd in pod %s by %s", pod, conn.Transport())
	return opened{rt: explainOOM(conn, s.clients.Core, pod.Namespace, pod.Name), dial: conn}, nil
}

// python returns the python runtime of a claim, through the router.
func (s *Session) python(ctx context.Context, c *extv1beta1.SandboxClaim) (opened, error) {
	conn, err := s.router(ctx)
	if err != nil {
		return opened{}, err
	}
	t, waited, err := s.target(ctx, conn, c, s.opts.ServerPort)
	if err != nil {
		return opened{}, err
	}
	// The connection's transport presents the credential: the client sends
	// no token of its own.
	client := python.NewClient(conn.BaseURL, conn.Transport, "", t)
	client.Explain = conn.Explain
	if waited {
		// The router's cache learns of the adoption by a watch of its own,
		// maybe a moment after ours; a command must not be sent (once) into
		// that moment: the health check, retried on the router's 502, is.
		if err := client.Reach(ctx); err != nil {
			if ctx.Err() != nil {
				return opened{}, context.Cause(ctx)
			}
			klog.V(2).Infof("sandbox %s/%s: %v", t.Namespace, t.SandboxID, err)
		}
	}
	// The pod is named after the Sandbox (the Sandbox itself is not read
	// for the python runtime).
	return opened{rt: explainOOM(client, s.clients.Core, c.Namespace, claims.SandboxName(c)), via: conn}, nil
}

// byNameWait bounds how long a call waits for the router to be able to
// find a Ready claim's pod by name (a variable for tests).
var byNameWait = 10 * time.Second

// target is where the router sends a request for port of c's sandbox: by
// the pod's IP too, unless the router's credential is a scoped token,
// which must admit the sandbox. By name alone, the router finds the pod in
// its cache only once the controller has taken the warm-pool label off an
// adopted pod, which may come after the claim is Ready: that is waited
// for, up to byNameWait, and waited says it was; past it, or without the
// right to read pods, the request goes anyway and the router's answer
// stands.
func (s *Session) target(ctx context.Context, conn *router.Conn, c *extv1beta1.SandboxClaim, port int) (t python.Target, waited bool, err error) {
	t = python.Target{SandboxID: claims.SandboxName(c), Namespace: c.Namespace, Port: port}
	if err := conn.Admits(t.Namespace, t.SandboxID); err != nil {
		return t, false, err
	}
	if !conn.ByNameOnly() {
		t.PodIP = claims.PreferredIP(c.Status.SandboxStatus.PodIPs)
		return t, false, nil
	}
	wctx, cancel := context.WithTimeoutCause(ctx, byNameWait, errByNameWait)
	defer cancel()
	waited, err = claims.WaitRoutableByName(wctx, s.clients.Core, t.Namespace, t.SandboxID)
	if err != nil {
		if ctx.Err() != nil {
			return t, waited, context.Cause(ctx)
		}
		klog.V(2).Infof("sending to sandbox %s/%s by name without knowing that the router can find it: %v", t.Namespace, t.SandboxID, err)
	}
	return t, waited, nil
}

// errByNameWait ends the wait of target.
var errByNameWait = errors.New("the pod is not yet routable by name")

// Proxy returns an HTTP handler that passes every request, WebSocket
// upgrades included, to port of a Ready claim's sandbox through the router;
// the router credential, if any, replaces the request's Authorization. errs,
// if set, hears of each request that could not be passed on.
func (s *Session) Proxy(ctx context.Context, claim string, port int, errs func(*http.Request, error)) (http.Handler, error) {
	c, err := claims.GetReadyWithin(ctx, s.clients.Ext, s.ns, claim, s.opts.ReadyGrace)
	if err != nil {
		return nil, err
	}
	conn, err := s.router(ctx)
	if err != nil {
		return nil, err
	}
	// A proxy's first request may meet the router's cache a moment behind
	// the adoption (see python); no request of the user's is made here to
	// find out: the port may serve anything.
	t, _, err := s.target(ctx, conn, c, port)
	if err != nil {
		return nil, err
	}
	base := conn.BaseURL
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(base)
			// The connection's transport presents the router credential.
			pr.Out.Header.Del("Authorization")
			t.SetHeaders(pr.Out.Header, "")
		},
		Transport:     conn.Transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errs != nil {
				errs(r, err)
			}
			http.Error(w, "kubectl sandbox proxy: cannot reach the sandbox router: "+err.Error(), http.StatusBadGateway)
		},
	}, nil
}

// Each calls fn for every claim with its runtime, at most limit at a time.
// The first claim's runtime is opened before the others start (so that the
// router, when it is needed, is opened once, and a failure to open it stops
// everything at once); an error from opening a runtime, or from fn, stops
// the rest and is returned.
func (s *Session) Each(ctx context.Context, list []*extv1beta1.SandboxClaim, limit int, fn func(context.Context, *extv1beta1.SandboxClaim, sandbox.Runtime) error) error {
	if len(list) == 0 {
		return nil
	}
	first, err := s.Runtime(ctx, list[0])
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i, c := range list {
		g.Go(func() error {
			rt := first
			if i > 0 {
				var err error
				if rt, err = s.Runtime(gctx, c); err != nil {
					return err
				}
			}
			return fn(gctx, c, rt)
		})
	}
	return g.Wait()
}

// Close tears down the router connection and the connections to sandboxd.
func (s *Session) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dials {
		d.Close()
	}
	s.dials = nil
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}
