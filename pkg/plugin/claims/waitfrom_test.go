package claims

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	agentsfake "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned/fake"
	"sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// createAsync runs CreateAndWait on a claim of pool "python" in a goroutine.
func createAsync(client *fake.Clientset, hooks WaitHooks) <-chan waitResult {
	done := make(chan waitResult, 1)
	go func() {
		c, err := CreateAndWait(context.Background(), client, NewClaim(Spec{Namespace: "default", Name: "c1", Pool: "python"}, now), 30*time.Second, hooks)
		done <- waitResult{c, err}
	}()
	return done
}

// watcherOf is the wait's watch, once it opens it; a wait that ends first
// fails the test.
func watcherOf(t *testing.T, watchers <-chan *watch.FakeWatcher, done <-chan waitResult) *watch.FakeWatcher {
	t.Helper()
	select {
	case w := <-watchers:
		return w
	case res := <-done:
		t.Fatalf("the wait ended before its watch: %v, %v", res.claim, res.err)
		return nil
	}
}

// at sets c's resourceVersion: a watch from a resourceVersion needs one in
// every event.
func at(c *extv1beta1.SandboxClaim, rv string) *extv1beta1.SandboxClaim {
	c.ResourceVersion = rv
	return c
}

// verbs lists the verbs sent for resource, in order.
func verbs(client *fake.Clientset, resource string) []string {
	var out []string
	for _, a := range client.Actions() {
		if a.GetResource().Resource == resource {
			out = append(out, a.GetVerb())
		}
	}
	return out
}

// TestCreateAndWaitWatchesFromTheCreation: the wait after a create watches
// from the create's resourceVersion, with no list.
func TestCreateAndWaitWatchesFromTheCreation(t *testing.T) {
	client, watchers := fakeWithWatch()
	serverCreates(client, func(c *extv1beta1.SandboxClaim) { c.ResourceVersion = "41" })
	var watchedFrom string
	client.PrependWatchReactor("sandboxclaims", func(a k8stesting.Action) (bool, watch.Interface, error) {
		watchedFrom = a.(k8stesting.WatchActionImpl).WatchRestrictions.ResourceVersion
		return false, nil, nil
	})
	done := createAsync(client, WaitHooks{})
	w := watcherOf(t, watchers, done)
	w.Modify(at(readyClaim("c1", "python-abcde"), "42"))
	res := <-done
	if res.err != nil || SandboxName(res.claim) != "python-abcde" {
		t.Fatalf("got %v, %v", res.claim, res.err)
	}
	if got := verbs(client, "sandboxclaims"); !slices.Equal(got, []string{"create", "watch"}) || watchedFrom != "41" {
		t.Errorf("requests %v, watched from %q: want a create, then a watch from 41", got, watchedFrom)
	}
}

// TestWaitListsWhenTheWatchCannotGoOn: a watch from a resourceVersion that
// is too old ends; the wait lists and watches instead and sees the claim.
func TestWaitListsWhenTheWatchCannotGoOn(t *testing.T) {
	client, watchers := fakeWithWatch()
	serverCreates(client, func(c *extv1beta1.SandboxClaim) { c.ResourceVersion = "41" })
	done := createAsync(client, WaitHooks{})
	w := watcherOf(t, watchers, done)
	w.Error(&metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old resource version"})
	w.Stop()
	// The claim as the list will find it, then the list's watch.
	if err := client.Tracker().Update(claimsGR.WithVersion("v1beta1"), readyClaim("c1", "python-abcde"), "default"); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if res.err != nil || SandboxName(res.claim) != "python-abcde" {
			t.Fatalf("got %v, %v", res.claim, res.err)
		}
	case w2 := <-watchers:
		w2.Modify(at(readyClaim("c1", "python-abcde"), "42"))
		if res := <-done; res.err != nil {
			t.Fatal(res.err)
		}
	}
	if got := verbs(client, "sandboxclaims"); !slices.Contains(got, "list") {
		t.Errorf("requests %v: want a list after the watch ended", got)
	}
}

