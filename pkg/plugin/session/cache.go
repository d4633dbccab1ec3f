package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandboxd"
)

// DefaultIdle is how long a Cache keeps a claim's runtime that nothing
// uses.
const DefaultIdle = 10 * time.Minute

// Cache keeps, for a session that serves many calls (the MCP server), what
// it learned of each claim: its sandbox and pod, and the connection to its
// runtime (the router's, shared, or the sandboxd port-forward and gRPC
// dial). A claim's first call reads it (one GET) and opens its runtime;
// later calls make no API call at all while a watch of the claim, started
// at the resourceVersion read, sees no change of its identity (UID,
// sandbox, pod IPs, Ready; a pod failing its readiness probe for a while
// is no change). A change or its deletion closes what was kept;
// so does a claim left unused for the idle time. Where the claim cannot be
// watched, each call reads it again and keeps the connection while the
// claim is the same.
//
// A call whose runtime fails in a way a stale connection could (anything
// but the runtime's own answer) on a kept runtime asks the API server what
// the claim is now: if it is gone or not Ready, that is the error; if the
// request provably never left (sandbox.NotSent), it is sent once more on
// what the claim names now; if it may have been carried out and the claim
// names another sandbox or pod now, a *ChangedError says so. Requests that
// are not safe to send twice are never sent twice.
type Cache struct {
	s    *Session
	idle time.Duration

	resolving singleflight.Group
	mu        sync.Mutex
	entries   map[string]*entry
	closed    bool
	watches   sync.WaitGroup
	// refused says the API server refuses to watch claims: entries are
	// read again before each call.
	refused atomic.Bool
	// dropped and unwatched, when set (tests), hear of each entry dropped
	// and of each watch that failed.
	dropped, unwatched func(claim string)
}

// NewCache keeps what s learns for idle (0: DefaultIdle); Close closes s.
func NewCache(s *Session, idle time.Duration) *Cache {
	if idle <= 0 {
		idle = DefaultIdle
	}
	return &Cache{s: s, idle: idle, entries: map[string]*entry{}}
}

// entry is what the cache keeps of one claim.
type entry struct {
	claim string
	// key is the identity of the claim it was opened for (see identity).
	key string
	opened
	// watching says the claim's watch runs: it has not changed since.
	watching atomic.Bool
	stop     context.CancelFunc
	// users counts the calls under way; lastUse is when the last began.
	users   atomic.Int32
	lastUse atomic.Int64
	idle    *time.Timer
	gone    atomic.Bool
}

// identity is what must not change for a kept runtime to stay right. A
// claim whose pod fails its readiness probe for a while (on a busy node:
// DependenciesNotReady, with the same sandbox and pod IPs) keeps it: its
// runtime may well answer, and a call that fails on it reads the claim
// again (see Cache). The SDKs look at readiness only at creation.
func identity(c *extv1beta1.SandboxClaim) string {
	usable := claims.IsReady(c) || claims.PodNotReady(c)
	return strings.Join([]string{string(c.UID), claims.SandboxName(c), strings.Join(c.Status.SandboxStatus.PodIPs, ","),
		fmt.Sprint(usable)}, "/")
}

// ChangedError is a request that failed on a claim's sandbox as it was,
// after it may have been carried out, while the claim now names another
// sandbox or pod (it was resumed, or deleted and created again).
type ChangedError struct {
	Claim string
	// Err is the request's failure.
	Err error
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("sandboxclaim %q changed while the request was under way (it names another sandbox or pod now): %v", e.Claim, e.Err)
}

func (e *ChangedError) Unwrap() error { return e.Err }

// Runtime returns the runtime of a Ready claim, kept from an earlier call
// when the claim is the same. Its calls go to whatever the claim names
// when they are made.
func (c *Cache) Runtime(ctx context.Context, claim string) (sandbox.Runtime, error) {
	e, fresh, err := c.get(ctx, claim)
	if err != nil {
		return nil, err
	}
	// The first call goes to the entry just checked, without checking it
	// again.
	base := reused{c: c, claim: claim, first: &atomic.Pointer[checked]{}}
	base.first.Store(&checked{e, fresh})
	switch rt := e.rt.(type) {
	case sandbox.Streamer:
		return reusedStreamer{base}, nil
	case sandbox.UploadNames:
		return reusedNames{base, rt}, nil
	}
	return base, nil
}

