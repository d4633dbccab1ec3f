package session

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentsfake "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned/fake"
	extfake "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python/pythontest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandboxd"
)

var claimsGVR = extv1beta1.GroupVersion.WithResource("sandboxclaims")

// cacheFixture is a Cache over a fake API server whose claim watches the
// test drives, and a fake router with the python runtime.
type cacheFixture struct {
	t       *testing.T
	c       *Cache
	ext     *extfake.Clientset
	router  *pythontest.Router
	watches chan *watch.FakeWatcher
	dropped chan string
	// unwatched hears of each watch that failed.
	unwatched chan string
}

// uid, sandbox and ips make a Ready claim "box" at resourceVersion rv.
func boxClaim(uid, sandbox, rv string, ips ...string) *extv1beta1.SandboxClaim {
	c := readyClaim("box", sandbox, ips...)
	c.UID, c.ResourceVersion = types.UID(uid), rv
	return c
}

func newCacheFixture(t *testing.T, watchErr error, objs ...*extv1beta1.SandboxClaim) *cacheFixture {
	t.Helper()
	f := &cacheFixture{t: t, ext: extfake.NewSimpleClientset(), router: pythontest.NewRouter(t),
		watches: make(chan *watch.FakeWatcher, 10), dropped: make(chan string, 10), unwatched: make(chan string, 10)}
	for _, o := range objs {
		if err := f.ext.Tracker().Add(o); err != nil {
			t.Fatal(err)
		}
	}
	f.ext.PrependWatchReactor("sandboxclaims", func(a k8stesting.Action) (bool, watch.Interface, error) {
		if handled, w, err := kubetest.NoStreamingList(a); handled {
			return handled, w, err
		}
		if watchErr != nil {
			return true, nil, watchErr
		}
		w := watch.NewFake()
		f.watches <- w
		return true, w, nil
	})
	u, err := url.Parse(f.router.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := New(&kube.Clients{Ext: f.ext, Agents: agentsfake.NewSimpleClientset()}, ns,
		Options{Router: router.Options{URL: u}, ServerPort: 8888, Runtime: RuntimePython})
	f.c = NewCache(s, 0)
	f.c.dropped = func(claim string) { f.dropped <- claim }
	f.c.unwatched = func(claim string) { f.unwatched <- claim }
	t.Cleanup(f.c.Close)
	return f
}

// exec runs `echo hi` on box through the cache.
func (f *cacheFixture) exec() (*sandbox.Result, error) {
	f.t.Helper()
	rt, err := f.c.Runtime(context.Background(), "box")
	if err != nil {
		return nil, err
	}
	return rt.Execute(context.Background(), sandbox.Command{Argv: []string{"echo", "hi"}})
}

// execOK runs `echo hi`, which must succeed.
func (f *cacheFixture) execOK() {
	f.t.Helper()
	if res, err := f.exec(); err != nil || res.ExitCode != 0 {
		f.t.Fatalf("exec: %+v, %v", res, err)
	}
}

// gets counts the GETs of claims so far.
func (f *cacheFixture) gets() int {
	n := 0
	for _, a := range f.ext.Actions() {
		if a.GetVerb() == "get" && a.GetResource().Resource == "sandboxclaims" {
			n++
		}
	}
	return n
}

// executes lists "sandbox pod-ip" of each /execute the router saw.
func (f *cacheFixture) executes() []string {
	var out []string
	for _, r := range f.router.Requests() {
		if r.Path == "/execute" {
			out = append(out, r.Header.Get("X-Sandbox-ID")+" "+r.Header.Get("X-Sandbox-Pod-IP"))
		}
	}
	return out
}

// watcher is the watch the cache started.
func (f *cacheFixture) watcher() *watch.FakeWatcher {
	f.t.Helper()
	select {
	case w := <-f.watches:
		return w
	case <-time.After(30 * time.Second):
		f.t.Fatal("the cache started no watch")
	}
	return nil
}

// set replaces box in the API server (no event).
func (f *cacheFixture) set(c *extv1beta1.SandboxClaim) {
	f.t.Helper()
	if err := f.ext.Tracker().Update(claimsGVR, c, ns); err != nil {
		f.t.Fatal(err)
	}
}

// waitDropped waits until the cache dropped box.
func (f *cacheFixture) waitDropped() {
	f.t.Helper()
	select {
	case <-f.dropped:
	case <-time.After(30 * time.Second):
		f.t.Fatal("the cache kept the claim")
	}
}

// kept replaces the runtime the cache keeps for box.
func (f *cacheFixture) kept(rt sandbox.Runtime) {
	f.c.mu.Lock()
	f.c.entries["box"].rt = rt
	f.c.mu.Unlock()
}

// failing is a kept runtime whose every call fails with err; an upload
// reads read bytes of its content first.
type failing struct {
	sandbox.Runtime
	err   error
	read  int
	mu    sync.Mutex
	calls int
}

func (r *failing) Execute(context.Context, sandbox.Command) (*sandbox.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return nil, r.err
}

func (r *failing) Upload(_ context.Context, _ string, content io.Reader) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	_, _ = io.CopyN(io.Discard, content, int64(r.read))
	return r.err
}

