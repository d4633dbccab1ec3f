package session

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	agentsfake "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned/fake"
	extfake "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

const ns = "team"

// routerServer stands in for the sandbox router: it records the routing
// headers and the path of each request and answers every /exists with
// true; its first behind requests get the router's 502 of a sandbox it
// cannot find.
type routerServer struct {
	*httptest.Server
	mu     sync.Mutex
	seen   []http.Header
	paths  []string
	behind int
}

func newRouterServer(t *testing.T) *routerServer {
	t.Helper()
	s := &routerServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := http.Header{}
		for _, k := range []string{"X-Sandbox-ID", "X-Sandbox-Namespace", "X-Sandbox-Port", "X-Sandbox-Pod-IP", "Authorization"} {
			if v := r.Header.Values(k); v != nil {
				h[http.CanonicalHeaderKey(k)] = v
			}
		}
		s.mu.Lock()
		s.seen = append(s.seen, h)
		s.paths = append(s.paths, r.URL.Path)
		behind := s.behind > 0
		s.behind--
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if behind {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"detail":"Could not connect to the backend sandbox: ` + h.Get("X-Sandbox-ID") + `"}`))
			return
		}
		_, _ = w.Write([]byte(`{"exists": true}`))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *routerServer) requests() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.seen...)
}

func (s *routerServer) pathsSeen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

func (s *routerServer) fallBehind(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behind = n
}

// ids lists the X-Sandbox-ID of the requests seen, sorted.
func (s *routerServer) ids() []string {
	var ids []string
	for _, h := range s.requests() {
		ids = append(ids, h.Get("X-Sandbox-ID"))
	}
	sort.Strings(ids)
	return ids
}

// gateway is Gateway "router-gw" in the session's namespace, addressed at
// the router server.
func gateway(t *testing.T, srv *routerServer) *gatewayv1.Gateway {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "router-gw", Namespace: ns},
		Spec:       gatewayv1.GatewaySpec{Listeners: []gatewayv1.Listener{{Name: "http", Protocol: gatewayv1.HTTPProtocolType, Port: gatewayv1.PortNumber(port)}}},
		Status: gatewayv1.GatewayStatus{
			Addresses:  []gatewayv1.GatewayStatusAddress{{Value: u.Hostname()}},
			Conditions: []metav1.Condition{{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed"}},
		},
	}
}

func readyClaim(name, sandboxName string, podIPs ...string) *extv1beta1.SandboxClaim {
	return &extv1beta1.SandboxClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Status: extv1beta1.SandboxClaimStatus{
			Conditions:    []metav1.Condition{{Type: claims.ConditionReady, Status: metav1.ConditionTrue, Reason: "DependenciesReady"}},
			SandboxStatus: extv1beta1.SandboxStatus{Name: sandboxName, PodIPs: podIPs},
		},
	}
}

// fixture is a session whose router is reached through a Gateway fake, so
// that each opening of the router is one recorded Gateway GET.
type fixture struct {
	s        *Session
	srv      *routerServer
	gateways *gatewayfake.Clientset
	pods     *k8sfake.Clientset
}

// newFixture serves claims from a fake; withGateway says whether the
// Gateway exists yet.
func newFixture(t *testing.T, withGateway bool, list ...*extv1beta1.SandboxClaim) *fixture {
	t.Helper()
	srv := newRouterServer(t)
	f := &fixture{srv: srv, gateways: gatewayfake.NewSimpleClientset(), pods: k8sfake.NewClientset()}
	if withGateway {
		f.createGateway(t)
	}
	ext := extfake.NewSimpleClientset()
	for _, c := range list {
		if _, err := ext.ExtensionsV1beta1().SandboxClaims(ns).Create(context.Background(), c, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	f.s = New(&kube.Clients{Core: f.pods.CoreV1(), Ext: ext, Agents: agentsfake.NewSimpleClientset(), Gateway: f.gateways}, ns, Options{
		Router:     router.Options{Gateway: "router-gw", GatewayTimeout: time.Minute, Token: "s3cret"},
		ServerPort: 8888,
	})
	t.Cleanup(func() { closeSession(f.s) })
	return f
}

// createGateway creates it through the v1 client (the fake would file an
// object given to its constructor under v1beta1, the same Go type).
func (f *fixture) createGateway(t *testing.T) {
	t.Helper()
	if _, err := f.gateways.GatewayV1().Gateways(ns).Create(context.Background(), gateway(t, f.srv), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// routerOpens counts the Gateway GETs: one per opening of the router.
func (f *fixture) routerOpens() int {
	n := 0
	for _, a := range f.gateways.Actions() {
		if a.GetVerb() == "get" {
			n++
		}
	}
	return n
}

// closeSession closes the session (the router transport's idle
// keep-alive connections with it).
func closeSession(s *Session) { s.Close() }

// TestRuntimeSendsTheSandboxRoutingHeaders: requests name the sandbox (not
// the claim), its namespace and port, an IPv4 pod IP when there is one,
// and the router token.
func TestRuntimeSendsTheSandboxRoutingHeaders(t *testing.T) {
	byAnnotation := readyClaim("c2", "", "fd00::6")
	byAnnotation.Annotations = map[string]string{claims.SandboxNameAnnotation: "python-fghij"}
	list := []*extv1beta1.SandboxClaim{
		readyClaim("c1", "python-abcde", "fd00::5", "10.0.0.5"),
		byAnnotation,
		readyClaim("c3", "python-klmno"),
	}
	f := newFixture(t, true, list...)
	if f.s.Namespace() != ns {
		t.Errorf("namespace %q", f.s.Namespace())
	}
	header := func(id, ip string) http.Header {
		h := http.Header{
			"X-Sandbox-Id":        {id},
			"X-Sandbox-Namespace": {ns},
			"X-Sandbox-Port":      {"8888"},
			"Authorization":       {"Bearer s3cret"},
		}
		if ip != "" {
			h["X-Sandbox-Pod-Ip"] = []string{ip}
		}
		return h
	}
	want := []http.Header{header("python-abcde", "10.0.0.5"), header("python-fghij", "fd00::6"), header("python-klmno", "")}
	for i, c := range list {
		rt, got, err := f.s.Open(context.Background(), c.Name)
		if err != nil {
			t.Fatalf("Open(%s): %v", c.Name, err)
		}
		if got.Name != c.Name {
			t.Errorf("Open(%s) returned claim %q", c.Name, got.Name)
		}
		if ok, err := rt.Exists(context.Background(), "f"); err != nil || !ok {
			t.Fatalf("Exists through %s: %v, %v", c.Name, ok, err)
		}
		seen := f.srv.requests()
		if len(seen) != i+1 {
			t.Fatalf("the router saw %d requests, want %d", len(seen), i+1)
		}
		if !reflect.DeepEqual(seen[i], want[i]) {
			t.Errorf("claim %s: headers %v, want %v", c.Name, seen[i], want[i])
		}
	}
	if n := f.routerOpens(); n != 1 {
		t.Errorf("the router was opened %d times for %d claims, want once", n, len(list))
	}
}

// TestOpenRefusesAClaimThatIsNotReady: the claim is checked before any
// router is opened.
func TestOpenRefusesAClaimThatIsNotReady(t *testing.T) {
	notReady := readyClaim("pending", "")
	notReady.Status.Conditions[0] = metav1.Condition{Type: claims.ConditionReady, Status: metav1.ConditionFalse, Reason: "DependenciesNotReady", Message: "Pod exists with phase: Pending"}
	unbound := readyClaim("unbound", "")
	fresh := readyClaim("fresh", "")
	fresh.Status.Conditions = nil
	for _, tc := range []struct {
		claim   string
		want    string
		errType any
	}{
		{"missing", `sandboxclaim "missing" not found in namespace "team"`, new(*claims.NotFoundError)},
		{"pending", `sandboxclaim "pending" is not Ready (DependenciesNotReady: Pod exists with phase: Pending)`, new(*claims.NotReadyError)},
		{"unbound", `sandboxclaim "unbound" is not Ready (DependenciesReady)`, new(*claims.NotReadyError)},
		{"fresh", `sandboxclaim "fresh" is not Ready`, new(*claims.NotReadyError)},
	} {
		t.Run(tc.claim, func(t *testing.T) {
			f := newFixture(t, true, notReady, unbound, fresh)
			rt, c, err := f.s.Open(context.Background(), tc.claim)
			if err == nil || err.Error() != tc.want || !errors.As(err, tc.errType) {
				t.Fatalf("error %v, want %q (%T)", err, tc.want, tc.errType)
			}
			if rt != nil || c != nil {
				t.Errorf("a refused Open returned %v, %v", rt, c)
			}
			if n := f.routerOpens(); n != 0 {
				t.Errorf("the router was opened %d times", n)
			}
		})
	}
}

// TestAFailedRouterOpenIsTriedAgain: the next caller opens the router
// afresh; an open router is kept.
func TestAFailedRouterOpenIsTriedAgain(t *testing.T) {
	f := newFixture(t, false, readyClaim("c1", "python-abcde"))
	_, c, err := f.s.Open(context.Background(), "c1")
	var ge *router.GatewayError
	if !errors.As(err, &ge) || !ge.NotFound || err.Error() != `gateway "router-gw" not found in namespace "team"` {
		t.Fatalf("error %v, want the Gateway not found", err)
	}
	if c == nil || c.Name != "c1" {
		t.Errorf("Open returned claim %v with the router error", c)
	}
	f.createGateway(t)
	for range 2 {
		if _, _, err := f.s.Open(context.Background(), "c1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.routerOpens(); n != 2 {
		t.Errorf("router opened %d times, want 2 (one failed, one kept)", n)
	}
}

// TestCloseReleasesTheRouter: Close may be called twice; the next use opens
// the router again.
func TestCloseReleasesTheRouter(t *testing.T) {
	f := newFixture(t, true, readyClaim("c1", "python-abcde"))
	if _, _, err := f.s.Open(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	closeSession(f.s)
	f.s.Close()
	if _, _, err := f.s.Open(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if n := f.routerOpens(); n != 2 {
		t.Errorf("router opened %d times, want 2", n)
	}
}

func claimsNamed(names ...string) []*extv1beta1.SandboxClaim {
	var list []*extv1beta1.SandboxClaim
	for _, n := range names {
		list = append(list, readyClaim(n, "sb-"+n, "10.0.0.1"))
	}
	return list
}

// TestEachOpensTheRouterOnceForAllClaims: every claim gets the runtime of
// its own sandbox, through one router.
func TestEachOpensTheRouterOnceForAllClaims(t *testing.T) {
	list := claimsNamed("a", "b", "c", "d", "e")
	f := newFixture(t, true)
	err := f.s.Each(context.Background(), list, 2, func(ctx context.Context, _ *extv1beta1.SandboxClaim, rt sandbox.Runtime) error {
		_, err := rt.Exists(ctx, "f")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sb-a", "sb-b", "sb-c", "sb-d", "sb-e"}; !reflect.DeepEqual(f.srv.ids(), want) {
		t.Errorf("sandboxes reached %q, want %q", f.srv.ids(), want)
	}
	if n := f.routerOpens(); n != 1 {
		t.Errorf("router opened %d times, want 1", n)
	}
}

// TestEachRunsLimitAtOnce: with limit 3 and 3 claims, every call waits
// until all 3 have started, which only happens if they run in parallel.
func TestEachRunsLimitAtOnce(t *testing.T) {
	f := newFixture(t, true)
	var mu sync.Mutex
	started := 0
	all := make(chan struct{})
	// The deadline only bounds a failure: too low a limit would leave the
	// calls waiting for each other for good.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := f.s.Each(ctx, claimsNamed("a", "b", "c"), 3, func(ctx context.Context, _ *extv1beta1.SandboxClaim, _ sandbox.Runtime) error {
		mu.Lock()
		if started++; started == 3 {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil {
		t.Fatalf("the calls did not all run at once: %v", err)
	}
}

// TestEachWithLimitOneRunsOneAtATime: no call starts before the previous
// one has returned, and each claim is served once.
func TestEachWithLimitOneRunsOneAtATime(t *testing.T) {
	f := newFixture(t, true)
	var mu sync.Mutex
	active, most := 0, 0
	var served []string
	err := f.s.Each(context.Background(), claimsNamed("a", "b", "c", "d", "e", "f"), 1, func(ctx context.Context, c *extv1beta1.SandboxClaim, rt sandbox.Runtime) error {
		mu.Lock()
		active++
		most = max(most, active)
		served = append(served, c.Name)
		mu.Unlock()
		runtime.Gosched()
		_, err := rt.Exists(ctx, "f") // a round trip: time for another call to start, were it allowed
		mu.Lock()
		active--
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if most != 1 {
		t.Errorf("%d calls ran at once, want 1", most)
	}
	if want := []string{"a", "b", "c", "d", "e", "f"}; !reflect.DeepEqual(served, want) {
		t.Errorf("served %q, want %q", served, want)
	}
}

// TestEachReturnsTheFirstErrorAndCancelsTheRest: fn's error is Each's; the
// calls still running see their context cancelled.
func TestEachReturnsTheFirstErrorAndCancelsTheRest(t *testing.T) {
	f := newFixture(t, true)
	boom := errors.New("boom")
	bStarted := make(chan struct{})
	var bErr error
	// The deadline only bounds a failure: were a's error dropped, b would
	// wait for good.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := f.s.Each(ctx, claimsNamed("a", "b"), 2, func(ctx context.Context, c *extv1beta1.SandboxClaim, _ sandbox.Runtime) error {
		if c.Name == "a" {
			<-bStarted
			return boom
		}
		close(bStarted)
		<-ctx.Done()
		bErr = ctx.Err()
		return bErr
	})
	if !errors.Is(err, boom) || err.Error() != "boom" {
		t.Errorf("Each returned %v, want %v", err, boom)
	}
	if !errors.Is(bErr, context.Canceled) {
		t.Errorf("the other call saw %v, want %v", bErr, context.Canceled)
	}
}

// TestEachStopsWhenTheRouterCannotBeOpened: it is tried once, and no call
// is made.
func TestEachStopsWhenTheRouterCannotBeOpened(t *testing.T) {
	f := newFixture(t, false)
	calls := 0
	err := f.s.Each(context.Background(), claimsNamed("a", "b", "c"), 3, func(context.Context, *extv1beta1.SandboxClaim, sandbox.Runtime) error {
		calls++
		return nil
	})
	if want := `gateway "router-gw" not found in namespace "team"`; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if calls != 0 {
		t.Errorf("%d calls made", calls)
	}
	if n := f.routerOpens(); n != 1 {
		t.Errorf("router open tried %d times, want 1", n)
	}
}

// TestAScopedTokenRoutesByNameOnly: with a scoped token, requests name the
// sandbox but not its pod's IP (the router's scoped-token mode refuses
// them), and a sandbox the token is not for is refused before anything is
// sent, by Open and by Proxy alike.
func TestAScopedTokenRoutesByNameOnly(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"ns":"team","name":"python-abcde","exp":4102444800}`))
	token := "v1." + payload + ".c2ln"
	f := newFixture(t, true, readyClaim("c1", "python-abcde", "10.0.0.5"), readyClaim("c2", "python-other", "10.0.0.6"))
	f.s.opts.Router.Token = token
	f.createPod(t, sandboxPod("python-abcde", false))
	rt, _, err := f.s.Open(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := rt.Exists(context.Background(), "f"); err != nil || !ok {
		t.Fatalf("Exists: %v, %v", ok, err)
	}
	h := f.srv.requests()[0]
	if h.Get("X-Sandbox-Id") != "python-abcde" || h.Get("X-Sandbox-Pod-Ip") != "" || h.Get("Authorization") != "Bearer "+token {
		t.Errorf("headers %v", h)
	}
	want := "the scoped router token is for sandbox team/python-abcde, not team/python-other"
	if _, _, err := f.s.Open(context.Background(), "c2"); err == nil || err.Error() != want {
		t.Errorf("Open(c2): %v, want %q", err, want)
	}
	if _, err := f.s.Proxy(context.Background(), "c2", 8000, nil); err == nil || err.Error() != want {
		t.Errorf("Proxy(c2): %v, want %q", err, want)
	}
	if got := f.srv.pathsSeen(); !reflect.DeepEqual(got, []string{"/exists/f"}) {
		t.Errorf("the router saw %q, want the one call (a pod routable at once is not checked)", got)
	}
}

