// Package mcp serves kubectl sandbox's tools over the Model Context
// Protocol, on the caller's own Kubernetes identity: the cluster's RBAC
// decides what an agent may do. Every sandbox it creates carries a
// server-side TTL and a label naming its MCP session, and is deleted when
// that session ends (unless Keep).
package mcp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// SessionLabel names the MCP session that created a claim.
const SessionLabel = "kubectl-sandbox/mcp-session"

// Defaults of Options.
const (
	DefaultTTL          = time.Hour
	DefaultMaxOutput    = 16 << 10
	DefaultMaxReadBytes = 1 << 20
	DefaultReadyTimeout = 2 * time.Minute
)

// Options configure the server.
type Options struct {
	// Namespace is where the tools act; with AllowNamespace a tool call
	// may name another.
	Namespace      string
	AllowNamespace bool
	// AllowPools and AllowTemplates, when set, restrict what may be
	// claimed (a pool is allowed if it, or its template, is listed).
	AllowPools, AllowTemplates []string
	// TTL is the expiry of created sandboxes; a tool call may ask for less.
	TTL time.Duration
	// Keep leaves created sandboxes when a session ends.
	Keep bool
	// MaxOutput is the default output budget of a command, per stream.
	MaxOutput int
	// MaxReadBytes caps what read_file returns.
	MaxReadBytes int
	ReadyTimeout time.Duration
	// Session says how to reach the sandboxes' runtimes.
	Session session.Options
	// Version is the server's version, for the handshake.
	Version string
	// Describe words an error as the one line the CLI prints (with its
	// hint); nil uses err.Error().
	Describe func(err error, verb string) string
	// Now is the clock.
	Now func() time.Time
}

// Server holds the tools' state: the claims each MCP session created.
type Server struct {
	clients *kube.Clients
	opts    Options

	mu       sync.Mutex
	sessions map[*sdk.ServerSession]string // session -> label value
	created  map[string]map[string]string  // label value -> "ns/name" -> name
	// cleaning is closed when a session's cleanup under way is over.
	cleaning map[string]chan struct{}
	// caches keep, per namespace, what the tools learned of claims and
	// their connections, across calls and MCP sessions.
	caches map[string]*session.Cache
}

// New returns a server acting with clients.
func New(clients *kube.Clients, opts Options) *Server {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.MaxOutput == 0 {
		opts.MaxOutput = DefaultMaxOutput
	}
	if opts.MaxReadBytes <= 0 {
		opts.MaxReadBytes = DefaultMaxReadBytes
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{clients: clients, opts: opts, sessions: map[*sdk.ServerSession]string{},
		created: map[string]map[string]string{}, cleaning: map[string]chan struct{}{}, caches: map[string]*session.Cache{}}
}

// MCP returns the MCP server with the tools. Each session's sandboxes are
// deleted when it ends, unless Keep.
func (s *Server) MCP() *sdk.Server {
	srv := sdk.NewServer(&sdk.Implementation{Name: "kubectl-sandbox", Title: "kubectl sandbox", Version: s.opts.Version}, &sdk.ServerOptions{
		Instructions: "Isolated sandboxes (agent-sandbox) on a Kubernetes cluster, with the user's own identity. " +
			"Create one with sandbox_create (it expires by itself and is deleted when this session ends), run commands with sandbox_exec, " +
			"move files with sandbox_write_file and sandbox_read_file, and delete it with sandbox_delete; sandbox_run does all of it in one call. " +
			"Start servers and long commands in the background with sandbox_job_start, and follow, list and kill them with sandbox_job_output, sandbox_job_list and sandbox_job_kill.",
		InitializedHandler: func(ctx context.Context, req *sdk.InitializedRequest) {
			s.sessionID(req.Session)
		},
	})
	s.addTools(srv)
	return srv
}

// sessionID is the label value of a session, made on first use (the
// initialized notification, or the first tool call of a client that does
// not send one); what the session creates is deleted when it ends.
func (s *Server) sessionID(ss *sdk.ServerSession) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.sessions[ss]; ok {
		return id
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	id := "mcp-" + hex.EncodeToString(b)
	s.sessions[ss] = id
	s.created[id] = map[string]string{}
	if ss != nil {
		go func() {
			_ = ss.Wait()
			s.endSession(ss)
		}()
	}
	return id
}

// track records a claim a session created (before it is Ready, so that a
// session that ends meanwhile still deletes it).
func (s *Server) track(id, ns, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.created[id] == nil {
		s.created[id] = map[string]string{}
	}
	s.created[id][ns+"/"+name] = name
}

func (s *Server) untrack(id, ns, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.created[id], ns+"/"+name)
}

// owns says whether any session of this server created ns/name.
func (s *Server) owns(ns, name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, m := range s.created {
		if _, ok := m[ns+"/"+name]; ok {
			return id, true
		}
	}
	return "", false
}

