package mcp

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	agentsfake "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned/fake"
	extfake "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python/pythontest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// testNow is the server's clock in every test.
var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// legacyProtocol is the newest protocol version with the initialize
// handshake (and so the InitializedHandler that ties claims to a session).
const legacyProtocol = "2025-11-25"

// claimsResource is the resource of SandboxClaims in the fake's tracker.
var claimsResource = extv1beta1.GroupVersion.WithResource("sandboxclaims")

// claimsKind is their kind.
var claimsKind = extv1beta1.GroupVersion.WithKind("SandboxClaim")

// cluster is a fake cluster in which a created claim turns Ready at once,
// bound to the sandbox "sb-<claim>" behind a fake router with the python
// runtime. Deletions are reported on deletes.
type cluster struct {
	t      testing.TB
	ext    *extfake.Clientset
	router *pythontest.Router

	// deletes receives the name of every claim a DELETE was sent for, once
	// it is carried out.
	deletes chan string
	// gate, when set, holds every DELETE until it is closed; entered is
	// told of each held DELETE.
	gate    chan struct{}
	entered chan string

	mu        sync.Mutex
	notReady  bool
	deleteErr error
	n         int
}

// pool is a warm pool of the cluster.
func pool(ns, name, template string) *extv1beta1.SandboxWarmPool {
	return &extv1beta1.SandboxWarmPool{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       extv1beta1.SandboxWarmPoolSpec{TemplateRef: extv1beta1.SandboxTemplateRef{Name: template}},
	}
}

// foreignClaim is a Ready claim that the MCP server did not create.
func foreignClaim(name string) *extv1beta1.SandboxClaim {
	c := &extv1beta1.SandboxClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"team": "a"}},
		Spec:       extv1beta1.SandboxClaimSpec{WarmPoolRef: extv1beta1.SandboxWarmPoolRef{Name: "python"}},
	}
	c.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "DependenciesReady"}}
	c.Status.SandboxStatus = extv1beta1.SandboxStatus{Name: "sb-" + name, PodIPs: []string{"10.0.0.9"}}
	return c
}

func newCluster(t testing.TB, objs ...runtime.Object) *cluster {
	if len(objs) == 0 {
		objs = []runtime.Object{pool("default", "python", "python-tmpl"), pool("default", "go", "go-tmpl")}
	}
	c := &cluster{t: t, ext: extfake.NewSimpleClientset(objs...), router: pythontest.NewRouter(t), deletes: make(chan string, 100)}
	c.ext.PrependReactor("create", "sandboxclaims", func(a k8stesting.Action) (bool, runtime.Object, error) {
		claim := a.(k8stesting.CreateAction).GetObject().(*extv1beta1.SandboxClaim)
		c.mu.Lock()
		defer c.mu.Unlock()
		if claim.Name == "" {
			c.n++
			claim.Name = fmt.Sprintf("%s%05d", claim.GenerateName, c.n)
		}
		if c.notReady {
			claim.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "SandboxNotReady"}}
			return false, nil, nil
		}
		claim.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "DependenciesReady", Message: "Pod is Ready"}}
		claim.Status.SandboxStatus = extv1beta1.SandboxStatus{Name: "sb-" + claim.Name, PodIPs: []string{"fd00::7", "10.0.0.7"}}
		return false, nil, nil // the tracker stores it
	})
	c.ext.PrependReactor("delete", "sandboxclaims", func(a k8stesting.Action) (bool, runtime.Object, error) {
		name := a.(k8stesting.DeleteAction).GetName()
		if c.gate != nil {
			c.entered <- name
			<-c.gate
		}
		c.mu.Lock()
		err := c.deleteErr
		c.mu.Unlock()
		if err == nil {
			// Deleted before it is reported.
			err = c.ext.Tracker().Delete(claimsResource, a.GetNamespace(), name)
		}
		c.deletes <- name
		return true, nil, err
	})
	c.ext.PrependWatchReactor("*", kubetest.NoStreamingList)
	return c
}

// holdDeletes makes every DELETE wait until release is called.
func (c *cluster) holdDeletes() (release func()) {
	c.gate, c.entered = make(chan struct{}), make(chan string, 100)
	var once sync.Once
	return func() { once.Do(func() { close(c.gate) }) }
}

// setNotReady makes created claims stay Ready=False.
func (c *cluster) setNotReady() {
	c.mu.Lock()
	c.notReady = true
	c.mu.Unlock()
}

// failDeletes makes DELETEs fail with err.
func (c *cluster) failDeletes(err error) {
	c.mu.Lock()
	c.deleteErr = err
	c.mu.Unlock()
}