// sandboxPod is the Ready pod of sandbox name; warm labels it an
// unadopted warm-pool pod.
func sandboxPod(name string, warm bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.5",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	if warm {
		p.Labels = map[string]string{sandboxv1beta1.SandboxWarmPoolLabel: "0fceff97"}
	}
	return p
}

func (f *fixture) createPod(t *testing.T, p *corev1.Pod) {
	t.Helper()
	if _, err := f.pods.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// adoptingFixture is a session whose router credential is a scoped token
// for sandbox team/python-abcde, claim c1's, whose pod is still labelled
// an unadopted warm-pool pod.
func adoptingFixture(t *testing.T) *fixture {
	t.Helper()
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"ns":"team","name":"python-abcde","exp":4102444800}`))
	f := newFixture(t, true, readyClaim("c1", "python-abcde", "10.0.0.5"))
	f.s.opts.Router.Token = "v1." + payload + ".c2ln"
	f.createPod(t, sandboxPod("python-abcde", true))
	return f
}

// TestAScopedTokenWaitsForTheAdoptedPod: a claim is Ready before the
// controller takes the warm-pool label off its pod, and until then a
// router in scoped-token mode cannot find the pod by name; the first
// request waits for it (Open and Proxy alike). The router's cache may
// learn of the adoption a moment after the session: before a command is
// sent, the runtime's health check is asked until the router finds the
// pod. A pod that keeps the label past byNameWait is asked for anyway.
func TestAScopedTokenWaitsForTheAdoptedPod(t *testing.T) {
	f := adoptingFixture(t)
	type result struct {
		rt  sandbox.Runtime
		err error
	}
	opened := make(chan result, 1)
	go func() {
		rt, _, err := f.s.Open(context.Background(), "c1")
		opened <- result{rt, err}
	}()
	select {
	case r := <-opened:
		t.Fatalf("Open did not wait for the pod: %v", r.err)
	case <-time.After(200 * time.Millisecond):
	}
	f.srv.fallBehind(2)
	if _, err := f.pods.CoreV1().Pods(ns).Update(context.Background(), sandboxPod("python-abcde", false), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := <-opened
	if r.err != nil {
		t.Fatal(r.err)
	}
	if ok, err := r.rt.Exists(context.Background(), "f"); err != nil || !ok {
		t.Fatalf("Exists: %v, %v", ok, err)
	}
	if got, want := f.srv.pathsSeen(), []string{"/", "/", "/", "/exists/f"}; !reflect.DeepEqual(got, want) {
		t.Errorf("the router saw %q, want %q", got, want)
	}

	if _, err := f.pods.CoreV1().Pods(ns).Update(context.Background(), sandboxPod("python-abcde", true), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func(d time.Duration) { byNameWait = d }(byNameWait)
	byNameWait = 100 * time.Millisecond
	start := time.Now()
	if _, err := f.s.Proxy(context.Background(), "c1", 8000, nil); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < byNameWait {
		t.Errorf("Proxy waited %v, want at least %v", waited, byNameWait)
	}
	// The caller's end ends the wait with its cause.
	byNameWait = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	proxied := make(chan error, 1)
	go func() {
		_, err := f.s.Proxy(ctx, "c1", 8000, nil)
		proxied <- err
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-proxied; !errors.Is(err, context.Canceled) {
		t.Errorf("Proxy with its context cancelled while it waits: %v", err)
	}
}

// TestAdoptedPodHealthCheck: a health check that never gets past the
// router's 502 does not fail the call (the command goes, and the router's
// answer to it stands); the caller's end ends it with its cause.
func TestAdoptedPodHealthCheck(t *testing.T) {
	f := adoptingFixture(t)
	adopt := func(f *fixture) {
		time.Sleep(100 * time.Millisecond)
		if _, err := f.pods.CoreV1().Pods(ns).Update(context.Background(), sandboxPod("python-abcde", false), metav1.UpdateOptions{}); err != nil {
			t.Error(err)
		}
	}
	f.srv.fallBehind(4) // the health check's four tries
	go adopt(f)
	rt, _, err := f.s.Open(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := rt.Exists(context.Background(), "f"); err != nil || !ok {
		t.Fatalf("Exists: %v, %v", ok, err)
	}
	if got, want := f.srv.pathsSeen(), []string{"/", "/", "/", "/", "/exists/f"}; !reflect.DeepEqual(got, want) {
		t.Errorf("the router saw %q, want %q", got, want)
	}

	f = adoptingFixture(t)
	f.srv.fallBehind(100)
	go adopt(f)
	stop := errors.New("stop")
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(300*time.Millisecond, func() { cancel(stop) })
	if _, _, err := f.s.Open(ctx, "c1"); !errors.Is(err, stop) {
		t.Errorf("Open ended by its caller during the health check: %v, want %v", err, stop)
	}
	if n := len(f.srv.pathsSeen()); n == 0 {
		t.Error("no health check was made")
	}
}

// TestProxyPassesRequestsThroughTheRouter: the proxy's requests go to the
// router with the sandbox's routing headers and the router credential in
// place of the client's own; a router it cannot reach is reported.
func TestProxyPassesRequestsThroughTheRouter(t *testing.T) {
	f := newFixture(t, true, readyClaim("c1", "python-abcde", "10.0.0.5"))
	var failed []error
	h, err := f.s.Proxy(context.Background(), "c1", 8000, func(_ *http.Request, err error) { failed = append(failed, err) })
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/exists/f", nil)
	req.Header.Set("Authorization", "Bearer the-client's")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	got := f.srv.requests()[0]
	if w.Code != http.StatusOK || got.Get("Authorization") != "Bearer s3cret" || got.Get("X-Sandbox-Port") != "8000" || got.Get("X-Sandbox-Pod-Ip") != "10.0.0.5" {
		t.Errorf("%d; the router saw %v", w.Code, got)
	}
	f.srv.Close()
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusBadGateway || len(failed) != 1 || !strings.HasPrefix(w.Body.String(), "kubectl sandbox proxy: cannot reach the sandbox router: ") {
		t.Errorf("%d %q, errors %v", w.Code, w.Body, failed)
	}
	if _, err := f.s.Proxy(context.Background(), "missing", 8000, nil); err == nil {
		t.Error("a missing claim was proxied")
	}
}