// claimsSandbox is the sandbox of c, or sb-1 for nil.
func claimsSandbox(c *extv1beta1.SandboxClaim) string {
	if c == nil {
		return "sb-1"
	}
	return c.Status.SandboxStatus.Name
}

// TestCacheKeepsAClaimsRuntime: the second call on a claim makes no API
// call; both reach its sandbox and pod; one watch starts, at the
// resourceVersion read.
func TestCacheKeepsAClaimsRuntime(t *testing.T) {
	f := newCacheFixture(t, nil, boxClaim("u1", "sb-1", "7", "10.0.0.1"))
	f.execOK()
	w := f.watcher()
	f.execOK()
	f.execOK()
	if n := f.gets(); n != 1 {
		t.Errorf("%d GETs of the claim for 3 calls, want 1", n)
	}
	if got, want := strings.Join(f.executes(), "; "), "sb-1 10.0.0.1; sb-1 10.0.0.1; sb-1 10.0.0.1"; got != want {
		t.Errorf("executes %q, want %q", got, want)
	}
	var watchRV string
	for _, a := range f.ext.Actions() {
		if wa, ok := a.(k8stesting.WatchActionImpl); ok {
			watchRV = wa.ListOptions.ResourceVersion
		}
	}
	if watchRV != "7" {
		t.Errorf("the watch started at resourceVersion %q, want 7", watchRV)
	}
	// A change that is not of the claim's identity keeps it.
	c := boxClaim("u1", "sb-1", "8", "10.0.0.1")
	c.Labels = map[string]string{"x": "y"}
	w.Modify(c)
	f.execOK()
	if f.c.Len() != 1 || f.gets() != 1 {
		t.Errorf("a label change dropped the claim: kept %d, GETs %d", f.c.Len(), f.gets())
	}
}

// TestCacheFollowsTheClaim: each change of the claim that the watch sees
// (resumed with another pod IP; re-created with another sandbox; suspended;
// deleted) drops what was kept, and the next call goes to what the claim
// names now, or fails with what it is now.
func TestCacheFollowsTheClaim(t *testing.T) {
	f := newCacheFixture(t, nil, boxClaim("u1", "sb-1", "7", "10.0.0.1"))
	f.execOK()

	resumed := boxClaim("u1", "sb-1", "9", "10.0.0.2")
	f.set(resumed)
	f.watcher().Modify(resumed)
	f.waitDropped()
	f.execOK()

	recreated := boxClaim("u2", "sb-2", "11", "10.0.0.3")
	f.set(recreated)
	f.watcher().Modify(recreated)
	f.waitDropped()
	f.execOK()
	if got, want := strings.Join(f.executes(), "; "), "sb-1 10.0.0.1; sb-1 10.0.0.2; sb-2 10.0.0.3"; got != want {
		t.Errorf("executes %q, want %q", got, want)
	}

	suspended := boxClaim("u2", "sb-2", "12")
	suspended.Status.Conditions = []metav1.Condition{{Type: claims.ConditionReady, Status: metav1.ConditionFalse, Reason: "SandboxSuspended"}}
	f.set(suspended)
	f.watcher().Modify(suspended)
	f.waitDropped()
	var notReady *claims.NotReadyError
	if _, err := f.exec(); !errors.As(err, &notReady) || err.Error() != `sandboxclaim "box" is not Ready (SandboxSuspended)` {
		t.Errorf("after the suspension: %v", err)
	}

	back := boxClaim("u2", "sb-2", "13", "10.0.0.4")
	f.set(back)
	f.execOK() // read again: it was dropped
	if err := f.ext.Tracker().Delete(claimsGVR, ns, "box"); err != nil {
		t.Fatal(err)
	}
	f.watcher().Delete(back)
	f.waitDropped()
	var notFound *claims.NotFoundError
	if _, err := f.exec(); !errors.As(err, &notFound) {
		t.Errorf("after the deletion: %v", err)
	}
	if n := len(f.executes()); n != 4 {
		t.Errorf("%d commands reached the router, want 4", n)
	}
}

