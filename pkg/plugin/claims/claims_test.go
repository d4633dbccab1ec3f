package claims

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 500, time.UTC)

func TestNewClaim(t *testing.T) {
	c := NewClaim(Spec{Namespace: "ns", Pool: "python", Labels: map[string]string{"team": "a"}, TTL: time.Hour}, now)
	if c.GenerateName != "sandbox-claim-" || c.Name != "" {
		t.Errorf("name %q generateName %q", c.Name, c.GenerateName)
	}
	if c.Labels["team"] != "a" || c.Labels[CreatedByLabel] != CreatedByValue {
		t.Errorf("labels %v", c.Labels)
	}
	if got := c.Annotations[FirstRequestedAtAnnotation]; got != "2026-11-25T12:00:00.0000005Z" {
		t.Errorf("first-requested-at %q", got)
	}
	lc := c.Spec.Lifecycle
	if lc == nil || lc.ShutdownPolicy != extv1beta1.ShutdownPolicyDelete || !lc.ShutdownTime.Time.Equal(now.Add(time.Hour).Truncate(time.Second)) {
		t.Errorf("lifecycle %+v", lc)
	}
	if c.Spec.WarmPoolRef.Name != "python" || c.APIVersion != "extensions.agents.x-k8s.io/v1beta1" || c.Kind != "SandboxClaim" {
		t.Errorf("unexpected claim %+v", c)
	}
	named := NewClaim(Spec{Name: "mine", Pool: "p", TTL: time.Minute, ShutdownPolicy: extv1beta1.ShutdownPolicyRetain}, now)
	if named.GenerateName != "" || named.Name != "mine" || named.Spec.Lifecycle.ShutdownPolicy != extv1beta1.ShutdownPolicyRetain {
		t.Errorf("named claim %+v", named)
	}
	if NewClaim(Spec{Pool: "p"}, now).Spec.Lifecycle != nil {
		t.Error("no --ttl must leave lifecycle unset")
	}
}

func claim(name string, conds ...metav1.Condition) *extv1beta1.SandboxClaim {
	return &extv1beta1.SandboxClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Status:     extv1beta1.SandboxClaimStatus{Conditions: conds},
	}
}

func ready(status metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: "Ready", Status: status, Reason: reason, Message: msg}
}

// fakeWithWatch returns a fake clientset holding objs whose claim watches
// are FakeWatchers handed to the test once the waiter has opened them, so
// the test drives every event itself: no sleeps, no lost events.
func fakeWithWatch(objs ...runtime.Object) (*fake.Clientset, <-chan *watch.FakeWatcher) {
	client := fake.NewSimpleClientset(objs...)
	watchers := make(chan *watch.FakeWatcher, 1)
	client.PrependWatchReactor("sandboxclaims", func(a k8stesting.Action) (bool, watch.Interface, error) {
		if wa, ok := a.(k8stesting.WatchActionImpl); ok && wa.ListOptions.SendInitialEvents != nil {
			// Refuse a streaming list so that the reflector falls back to
			// LIST and WATCH, as it does against servers without it.
			return true, nil, errors.New("this fake does not stream lists")
		}
		w := watch.NewFake()
		select {
		case watchers <- w:
		default: // a later watch the test does not drive
		}
		return true, w, nil
	})
	return client, watchers
}

// TestWaitReadyWatchesUntilReady: the claim turns Ready after the wait has
// started; the watch delivers it.
func TestWaitReadyWatchesUntilReady(t *testing.T) {
	c := claim("c1", ready(metav1.ConditionFalse, "SandboxNotReady", "not yet"))
	client, watchers := fakeWithWatch(c)
	var observed []string
	done := make(chan error)
	var got *extv1beta1.SandboxClaim
	go func() {
		var err error
		got, err = WaitReady(context.Background(), client, "default", "c1", time.Minute, func(c *extv1beta1.SandboxClaim) {
			observed = append(observed, ReadyCondition(c).Reason)
		})
		done <- err
	}()
	w := <-watchers
	upd := c.DeepCopy()
	upd.Status.Conditions = []metav1.Condition{ready(metav1.ConditionTrue, "DependenciesReady", "Pod is Ready")}
	w.Modify(upd) // Ready, but no sandbox bound yet: keep waiting
	upd = upd.DeepCopy()
	upd.Status.SandboxStatus.Name = "python-abcde"
	w.Modify(upd)
	if err := <-done; err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if SandboxName(got) != "python-abcde" {
		t.Errorf("sandbox %q", SandboxName(got))
	}
	if want := []string{"SandboxNotReady", "DependenciesReady", "DependenciesReady"}; !reflect.DeepEqual(observed, want) {
		t.Errorf("observed %v, want %v", observed, want)
	}
}

func TestWaitReadyFailsWhenTheClaimIsDeleted(t *testing.T) {
	c := claim("c1")
	client, watchers := fakeWithWatch(c)
	seen := make(chan struct{}, 1)
	done := make(chan error)
	go func() {
		_, err := WaitReady(context.Background(), client, "default", "c1", time.Minute, func(*extv1beta1.SandboxClaim) { seen <- struct{}{} })
		done <- err
	}()
	w := <-watchers
	<-seen
	w.Delete(c)
	if err := <-done; err == nil || err.Error() != `sandboxclaim "c1" was deleted while waiting for it to become Ready` {
		t.Fatalf("got %v", err)
	}
}

