package mcp

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
)

// reuseEnv is a server with one sandbox, whose claim GETs carry a
// resourceVersion (as an API server's do) and whose claim watches the test
// drives.
type reuseEnv struct {
	c       *cluster
	cl      *client
	watches chan *watch.FakeWatcher
}

func newReuseEnv(t *testing.T) *reuseEnv {
	t.Helper()
	e := &reuseEnv{c: newCluster(t), watches: make(chan *watch.FakeWatcher, 10)}
	e.c.ext.PrependReactor("get", "sandboxclaims", func(a k8stesting.Action) (bool, runtime.Object, error) {
		o, err := e.c.ext.Tracker().Get(claimsResource, a.GetNamespace(), a.(k8stesting.GetAction).GetName())
		if err != nil {
			return true, nil, err
		}
		c := o.(*extv1beta1.SandboxClaim).DeepCopy()
		c.ResourceVersion = "5"
		return true, c, nil
	})
	e.c.ext.PrependWatchReactor("sandboxclaims", func(a k8stesting.Action) (bool, watch.Interface, error) {
		if handled, w, err := kubetest.NoStreamingList(a); handled {
			return handled, w, err
		}
		if a.(k8stesting.WatchActionImpl).ListOptions.ResourceVersion != "5" {
			return false, nil, nil // creation's wait: the tracker's watch
		}
		w := watch.NewFake()
		e.watches <- w
		return true, kubetest.Versioned(w), nil
	})
	srv := newServer(t, e.c, Options{})
	e.cl = connect(t, srv.MCP())
	e.cl.create(map[string]any{"name": "box"})
	t.Cleanup(func() { _ = srv.Cleanup() })
	return e
}

// gets counts the GETs of claims so far.
func (e *reuseEnv) gets() int { return len(e.c.actions("get")) }

// podIPs lists the pod IP of each /execute the router saw.
func (e *reuseEnv) podIPs() string {
	var ips []string
	for _, r := range e.c.router.Requests() {
		if r.Path == "/execute" {
			ips = append(ips, r.Header.Get("X-Sandbox-Pod-IP"))
		}
	}
	return strings.Join(ips, " ")
}

// TestToolsKeepTheSandboxAcrossCalls: the calls after the first on a
// sandbox make no API call; when its claim names another pod, the next call
// goes there; after sandbox_delete, a call says the claim is gone.
func TestToolsKeepTheSandboxAcrossCalls(t *testing.T) {
	e := newReuseEnv(t)
	before := e.gets()
	for range 3 {
		callOK[ExecOut](e.cl, "sandbox_exec", map[string]any{"name": "box", "command": []string{"true"}})
	}
	callOK[FilesOut](e.cl, "sandbox_list_files", map[string]any{"name": "box"})
	if n := e.gets() - before; n != 1 {
		t.Errorf("%d GETs of the claim for 4 calls, want 1", n)
	}
	var w *watch.FakeWatcher
	select {
	case w = <-e.watches:
	case <-time.After(30 * time.Second):
		t.Fatal("no watch of the claim")
	}
	moved := e.c.claim("default", "box").DeepCopy()
	moved.Status.SandboxStatus.PodIPs = []string{"10.0.0.8"}
	if err := e.c.ext.Tracker().Update(claimsResource, moved, "default"); err != nil {
		t.Fatal(err)
	}
	w.Modify(moved)
	// The change reaches the cache in its own time: until then, calls go
	// to the pod as it was.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.HasSuffix(e.podIPs(), " 10.0.0.8") && time.Now().Before(deadline) {
		callOK[ExecOut](e.cl, "sandbox_exec", map[string]any{"name": "box", "command": []string{"true"}})
	}
	if ips := e.podIPs(); !strings.HasPrefix(ips, "10.0.0.7 10.0.0.7 10.0.0.7") || !strings.HasSuffix(ips, " 10.0.0.8") {
		t.Errorf("pod IPs of the commands: %s", ips)
	}
	callOK[DeleteOut](e.cl, "sandbox_delete", map[string]any{"name": "box"})
	if msg := callErr(e.cl, "sandbox_exec", map[string]any{"name": "box", "command": []string{"true"}}); msg != `sandboxclaim "box" not found in namespace "default"` {
		t.Errorf("after sandbox_delete: %q", msg)
	}
}

// TestCallAfterCleanupKeepsNothing: a call that outlives the server's
// Cleanup (a shutdown) fails in one line and keeps no connection or watch
// (the package's goroutine check would see a watch left running).
func TestCallAfterCleanupKeepsNothing(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{Keep: true})
	cl := connect(t, srv.MCP())
	cl.create(map[string]any{"name": "box"})
	callOK[ExecOut](cl, "sandbox_exec", map[string]any{"name": "box", "command": []string{"true"}})
	if err := srv.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if got := callErr(cl, "sandbox_exec", map[string]any{"name": "box", "command": []string{"true"}}); !strings.Contains(got, "the session is closed") {
		t.Errorf("exec after Cleanup: %q", got)
	}
	srv.mu.Lock()
	n := len(srv.caches)
	srv.mu.Unlock()
	if n != 0 {
		t.Errorf("%d caches kept after Cleanup", n)
	}
}