// Forget drops what is kept of a claim (it was deleted).
func (c *Cache) Forget(claim string) {
	c.mu.Lock()
	e := c.entries[claim]
	c.mu.Unlock()
	if e != nil {
		c.evict(e)
	}
}

// Close drops everything kept, waits for the watches to end, and closes
// the session.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	entries := make([]*entry, 0, len(c.entries))
	for _, e := range c.entries {
		entries = append(entries, e)
	}
	c.mu.Unlock()
	for _, e := range entries {
		c.evict(e)
	}
	c.watches.Wait()
	c.s.Close()
}

// Len is how many claims the cache keeps.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

var errCacheClosed = errors.New("the session is closed")

// get returns the kept entry of a claim, or opens one (fresh).
func (c *Cache) get(ctx context.Context, claim string) (*entry, bool, error) {
	c.mu.Lock()
	e := c.entries[claim]
	c.mu.Unlock()
	if e != nil && e.watching.Load() {
		return e, false, nil
	}
	if e != nil {
		// Not watched: the claim is read to tell whether it is the same.
		cl, err := claims.GetReadyWithin(ctx, c.s.clients.Ext, c.s.ns, claim, c.s.opts.ReadyGrace)
		if err != nil {
			c.evict(e)
			return nil, false, err
		}
		if identity(cl) == e.key {
			c.watch(e, cl.ResourceVersion)
			return e, false, nil
		}
		c.evict(e)
	}
	v, err, _ := c.resolving.Do(claim, func() (any, error) { return c.open(ctx, claim) })
	if err != nil {
		return nil, false, err
	}
	return v.(*entry), true, nil
}

// open reads a Ready claim, opens its runtime and keeps it.
func (c *Cache) open(ctx context.Context, claim string) (*entry, error) {
	cl, err := claims.GetReadyWithin(ctx, c.s.clients.Ext, c.s.ns, claim, c.s.opts.ReadyGrace)
	if err != nil {
		return nil, err
	}
	o, err := c.s.open(ctx, cl)
	if err != nil {
		return nil, err
	}
	e := &entry{claim: claim, key: identity(cl), opened: o}
	e.lastUse.Store(time.Now().UnixNano())
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		if o.dial != nil {
			o.dial.Close()
		}
		return nil, errCacheClosed
	}
	old := c.entries[claim]
	c.entries[claim] = e
	e.idle = time.AfterFunc(c.idle, func() { c.expire(e) })
	c.mu.Unlock()
	if old != nil {
		c.evict(old)
	}
	c.watch(e, cl.ResourceVersion)
	return e, nil
}