// TestCacheAnswersWithTheClaimsStateNotAStaleError: a kept runtime fails as
// a stale connection would (the router's 502, a command that may have been
// sent) before the watch told of a change. The claim is read again: gone or
// not Ready, that is the error; replaced, a *ChangedError says the request
// may have been carried out on the sandbox as it was; the same, the error
// stands. Nothing is sent twice.
func TestCacheAnswersWithTheClaimsStateNotAStaleError(t *testing.T) {
	badGateway := &sandbox.HTTPError{Op: "execute", Status: 502, Detail: "Could not connect to the backend sandbox: sb-1", Sandbox: "sb-1"}
	sent := &python.SentError{Op: "execute", Err: io.ErrUnexpectedEOF}
	suspended := boxClaim("u1", "sb-1", "8")
	suspended.Status.Conditions = []metav1.Condition{{Type: claims.ConditionReady, Status: metav1.ConditionFalse, Reason: "SandboxSuspended"}}
	for _, tc := range []struct {
		name string
		err  error
		now  *extv1beta1.SandboxClaim // nil: deleted
		want string
	}{
		{"suspended", badGateway, suspended, `sandboxclaim "box" is not Ready (SandboxSuspended)`},
		{"deleted", sent, nil, `sandboxclaim "box" not found in namespace "team"`},
		{"re-created", sent, boxClaim("u2", "sb-2", "9", "10.0.0.2"),
			`sandboxclaim "box" changed while the request was under way (it names another sandbox or pod now): ` + sent.Error()},
		{"resumed", badGateway, boxClaim("u1", "sb-1", "9", "10.0.0.2"),
			`sandboxclaim "box" changed while the request was under way (it names another sandbox or pod now): ` + badGateway.Error()},
		{"the same", sent, boxClaim("u1", "sb-1", "7", "10.0.0.1"), sent.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCacheFixture(t, nil, boxClaim("u1", "sb-1", "7", "10.0.0.1"))
			f.execOK()
			stale := &failing{err: tc.err}
			f.kept(stale)
			if tc.now == nil {
				if err := f.ext.Tracker().Delete(claimsGVR, ns, "box"); err != nil {
					t.Fatal(err)
				}
			} else {
				f.set(tc.now)
			}
			_, err := f.exec()
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v\nwant  %s", err, tc.want)
			}
			if stale.calls != 1 || len(f.executes()) != 1 {
				t.Errorf("sent %d times on the stale runtime and %d on the router after the first call, want once and never", stale.calls, len(f.executes())-1)
			}
		})
	}
}

// TestCacheSendsAgainOnlyWhatNeverLeft: a command that provably never left
// (the router's port-forward is gone: nothing listens) is sent once more,
// on what the claim names now, the same claim or a new one; an upload too
// when its content can be read again from where it started, not when it
// is a stream.
func TestCacheSendsAgainOnlyWhatNeverLeft(t *testing.T) {
	neverLeft := &python.ConnError{Op: "execute", Err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")}
	for _, tc := range []struct {
		name string
		now  *extv1beta1.SandboxClaim
		want string
	}{
		{"the same claim", nil, "sb-1 10.0.0.1; sb-1 10.0.0.1"},
		{"re-created", boxClaim("u2", "sb-2", "9", "10.0.0.2"), "sb-1 10.0.0.1; sb-2 10.0.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newCacheFixture(t, nil, boxClaim("u1", "sb-1", "7", "10.0.0.1"))
			f.execOK()
			if tc.now != nil {
				f.set(tc.now)
			}
			stale := &failing{err: neverLeft}
			f.kept(stale)
			f.execOK()
			if got := strings.Join(f.executes(), "; "); stale.calls != 1 || got != tc.want {
				t.Errorf("stale runtime called %d times, executes %q; want once, %q", stale.calls, got, tc.want)
			}
			if n := f.gets(); n != 2 {
				t.Errorf("%d GETs, want 2", n)
			}

			// An upload whose content can be read again from where it
			// started is sent again; one that cannot, is not.
			stale = &failing{err: neverLeft, read: 2}
			f.kept(stale)
			rt, err := f.c.Runtime(context.Background(), "box")
			if err != nil {
				t.Fatal(err)
			}
			content := strings.NewReader("xxdata")
			_, _ = content.Seek(2, io.SeekStart)
			if err := rt.Upload(context.Background(), "f", content); err != nil || stale.calls != 1 {
				t.Errorf("upload: %v after %d calls, want it sent again", err, stale.calls)
			}
			if got, ok := f.router.File(claimsSandbox(tc.now), "f"); !ok || string(got) != "data" {
				t.Errorf("uploaded %q", got)
			}
			stale = &failing{err: neverLeft, read: 2}
			f.kept(stale)
			if rt, err = f.c.Runtime(context.Background(), "box"); err != nil {
				t.Fatal(err)
			}
			if err := rt.Upload(context.Background(), "f", io.MultiReader(strings.NewReader("data"))); !errors.Is(err, neverLeft) || stale.calls != 1 {
				t.Errorf("upload of a stream: %v after %d calls, want the connection's error after 1", err, stale.calls)
			}
		})
	}
}