// claim reads a claim from the tracker; nil when it does not exist.
func (c *cluster) claim(ns, name string) *extv1beta1.SandboxClaim {
	c.t.Helper()
	o, err := c.ext.Tracker().Get(claimsResource, ns, name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return o.(*extv1beta1.SandboxClaim)
}

// actions returns the API calls of a verb on claims.
func (c *cluster) actions(verb string) []k8stesting.Action {
	var out []k8stesting.Action
	for _, a := range c.ext.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == "sandboxclaims" {
			out = append(out, a)
		}
	}
	return out
}

// waitDeleted waits for DELETEs of exactly names (in any order).
func (c *cluster) waitDeleted(names ...string) {
	c.t.Helper()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	timeout := time.After(30 * time.Second)
	for len(want) > 0 {
		select {
		case n := <-c.deletes:
			if !want[n] {
				c.t.Errorf("claim %q deleted, want only %v", n, names)
			}
			delete(want, n)
		case <-timeout:
			c.t.Fatalf("claims %v were not deleted", want)
		}
	}
}

// noDeletes checks that no DELETE was sent (so far).
func (c *cluster) noDeletes() {
	c.t.Helper()
	select {
	case n := <-c.deletes:
		c.t.Errorf("claim %q deleted", n)
	default:
	}
}

// newServer is a server acting in namespace default of c, reaching its
// router by URL, with the clock pinned.
func newServer(t testing.TB, c *cluster, opts Options) *Server {
	t.Helper()
	u, err := url.Parse(c.router.URL)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	opts.Session = session.Options{Router: router.Options{URL: u}, ServerPort: 8888, Runtime: session.RuntimePython}
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	srv := New(&kube.Clients{Ext: c.ext, Agents: agentsfake.NewSimpleClientset()}, opts)
	// The connections and claim watches the tools kept end with the test
	// (a test that calls Cleanup has closed them already).
	t.Cleanup(srv.closeCaches)
	return srv
}

// client is one MCP client session connected in process.
type client struct {
	t  testing.TB
	cs *sdk.ClientSession
	ss *sdk.ServerSession
}

// connect opens a session to m with the legacy handshake.
func connect(t testing.TB, m *sdk.Server) *client {
	return connectVersion(t, m, legacyProtocol)
}

// connectVersion opens a session to m asking for a protocol version ("":
// the SDK's newest). The session is closed when the test ends.
func connectVersion(t testing.TB, m *sdk.Server, version string) *client {
	t.Helper()
	return connectWith(t, m, version, nil)
}

// connectWith opens a session with client options.
func connectWith(t testing.TB, m *sdk.Server, version string, opts *sdk.ClientOptions) *client {
	t.Helper()
	ctx := context.Background()
	st, ct := sdk.NewInMemoryTransports()
	ss, err := m.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "v0"}, opts).Connect(ctx, ct, &sdk.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, cs: cs, ss: ss}
	t.Cleanup(c.close)
	return c
}

// close ends the session and waits until the server saw it end.
func (c *client) close() {
	_ = c.cs.Close()
	_ = c.ss.Wait()
}

// call calls a tool; a protocol error fails the test.
func (c *client) call(name string, args any) *sdk.CallToolResult {
	c.t.Helper()
	res, err := c.cs.CallTool(context.Background(), &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		c.t.Fatalf("%s: protocol error %v", name, err)
	}
	return res
}

// text is the text content of a result.
func text(res *sdk.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// callOK calls a tool that must succeed and decodes its structured output.
func callOK[Out any](c *client, name string, args any) Out {
	c.t.Helper()
	res := c.call(name, args)
	var out Out
	if res.IsError {
		c.t.Fatalf("%s(%v): tool error %s", name, args, text(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		c.t.Fatalf("%s: structured content %s: %v", name, b, err)
	}
	return out
}

// callErr calls a tool that must fail with a tool error, and returns its
// one line.
func callErr(c *client, name string, args any) string {
	c.t.Helper()
	res := c.call(name, args)
	if !res.IsError {
		c.t.Fatalf("%s(%v) succeeded: %s", name, args, text(res))
	}
	msg := text(res)
	if len(res.Content) != 1 || strings.Contains(msg, "\n") || msg == "" {
		c.t.Errorf("%s: error is not one line of text: %q", name, msg)
	}
	return msg
}

// create creates a sandbox from the python pool.
func (c *client) create(args map[string]any) SandboxOut {
	c.t.Helper()
	if args == nil {
		args = map[string]any{}
	}
	if args["pool"] == nil && args["template"] == nil {
		args["pool"] = "python"
	}
	return callOK[SandboxOut](c, "sandbox_create", args)
}