// watch watches the claim of e from resourceVersion rv until its identity
// changes or it is deleted (e is dropped then), or e is dropped. A watch
// that fails leaves e unwatched: the next call reads the claim, and
// watches again unless the server refuses watches (the user may not
// watch claims, say).
func (c *Cache) watch(e *entry, rv string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || e.gone.Load() || e.watching.Load() || c.refused.Load() {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	e.stop = stop
	e.watching.Store(true)
	c.watches.Add(1)
	client := c.s.clients.Ext.ExtensionsV1beta1().SandboxClaims(c.s.ns)
	w := kube.Watch{LW: kube.ByName(e.claim, client.List, client.Watch), Name: e.claim, What: "sandboxclaim " + e.claim, From: rv}
	go func() {
		defer c.watches.Done()
		err := w.Until(ctx, func(ev watch.Event) (bool, error) {
			cl, ok := ev.Object.(*extv1beta1.SandboxClaim)
			return ok && (ev.Type == watch.Deleted || identity(cl) != e.key), nil
		})
		e.watching.Store(false)
		switch {
		case ctx.Err() != nil:
		case err == nil:
			klog.V(2).Infof("sandboxclaim %s changed: dropping its connection", e.claim)
			c.evict(e)
		default:
			klog.V(2).Infof("cannot watch sandboxclaim %s (%v): reading it before each call", e.claim, err)
			if apierrors.IsForbidden(err) || apierrors.IsMethodNotSupported(err) {
				c.refused.Store(true)
			}
			if c.unwatched != nil {
				c.unwatched(e.claim)
			}
		}
	}()
}

// expire drops e once it has been idle for the idle time (calls under way
// count as use).
func (c *Cache) expire(e *entry) {
	since := time.Since(time.Unix(0, e.lastUse.Load()))
	if e.users.Load() > 0 || since < c.idle {
		e.idle.Reset(max(c.idle-since, time.Second))
		return
	}
	c.evict(e)
}

// evict drops e from the cache (if it is still there) and closes it, once:
// its watch and timer stop, and its sandboxd connection closes.
func (c *Cache) evict(e *entry) {
	c.mu.Lock()
	if c.entries[e.claim] == e {
		delete(c.entries, e.claim)
	}
	stop := e.stop
	already := e.gone.Swap(true)
	c.mu.Unlock()
	if already {
		return
	}
	if e.idle != nil {
		e.idle.Stop()
	}
	if stop != nil {
		stop()
	}
	if e.dial != nil {
		e.dial.Close()
	}
	if c.dropped != nil {
		c.dropped(e.claim)
	}
}

// dropRouter forgets the router connection conn, whose requests cannot be
// sent (its port-forward ended): the next call opens another.
func (s *Session) dropRouter(conn *router.Conn) {
	s.mu.Lock()
	if s.conn != conn {
		s.mu.Unlock()
		return
	}
	s.conn = nil
	s.mu.Unlock()
	conn.Close()
}

// suspect says whether err, a failed call on a kept runtime, could come
// from what was kept being stale: anything but the runtime's own answer
// (an HTTP error of its, a gRPC status that is not about the connection),
// the caller's end, or a command that ran out of its time or was killed
// with its container.
func suspect(ctx context.Context, err error) bool {
	var httpErr *sandbox.HTTPError
	var procErr *sandboxd.ProcessError
	var timeout *sandbox.CommandTimeoutError
	var oom *claims.OOMKilledError
	switch {
	case ctx.Err() != nil, errors.As(err, &timeout), errors.As(err, &oom), errors.Is(err, errNoStream):
		return false
	case errors.As(err, &httpErr):
		return !httpErr.FromRuntime
	case errors.As(err, &procErr):
		switch status.Code(procErr.Err) {
		case codes.Unavailable, codes.Canceled, codes.Unknown, codes.Internal, codes.DeadlineExceeded:
			return true
		}
		return false
	}
	return true
}

// do runs op on the claim's runtime with the policy of Cache: op is sent
// again (once) only when resend allows it and the first try provably never
// left. It returns the entry op last ran on.
func (c *Cache) do(ctx context.Context, claim string, first *atomic.Pointer[checked], resend bool, op func(sandbox.Runtime) error) (*entry, error) {
	var e *entry
	var fresh bool
	var err error
	if ch := first.Swap(nil); ch != nil && !ch.e.gone.Load() {
		e, fresh = ch.e, ch.fresh
	} else if e, fresh, err = c.get(ctx, claim); err != nil {
		return nil, err
	}
	err = e.use(func() error { return op(e.rt) })
	if err == nil || !suspect(ctx, err) {
		return e, err
	}
	notSent := sandbox.NotSent(err)
	c.evict(e)
	if notSent && e.via != nil {
		c.s.dropRouter(e.via)
	}
	if fresh {
		// Opened for this very call: its failure is the claim's now.
		return e, err
	}
	now, _, rerr := c.get(ctx, claim)
	if rerr != nil {
		var notFound *claims.NotFoundError
		var notReady *claims.NotReadyError
		if errors.As(rerr, &notFound) || errors.As(rerr, &notReady) {
			return e, rerr // what the claim is now: gone, suspended, not Ready
		}
		return e, err
	}
	switch {
	case notSent && resend:
		return now, now.use(func() error { return op(now.rt) })
	case now.key != e.key:
		return e, &ChangedError{Claim: claim, Err: err}
	}
	return e, err
}

// use runs fn as a call on e.
func (e *entry) use(fn func() error) error {
	e.users.Add(1)
	e.lastUse.Store(time.Now().UnixNano())
	defer e.users.Add(-1)
	return fn()
}

// reused is a claim's runtime in a Cache: each call goes to what the
// claim names when it is made.
type reused struct {
	c     *Cache
	claim string
	// first is the entry that Runtime checked, for the first call.
	first *atomic.Pointer[checked]
}

// checked is an entry as get returned it.
type checked struct {
	e     *entry
	fresh bool
}

var (
	_ sandbox.Runtime     = reused{}
	_ sandbox.Streamer    = reusedStreamer{}
	_ sandbox.UploadNames = reusedNames{}
)

func (r reused) Execute(ctx context.Context, cmd sandbox.Command) (res *sandbox.Result, err error) {
	_, err = r.c.do(ctx, r.claim, r.first, true, func(rt sandbox.Runtime) error {
		res, err = rt.Execute(ctx, cmd)
		return err
	})
	return res, err
}

// Upload is sent again (when it never left) only if its content can be
// read again from where it started: its content is read as it is sent.
func (r reused) Upload(ctx context.Context, path string, content io.Reader) error {
	seeker, resend := content.(io.Seeker)
	var start int64
	if resend {
		var err error
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			resend = false
		}
	}
	tries := 0
	_, err := r.c.do(ctx, r.claim, r.first, resend, func(rt sandbox.Runtime) error {
		if tries++; tries > 1 {
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return err
			}
		}
		return rt.Upload(ctx, path, content)
	})
	return err
}