// TestCacheReadsAClaimItCannotWatch: without leave to watch claims, each
// call reads the claim and keeps the connection while it is the same.
func TestCacheReadsAClaimItCannotWatch(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "extensions.agents.x-k8s.io", Resource: "sandboxclaims"}, "", errors.New("no watch"))
	f := newCacheFixture(t, forbidden, boxClaim("u1", "sb-1", "7", "10.0.0.1"))
	f.execOK()
	f.c.mu.Lock()
	first := f.c.entries["box"]
	f.c.mu.Unlock()
	select { // the failed watch leaves it unwatched
	case <-f.unwatched:
	case <-time.After(30 * time.Second):
		t.Fatal("the watch did not fail")
	}
	f.execOK()
	f.c.mu.Lock()
	second := f.c.entries["box"]
	f.c.mu.Unlock()
	if first != second || f.gets() != 2 {
		t.Errorf("kept the same entry %v, %d GETs; want the same, 2", first == second, f.gets())
	}
	f.set(boxClaim("u2", "sb-2", "9", "10.0.0.2"))
	f.execOK()
	if got, want := strings.Join(f.executes(), "; "), "sb-1 10.0.0.1; sb-1 10.0.0.1; sb-2 10.0.0.2"; got != want {
		t.Errorf("executes %q, want %q", got, want)
	}
}

// TestCacheDropsWhatIsIdle: an entry idle for the idle time is dropped,
// unless a call is under way.
func TestCacheDropsWhatIsIdle(t *testing.T) {
	f := newCacheFixture(t, nil, boxClaim("u1", "sb-1", "7", "10.0.0.1"))
	f.execOK()
	f.c.mu.Lock()
	e := f.c.entries["box"]
	f.c.mu.Unlock()
	e.lastUse.Store(time.Now().Add(-2 * f.c.idle).UnixNano())
	e.users.Add(1)
	f.c.expire(e)
	if f.c.Len() != 1 {
		t.Fatal("dropped while in use")
	}
	e.users.Add(-1)
	f.c.expire(e)
	if f.c.Len() != 0 {
		t.Fatal("kept while idle")
	}
	f.waitDropped()
}

// streaming is a kept runtime that streams: each command prints "streamed".
type streaming struct{ failing }

func (s *streaming) Stream(_ context.Context, _ sandbox.Command, st sandbox.Streams) (int, error) {
	_, _ = io.WriteString(st.Stdout, "streamed")
	return 0, nil
}

// TestCacheRuntimeKeepsWhatTheRuntimeCan: a kept runtime streams, or
// refuses upload names, when the runtime of the claim does; the other
// calls go to it too; a claim that no longer streams says so.
func TestCacheRuntimeKeepsWhatTheRuntimeCan(t *testing.T) {
	f := newCacheFixture(t, nil, boxClaim("u1", "sb-1", "7", "10.0.0.1"))
	ctx := context.Background()
	rt, err := f.c.Runtime(ctx, "box")
	if err != nil {
		t.Fatal(err)
	}
	un, ok := rt.(sandbox.UploadNames)
	if !ok || un.UploadsName("a\nb") || !un.UploadsName("a b") {
		t.Errorf("%T: upload names as the python runtime's", rt)
	}
	if ok, err := rt.Exists(ctx, "nothing"); err != nil || ok {
		t.Errorf("Exists = %v, %v", ok, err)
	}
	f.kept(&streaming{})
	rt, err = f.c.Runtime(ctx, "box")
	if err != nil {
		t.Fatal(err)
	}
	st, ok := rt.(sandbox.Streamer)
	var out strings.Builder
	if !ok {
		t.Fatalf("%T does not stream", rt)
	}
	if code, err := st.Stream(ctx, sandbox.Command{Argv: []string{"x"}}, sandbox.Streams{Stdout: &out}); code != 0 || err != nil || out.String() != "streamed" {
		t.Errorf("Stream = %d, %v, %q", code, err, out.String())
	}
	f.kept(&failing{})
	if _, err := st.Stream(ctx, sandbox.Command{Argv: []string{"x"}}, sandbox.Streams{Stdout: &out}); !errors.Is(err, errNoStream) {
		t.Errorf("Stream on a runtime that no longer streams: %v", err)
	}
}

