package oneshot

import (
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	agentsfake "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned/fake"
	"sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python/pythontest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
)

// claimsResource is the resource of SandboxClaims in the fake's tracker.
var claimsResource = extv1beta1.GroupVersion.WithResource("sandboxclaims")

// cluster is a fake cluster in which a created claim turns Ready at once
// (or as readyCondition says), and a fake router with the python runtime
// behind it. Every step lands in one log, so that tests check the order.
type cluster struct {
	t      *testing.T
	client *fake.Clientset
	router *pythontest.Router

	// readyCondition is the Ready condition a created claim gets.
	readyCondition metav1.Condition
	// deleteErr fails the deletion.
	deleteErr error
	// holdDeletion keeps a deleted claim, as a finalizer would, and hands
	// the watches opened after the deletion to the test.
	holdDeletion  bool
	deleted       atomic.Bool
	deleteWatches chan *watch.FakeWatcher

	mu  sync.Mutex
	log []string
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{
		t:              t,
		client:         fake.NewSimpleClientset(),
		router:         pythontest.NewRouter(t),
		readyCondition: metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "DependenciesReady", Message: "Pod is Ready"},
		deleteWatches:  make(chan *watch.FakeWatcher, 1),
	}
	c.client.PrependReactor("create", "sandboxclaims", func(a k8stesting.Action) (bool, runtime.Object, error) {
		claim := a.(k8stesting.CreateAction).GetObject().(*extv1beta1.SandboxClaim)
		c.record("create " + claim.Name)
		claim.Status.Conditions = []metav1.Condition{c.readyCondition}
		if c.readyCondition.Status == metav1.ConditionTrue {
			claim.Status.SandboxStatus = extv1beta1.SandboxStatus{Name: "python-abcde", PodIPs: []string{"fd00::7", "10.0.0.7"}}
		}
		return false, nil, nil // the tracker stores it
	})
	c.client.PrependReactor("delete", "sandboxclaims", func(a k8stesting.Action) (bool, runtime.Object, error) {
		c.record("delete " + a.(k8stesting.DeleteAction).GetName())
		if c.deleteErr != nil {
			if apierrors.IsNotFound(c.deleteErr) { // someone else deleted it
				if err := c.client.Tracker().Delete(claimsResource, "default", "run-1"); err != nil {
					t.Error(err)
				}
			}
			return true, nil, c.deleteErr
		}
		c.deleted.Store(true)
		return c.holdDeletion, nil, nil
	})
	c.client.PrependWatchReactor("sandboxclaims", func(a k8stesting.Action) (bool, watch.Interface, error) {
		if handled, w, err := kubetest.NoStreamingList(a); handled {
			return handled, w, err
		}
		if !c.holdDeletion || !c.deleted.Load() {
			return false, nil, nil // the tracker's watch
		}
		w := watch.NewFake()
		select {
		case c.deleteWatches <- w:
		default: // a later watch the test does not drive
		}
		return true, kubetest.Versioned(w), nil
	})
	return c
}

func (c *cluster) record(s string) {
	c.mu.Lock()
	c.log = append(c.log, s)
	c.mu.Unlock()
}

// events returns the log so far.
func (c *cluster) events() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

// clients are the cluster's clients.
func (c *cluster) clients() *kube.Clients {
	return &kube.Clients{Ext: c.client, Agents: agentsfake.NewSimpleClientset()}
}

// options reach the fake router by URL, with a token.
func (c *cluster) options() session.Options {
	u, err := url.Parse(c.router.URL)
	if err != nil {
		c.t.Fatal(err)
	}
	return session.Options{Router: router.Options{URL: u, Token: "s3cret"}, ServerPort: 8888}
}

// exists says whether the claim is still in the cluster.
func (c *cluster) exists(name string) bool {
	c.t.Helper()
	_, err := c.client.Tracker().Get(claimsResource, "default", name)
	if err != nil && !apierrors.IsNotFound(err) {
		c.t.Fatal(err)
	}
	return err == nil
}

// exec makes the runtime run fn for every command and log it.
func (c *cluster) exec(fn func(argv []string) (stdout, stderr string, code int)) {
	c.router.Exec = func(id string, argv []string) (string, string, int) {
		if id != "python-abcde" {
			c.t.Errorf("command sent to sandbox %q", id)
		}
		c.record("execute " + strings.Join(argv, " "))
		return fn(argv)
	}
}

// newClaim is the claim a plan asks for.
func newClaim() *extv1beta1.SandboxClaim {
	return &extv1beta1.SandboxClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "run-1", Namespace: "default"},
		Spec:       extv1beta1.SandboxClaimSpec{WarmPoolRef: extv1beta1.SandboxWarmPoolRef{Name: "python"}},
	}
}