// Download counts as a use of the claim's runtime until its body is
// closed.
func (r reused) Download(ctx context.Context, path string) (body io.ReadCloser, size int64, err error) {
	e, err := r.c.do(ctx, r.claim, r.first, true, func(rt sandbox.Runtime) error {
		body, size, err = rt.Download(ctx, path)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	e.users.Add(1)
	return &usedBody{ReadCloser: body, e: e}, size, nil
}

// usedBody is a download's body, a use of its entry until it is closed.
type usedBody struct {
	io.ReadCloser
	e    *entry
	once sync.Once
}

func (b *usedBody) Close() error {
	b.once.Do(func() { b.e.users.Add(-1) })
	return b.ReadCloser.Close()
}

func (r reused) List(ctx context.Context, path string) (entries []sandbox.Entry, err error) {
	_, err = r.c.do(ctx, r.claim, r.first, true, func(rt sandbox.Runtime) error {
		entries, err = rt.List(ctx, path)
		return err
	})
	return entries, err
}

func (r reused) Exists(ctx context.Context, path string) (ok bool, err error) {
	_, err = r.c.do(ctx, r.claim, r.first, true, func(rt sandbox.Runtime) error {
		ok, err = rt.Exists(ctx, path)
		return err
	})
	return ok, err
}

func (r reused) Remove(ctx context.Context, path string, recursive bool) error {
	_, err := r.c.do(ctx, r.claim, r.first, true, func(rt sandbox.Runtime) error { return rt.Remove(ctx, path, recursive) })
	return err
}

// reusedStreamer is a claim's runtime that streams.
type reusedStreamer struct{ reused }

// errNoStream is a claim that names a sandbox that does not stream now.
var errNoStream = errors.New("the sandbox no longer runs a runtime that streams (the claim names another sandbox now)")

func (r reusedStreamer) Stream(ctx context.Context, cmd sandbox.Command, s sandbox.Streams) (code int, err error) {
	_, err = r.c.do(ctx, r.claim, r.first, true, func(rt sandbox.Runtime) error {
		st, ok := rt.(sandbox.Streamer)
		if !ok {
			return errNoStream
		}
		code, err = st.Stream(ctx, cmd, s)
		return err
	})
	return code, err
}

// reusedNames is a claim's runtime that refuses some upload names.
type reusedNames struct {
	reused
	un sandbox.UploadNames
}

func (r reusedNames) UploadsName(p string) bool { return r.un.UploadsName(p) }