// TestCacheAfterClose: a closed cache opens nothing; Forget drops a claim.
func TestCacheAfterClose(t *testing.T) {
	f := newCacheFixture(t, nil, boxClaim("u1", "sb-1", "7", "10.0.0.1"))
	f.execOK()
	f.c.Forget("box")
	f.waitDropped()
	f.c.Forget("box") // nothing kept: nothing to do
	f.c.Close()
	if _, err := f.exec(); !errors.Is(err, errCacheClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestSuspect(t *testing.T) {
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		ctx  context.Context
		err  error
		want bool
	}{
		{ctx, &python.SentError{Op: "execute", Err: io.EOF}, true},
		{ctx, &python.ConnError{Op: "execute", Err: io.EOF}, true},
		{ctx, &sandbox.HTTPError{Status: 502}, true},
		{ctx, &sandbox.HTTPError{Status: 404, FromRuntime: true}, false},
		{ctx, &sandboxd.ProcessError{Op: "start", Err: status.Error(codes.Unavailable, "x")}, true},
		{ctx, &sandboxd.ProcessError{Op: "start", Err: status.Error(codes.NotFound, "no such command")}, false},
		{ctx, &sandboxd.LostError{Err: io.EOF}, true},
		{ctx, &sandbox.CommandTimeoutError{}, false},
		{ctx, &claims.OOMKilledError{}, false},
		{ctx, errNoStream, false},
		{done, io.EOF, false},
	} {
		if got := suspect(tc.ctx, tc.err); got != tc.want {
			t.Errorf("suspect(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestCacheWaitsForAProbeBlip: with ReadyGrace, a call on a claim whose pod
// is failing its readiness probe waits until the claim is Ready again,
// then runs; without it, the call says at once that it is not Ready.
func TestCacheWaitsForAProbeBlip(t *testing.T) {
	probing := boxClaim("u1", "sb-1", "7", "10.0.0.1")
	probing.Status.Conditions = []metav1.Condition{{Type: claims.ConditionReady, Status: metav1.ConditionFalse,
		Reason: claims.ReasonDependenciesNotReady, Message: "Pod is Running but not Ready"}}

	f := newCacheFixture(t, nil, probing)
	if _, err := f.exec(); err == nil || err.Error() != `sandboxclaim "box" is not Ready (DependenciesNotReady: Pod is Running but not Ready)` {
		t.Fatalf("without a grace: %v", err)
	}

	f = newCacheFixture(t, nil, probing)
	f.c.s.opts.ReadyGrace = time.Minute
	done := make(chan error, 1)
	go func() {
		_, err := f.exec()
		done <- err
	}()
	again := boxClaim("u1", "sb-1", "8", "10.0.0.1")
	select {
	case w := <-f.watches: // the wait's watch
		w.Modify(again)
	case err := <-done:
		t.Fatalf("returned before the claim was Ready again: %v", err)
	}
	f.set(again)
	if err := <-done; err != nil {
		t.Fatalf("after the blip: %v", err)
	}
	if got := strings.Join(f.executes(), "; "); got != "sb-1 10.0.0.1" {
		t.Errorf("executes %q", got)
	}
}

// TestCacheKeepsAClaimThroughAProbeBlip: a kept claim whose pod fails its
// readiness probe (same sandbox, same pod IPs) is not dropped: calls go on
// to its runtime, with no API call.
func TestCacheKeepsAClaimThroughAProbeBlip(t *testing.T) {
	f := newCacheFixture(t, nil, boxClaim("u1", "sb-1", "7", "10.0.0.1"))
	f.execOK()
	w := f.watcher()
	blip := boxClaim("u1", "sb-1", "8", "10.0.0.1")
	blip.Status.Conditions = []metav1.Condition{{Type: claims.ConditionReady, Status: metav1.ConditionFalse,
		Reason: claims.ReasonDependenciesNotReady, Message: "Pod is Running but not Ready"}}
	f.set(blip)
	w.Modify(blip)
	back := boxClaim("u1", "sb-1", "9", "10.0.0.1")
	w.Modify(back) // delivered after the blip: the watch still runs
	f.execOK()
	if f.c.Len() != 1 || f.gets() != 1 {
		t.Errorf("a readiness blip dropped the claim: kept %d, GETs %d", f.c.Len(), f.gets())
	}
	select {
	case <-f.dropped:
		t.Error("the claim was dropped")
	default:
	}
}
