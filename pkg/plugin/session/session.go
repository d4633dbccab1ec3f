// Package session connects to sandboxes: it opens the way to the sandbox
// router once, resolves claims to their sandboxes, and hands out a
// data-plane client per claim, also for many claims at once.
package session

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"
	"k8s.io/klog/v2"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// Options say how to reach the sandboxes.
type Options struct {
	Router router.Options
	// ServerPort is the runtime's port in the sandbox (X-Sandbox-Port).
	ServerPort int
}

// Session serves the sandboxes of one namespace. It is safe for concurrent
// use; Close releases what it opened.
type Session struct {
	clients *kube.Clients
	ns      string
	opts    Options

	mu   sync.Mutex
	conn *router.Conn
}

// New returns a session; it opens nothing until a sandbox is asked for.
func New(clients *kube.Clients, namespace string, opts Options) *Session {
	return &Session{clients: clients, ns: namespace, opts: opts}
}

// Namespace is the namespace the session serves.
func (s *Session) Namespace() string { return s.ns }

// router opens the way to the router on first use; a failed open is tried
// again by the next caller.
func (s *Session) router(ctx context.Context) (*router.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		return s.conn, nil
	}
	conn, err := router.Open(ctx, s.clients, s.opts.Router, s.ns)
	if err != nil {
		return nil, err
	}
	klog.V(2).Infof("reaching the sandbox router by %s", conn.Via)
	s.conn = conn
	return conn, nil
}

// Open resolves a Ready claim (one GET) and returns its sandbox's runtime.
func (s *Session) Open(ctx context.Context, claim string) (sandbox.Runtime, *extv1beta1.SandboxClaim, error) {
	c, err := claims.GetReady(ctx, s.clients.Ext, s.ns, claim)
	if err != nil {
		return nil, nil, err
	}
	rt, err := s.Runtime(ctx, c)
	return rt, c, err
}

// Runtime returns the runtime of a Ready claim already read.
func (s *Session) Runtime(ctx context.Context, c *extv1beta1.SandboxClaim) (sandbox.Runtime, error) {
	conn, err := s.router(ctx)
	if err != nil {
		return nil, err
	}
	return sandbox.NewClient(conn.BaseURL, conn.Transport, s.opts.Router.Token, sandbox.Target{
		SandboxID: claims.SandboxName(c),
		Namespace: c.Namespace,
		Port:      s.opts.ServerPort,
		PodIP:     claims.PreferredIP(c.Status.SandboxStatus.PodIPs),
	}), nil
}

// Each calls fn for every claim with its runtime, at most limit at a time.
// The router is opened before the first call; an error from opening it, or
// from fn, stops the rest and is returned.
func (s *Session) Each(ctx context.Context, list []*extv1beta1.SandboxClaim, limit int, fn func(context.Context, *extv1beta1.SandboxClaim, sandbox.Runtime) error) error {
	if _, err := s.router(ctx); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, c := range list {
		g.Go(func() error {
			rt, err := s.Runtime(gctx, c)
			if err != nil {
				return err
			}
			return fn(gctx, c, rt)
		})
	}
	return g.Wait()
}

// Close tears down the router connection (a port-forward), if any.
func (s *Session) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}