// endSession deletes what a session created (unless Keep).
func (s *Server) endSession(ss *sdk.ServerSession) {
	s.mu.Lock()
	id, ok := s.sessions[ss]
	delete(s.sessions, ss)
	s.mu.Unlock()
	if ok {
		if err := s.cleanup(id); err != nil {
			klog.Errorf("MCP session %s ended: %v", id, err)
		}
	}
}

// cache is the cache of namespace ns, made on first use.
func (s *Server) cache(ns string) *session.Cache {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.caches[ns]
	if c == nil {
		c = session.NewCache(session.New(s.clients, ns, s.opts.Session), 0)
		if s.caches == nil {
			// After Cleanup: a call that outlived the shutdown keeps
			// nothing (its calls fail with "the session is closed").
			c.Close()
			return c
		}
		s.caches[ns] = c
	}
	return c
}

// closeCaches closes the connections the tools kept; the server keeps
// none after it.
func (s *Server) closeCaches() {
	s.mu.Lock()
	caches := s.caches
	s.caches = nil
	s.mu.Unlock()
	for _, c := range caches {
		c.Close()
	}
}

// Cleanup deletes what every session created (unless Keep), waiting for
// cleanups under way, and closes the connections the tools kept; it is
// what a shutting-down server calls. A claim created meanwhile (a call
// that outlived the shutdown) is deleted too.
func (s *Server) Cleanup() error {
	defer s.closeCaches()
	var errs []error
	for range 3 {
		s.mu.Lock()
		var ids []string
		for id, m := range s.created {
			if len(m) > 0 {
				ids = append(ids, id)
			}
		}
		waits := make([]chan struct{}, 0, len(s.cleaning))
		for _, ch := range s.cleaning {
			waits = append(waits, ch)
		}
		s.mu.Unlock()
		for _, ch := range waits {
			<-ch
		}
		if len(ids) == 0 && len(waits) == 0 {
			break
		}
		for _, id := range ids {
			errs = append(errs, s.cleanup(id))
		}
	}
	return errors.Join(errs...)
}

// cleanup deletes what session id created so far; a caller that comes
// while another is at it waits for that one.
func (s *Server) cleanup(id string) error {
	s.mu.Lock()
	if ch, ok := s.cleaning[id]; ok {
		s.mu.Unlock()
		<-ch
		return nil
	}
	ch := make(chan struct{})
	s.cleaning[id] = ch
	defer func() {
		s.mu.Lock()
		delete(s.cleaning, id)
		s.mu.Unlock()
		close(ch)
	}()
	byNS := map[string][]string{}
	for key, name := range s.created[id] {
		ns := key[:len(key)-len(name)-1]
		byNS[ns] = append(byNS[ns], name)
	}
	delete(s.created, id)
	s.mu.Unlock()
	if s.opts.Keep {
		for ns, names := range byNS {
			klog.Infof("MCP session %s ended: keeping sandboxclaims %v in namespace %s (--keep)", id, names, ns)
		}
		return nil
	}
	var errs []error
	for ns, names := range byNS {
		sort.Strings(names)
		ctx, cancel := context.WithTimeout(context.Background(), claims.CleanupTimeout)
		_, err := claims.DeleteAll(ctx, s.clients.Ext, ns, names, claims.DeleteOptions{})
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("deleting sandboxclaims %v in namespace %s: %w", names, ns, err))
			continue
		}
		klog.V(1).Infof("MCP session %s ended: deleted sandboxclaims %v in namespace %s", id, names, ns)
	}
	return errors.Join(errs...)
}

// namespace is the namespace a tool call acts in.
func (s *Server) namespace(asked string) (string, error) {
	if asked == "" || asked == s.opts.Namespace {
		return s.opts.Namespace, nil
	}
	if !s.opts.AllowNamespace {
		return "", fmt.Errorf("this server acts in namespace %q only (start it with --allow-namespace to let tools name another)", s.opts.Namespace)
	}
	return asked, nil
}

// allowed checks a pool and its template against the allow-lists.
func (s *Server) allowed(pool, template string) error {
	if len(s.opts.AllowPools) == 0 && len(s.opts.AllowTemplates) == 0 {
		return nil
	}
	if slices.Contains(s.opts.AllowPools, pool) || template != "" && slices.Contains(s.opts.AllowTemplates, template) {
		return nil
	}
	return fmt.Errorf("pool %q (template %q) is not allowed here: allowed pools %v, templates %v", pool, template, s.opts.AllowPools, s.opts.AllowTemplates)
}

// describe words err for the agent, as the CLI would.
func (s *Server) describe(err error, verb string) error {
	if err == nil {
		return nil
	}
	if s.opts.Describe != nil {
		return errors.New(s.opts.Describe(err, verb))
	}
	return err
}

var getOpts = metav1.GetOptions{}