func TestWaitReadyNeedsSandboxName(t *testing.T) {
	// Ready=True without a bound sandbox is not usable yet.
	c := claim("c1", ready(metav1.ConditionTrue, "DependenciesReady", ""))
	if IsReady(c) {
		t.Fatal("ready without sandbox name")
	}
	c.Annotations = map[string]string{SandboxNameAnnotation: "python-x"}
	if !IsReady(c) {
		t.Fatal("the sandbox-name annotation binds the sandbox")
	}
}

func TestWaitReadyFailsFastOnTerminalReasons(t *testing.T) {
	for _, reason := range []string{"TemplateNotFound", "WarmPoolNotFound", "InvalidMetadata", "EnvVarsInjectionRejected", "VolumeClaimTemplatesError", "ClaimExpired", "SandboxExpired"} {
		t.Run(reason, func(t *testing.T) {
			client, _ := fakeWithWatch(claim("c1", ready(metav1.ConditionFalse, reason, "the message")))
			_, err := WaitReady(context.Background(), client, "default", "c1", time.Minute, nil)
			var failed *FailedError
			if !errors.As(err, &failed) || failed.Reason != reason {
				t.Fatalf("got %v", err)
			}
			if want := `sandboxclaim "c1" failed: ` + reason + ": the message"; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
}

func TestWaitReadyNotFound(t *testing.T) {
	client, _ := fakeWithWatch()
	_, err := WaitReady(context.Background(), client, "default", "nope", time.Minute, nil)
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("got %v", err)
	}
}

func TestWaitReadyTimeoutReportsLastReason(t *testing.T) {
	client, _ := fakeWithWatch(claim("c1", ready(metav1.ConditionFalse, "DependenciesNotReady", "Pod exists with phase: Pending")))
	// The deadline is what is under test; it is long enough for the first
	// state to be observed even on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := WaitReady(ctx, client, "default", "c1", 3*time.Minute, nil)
	want := `timed out after 3m0s waiting for sandboxclaim "c1" to become Ready (last Ready=False, reason DependenciesNotReady: Pod exists with phase: Pending)`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
}

func TestWaitDeleted(t *testing.T) {
	c := claim("c1")
	client, watchers := fakeWithWatch(c)
	done := make(chan error)
	go func() { done <- WaitDeleted(context.Background(), client, "default", "c1", time.Minute) }()
	(<-watchers).Delete(c) // before or after the initial sync: either way it is gone
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	empty, _ := fakeWithWatch()
	if err := WaitDeleted(context.Background(), empty, "default", "c1", time.Minute); err != nil {
		t.Fatalf("an absent claim counts as deleted: %v", err)
	}
}

func pool(name, template string, ready int32) *extv1beta1.SandboxWarmPool {
	return &extv1beta1.SandboxWarmPool{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       extv1beta1.SandboxWarmPoolSpec{TemplateRef: extv1beta1.SandboxTemplateRef{Name: template}, Replicas: ptr.To(ready)},
		Status:     extv1beta1.SandboxWarmPoolStatus{ReadyReplicas: ready},
	}
}

func TestPoolForTemplate(t *testing.T) {
	client := fake.NewSimpleClientset(pool("b", "python", 2), pool("a", "python", 2), pool("c", "python", 1), pool("z", "go", 5),
		&extv1beta1.SandboxTemplate{ObjectMeta: metav1.ObjectMeta{Name: "python", Namespace: "default"}})
	got, err := PoolForTemplate(context.Background(), client, "default", "python")
	if err != nil || got != "a" {
		t.Fatalf("got %q, %v; want a (most ready, then name)", got, err)
	}
	_, err = PoolForTemplate(context.Background(), client, "default", "ruby")
	want := `no SandboxWarmPool in namespace "default" uses SandboxTemplate "ruby"; pools: a (template python), b (template python), c (template python), z (template go); templates: python; check the template name, or use --pool`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
	client = fake.NewSimpleClientset(&extv1beta1.SandboxTemplate{ObjectMeta: metav1.ObjectMeta{Name: "python", Namespace: "default"}})
	_, err = PoolForTemplate(context.Background(), client, "default", "python")
	want = `no SandboxWarmPool in namespace "default" uses SandboxTemplate "python"; pools: none; templates: python; create a pool for it (spec.sandboxTemplateRef.name: python, replicas: 0 for cold starts) or use --pool`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
}

// TestWaitReadySurvivesADroppedWatch: when the server closes the watch, the
// wait re-establishes it and still sees the claim become Ready.
func TestWaitReadySurvivesADroppedWatch(t *testing.T) {
	c := claim("c1", ready(metav1.ConditionFalse, "SandboxNotReady", ""))
	client, watchers := fakeWithWatch(c)
	done := make(chan error)
	go func() {
		_, err := WaitReady(context.Background(), client, "default", "c1", time.Minute, nil)
		done <- err
	}()
	(<-watchers).Stop() // the connection drops
	upd := c.DeepCopy()
	upd.Status.Conditions = []metav1.Condition{ready(metav1.ConditionTrue, "DependenciesReady", "")}
	upd.Status.SandboxStatus.Name = "python-x"
	(<-watchers).Modify(upd) // delivered on the re-established watch
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