// TestWaitGoesOnWhileTheControllerLags: a claim whose controller reports its
// pool (or its template) missing while the API server has it is waited for;
// one whose pool or template is truly missing fails at once.
func TestWaitGoesOnWhileTheControllerLags(t *testing.T) {
	pool := &extv1beta1.SandboxWarmPool{ObjectMeta: metav1.ObjectMeta{Name: "python", Namespace: "default"}}
	pool.Spec.TemplateRef.Name = "python-tpl"
	template := &extv1beta1.SandboxTemplate{ObjectMeta: metav1.ObjectMeta{Name: "python-tpl", Namespace: "default"}}
	for _, tc := range []struct {
		name   string
		reason string
		objs   []runtime.Object
		lags   bool
	}{
		{"pool exists", "WarmPoolNotFound", []runtime.Object{pool}, true},
		{"pool and template exist", "TemplateNotFound", []runtime.Object{pool, template}, true},
		{"pool missing", "WarmPoolNotFound", nil, false},
		{"template missing", "TemplateNotFound", []runtime.Object{pool}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, watchers := fakeWithWatch(tc.objs...)
			serverCreates(client, func(c *extv1beta1.SandboxClaim) {
				c.ResourceVersion = "41"
				c.Status.Conditions = []metav1.Condition{ready(metav1.ConditionFalse, tc.reason, "not found")}
			})
			done := createAsync(client, WaitHooks{})
			if !tc.lags {
				res := <-done
				var deleted *DeletedAfterError
				if !errors.As(res.err, &deleted) || res.claim != nil {
					t.Fatalf("got %v, %v: want it failed and deleted", res.claim, res.err)
				}
				return
			}
			w := watcherOf(t, watchers, done)
			lagging := claim("c1", ready(metav1.ConditionFalse, tc.reason, "not found"))
			lagging.ResourceVersion = "41" // unchanged: not looked into again
			lagging.Spec.WarmPoolRef.Name = "python"
			w.Modify(lagging)
			w.Modify(at(readyClaim("c1", "python-abcde"), "42"))
			res := <-done
			if res.err != nil || SandboxName(res.claim) != "python-abcde" {
				t.Fatalf("got %v, %v: want the wait to go on until Ready", res.claim, res.err)
			}
			if got := len(slices.DeleteFunc(verbs(client, "sandboxwarmpools"), func(v string) bool { return v != "get" })); got != 1 {
				t.Errorf("%d GETs of the pool: want one per resourceVersion", got)
			}
		})
	}
}

// TestSandboxReadyEndsTheWaitEarly: with SandboxReady, a claim bound to a
// Ready Sandbox is usable before the claim's own Ready, and carries the
// Sandbox's pod IPs; a Sandbox not Ready yet leaves the wait to the claim.
func TestSandboxReadyEndsTheWaitEarly(t *testing.T) {
	sb := func(name string, readyStatus metav1.ConditionStatus) *sandboxv1beta1.Sandbox {
		s := &sandboxv1beta1.Sandbox{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
		s.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: readyStatus, Reason: "x"}}
		s.Status.PodIPs = []string{"10.0.0.7"}
		return s
	}
	agents := agentsfake.NewSimpleClientset()
	for _, s := range []*sandboxv1beta1.Sandbox{sb("warm", metav1.ConditionTrue), sb("cold", metav1.ConditionFalse)} {
		// Through the tracker: NewSimpleClientset guesses the resource "sandboxs".
		if err := agents.Tracker().Create(sandboxv1beta1.GroupVersion.WithResource("sandboxes"), s, "default"); err != nil {
			t.Fatal(err)
		}
	}

	client, watchers := fakeWithWatch()
	serverCreates(client, func(c *extv1beta1.SandboxClaim) { c.ResourceVersion = "41" })
	done := createAsync(client, WaitHooks{Usable: SandboxReady(agents)})
	bound := at(claim("c1", ready(metav1.ConditionFalse, "SandboxNotReady", "adopted")), "42")
	bound.Status.SandboxStatus.Name = "warm"
	watcherOf(t, watchers, done).Modify(bound)
	res := <-done
	if res.err != nil || SandboxName(res.claim) != "warm" || !slices.Equal(res.claim.Status.SandboxStatus.PodIPs, []string{"10.0.0.7"}) {
		t.Fatalf("got %+v, %v: want the claim bound to warm, with its pod IP", res.claim, res.err)
	}

	client, watchers = fakeWithWatch()
	serverCreates(client, func(c *extv1beta1.SandboxClaim) { c.ResourceVersion = "41" })
	done = createAsync(client, WaitHooks{Usable: SandboxReady(agents)})
	w := watcherOf(t, watchers, done)
	bound.Status.SandboxStatus.Name = "cold"
	w.Modify(bound)
	select {
	case res := <-done:
		t.Fatalf("ended with a Sandbox not Ready: %v, %v", res.claim, res.err)
	case <-time.After(50 * time.Millisecond):
	}
	w.Modify(at(readyClaim("c1", "cold"), "43"))
	if res := <-done; res.err != nil || SandboxName(res.claim) != "cold" {
		t.Fatalf("got %v, %v", res.claim, res.err)
	}
}
