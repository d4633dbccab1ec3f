package claims

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	"sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
)

// TestMain fails the package if a test leaves a goroutine running: every
// wait starts a watch.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var now = time.Date(2026, 11, 25, 12, 0, 0, 500, time.UTC)

var claimsGR = schema.GroupResource{Group: "extensions.agents.x-k8s.io", Resource: "sandboxclaims"}

func claim(name string, conds ...metav1.Condition) *extv1beta1.SandboxClaim {
	return &extv1beta1.SandboxClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Status:     extv1beta1.SandboxClaimStatus{Conditions: conds},
	}
}

// readyClaim is a usable claim: Ready=True and bound to sandbox.
func readyClaim(name, sandbox string) *extv1beta1.SandboxClaim {
	c := claim(name, ready(metav1.ConditionTrue, "DependenciesReady", "Pod is Ready"))
	c.Status.SandboxStatus.Name = sandbox
	return c
}

func ready(status metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: "Ready", Status: status, Reason: reason, Message: msg}
}

// fakeWithWatch returns a fake clientset holding objs whose claim watches
// are FakeWatchers handed to the test once the waiter has opened them, so
// the test drives every event itself: no sleeps, no lost events.
func fakeWithWatch(objs ...runtime.Object) (*fake.Clientset, <-chan *watch.FakeWatcher) {
	client := fake.NewSimpleClientset(objs...)
	reactor, watchers := kubetest.DrivenWatches()
	client.PrependWatchReactor("sandboxclaims", reactor)
	return client, watchers
}

// failWith makes verb on resource fail with err.
func failWith(client *fake.Clientset, verb, resource string, err error) {
	failWithAny(&client.Fake, verb, resource, err)
}

// reverseLists makes the fake list resource in reverse name order (its
// tracker sorts by name), so that tests see the code under test sort.
func reverseLists(client *fake.Clientset, resource string) {
	client.PrependReactor("list", resource, func(a k8stesting.Action) (bool, runtime.Object, error) {
		_, list, err := k8stesting.ObjectReaction(client.Tracker())(a)
		if err != nil {
			return true, nil, err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return true, nil, err
		}
		slices.Reverse(items)
		return true, list, meta.SetList(list, items)
	})
}

// errorString is err's text, or "<nil>".
func errorString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestNewClaim(t *testing.T) {
	c := NewClaim(Spec{Namespace: "ns", Pool: "python", Labels: map[string]string{"team": "a"}, TTL: time.Hour,
		Env: []extv1beta1.EnvVar{{Name: "A", Value: "1"}}}, now)
	if c.GenerateName != "sandbox-claim-" || c.Name != "" || c.Namespace != "ns" {
		t.Errorf("name %q generateName %q namespace %q", c.Name, c.GenerateName, c.Namespace)
	}
	if c.Labels["team"] != "a" || c.Labels[CreatedByLabel] != CreatedByValue || len(c.Labels) != 2 {
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
	if len(c.Spec.Env) != 1 || c.Spec.Env[0].Name != "A" || c.Spec.Env[0].Value != "1" {
		t.Errorf("env %+v", c.Spec.Env)
	}
	named := NewClaim(Spec{Name: "mine", Pool: "p", TTL: time.Minute, ShutdownPolicy: extv1beta1.ShutdownPolicyRetain}, now)
	if named.GenerateName != "" || named.Name != "mine" || named.Spec.Lifecycle.ShutdownPolicy != extv1beta1.ShutdownPolicyRetain {
		t.Errorf("named claim %+v", named)
	}
	if NewClaim(Spec{Pool: "p"}, now).Spec.Lifecycle != nil {
		t.Error("no --ttl must leave lifecycle unset")
	}
	labels := map[string]string{"team": "a"}
	NewClaim(Spec{Pool: "p", Labels: labels}, now)
	if len(labels) != 1 {
		t.Errorf("NewClaim changed the caller's labels: %v", labels)
	}
}

func TestIsReady(t *testing.T) {
	annotated := claim("c1", ready(metav1.ConditionTrue, "DependenciesReady", ""))
	annotated.Annotations = map[string]string{SandboxNameAnnotation: "python-x"}
	tests := []struct {
		name    string
		claim   *extv1beta1.SandboxClaim
		want    bool
		sandbox string
	}{
		{"no conditions", claim("c1"), false, ""},
		{"Ready=False", claim("c1", ready(metav1.ConditionFalse, "SandboxNotReady", "")), false, ""},
		{"Ready=True without a sandbox", claim("c1", ready(metav1.ConditionTrue, "DependenciesReady", "")), false, ""},
		{"Ready=True with status.sandbox.name", readyClaim("c1", "python-abcde"), true, "python-abcde"},
		{"Ready=True with the sandbox-name annotation", annotated, true, "python-x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsReady(tt.claim); got != tt.want {
				t.Errorf("IsReady = %v, want %v", got, tt.want)
			}
			if got := SandboxName(tt.claim); got != tt.sandbox {
				t.Errorf("SandboxName = %q, want %q", got, tt.sandbox)
			}
		})
	}
}

func TestFailure(t *testing.T) {
	tests := []struct {
		name  string
		claim *extv1beta1.SandboxClaim
		want  string
	}{
		{"no conditions", claim("c1"), "<nil>"},
		{"a reason that heals", claim("c1", ready(metav1.ConditionFalse, "DependenciesNotReady", "pending")), "<nil>"},
		{"terminal reason", claim("c1", ready(metav1.ConditionFalse, "TemplateNotFound", `template "x" not found`)),
			`sandboxclaim "c1" failed: TemplateNotFound: template "x" not found`},
		{"terminal reason but Ready=Unknown", claim("c1", ready(metav1.ConditionUnknown, "ClaimExpired", "")), "<nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorString(Failure(tt.claim)); got != tt.want {
				t.Errorf("Failure = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestConditionString(t *testing.T) {
	tests := []struct {
		cond Condition
		want string
	}{
		{Ready, "become Ready"},
		{Deleted, "be deleted"},
		{Condition{Type: "Ready", Status: metav1.ConditionFalse}, "have condition Ready=False"},
		{Condition{Type: "Paused", Status: metav1.ConditionTrue}, "have condition Paused=True"},
	}
	for _, tt := range tests {
		if got := tt.cond.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.cond, got, tt.want)
		}
	}
}

func TestErrorStrings(t *testing.T) {
	denied := errors.New("denied")
	tests := []struct {
		err  error
		want string
	}{
		{&NotFoundError{Namespace: "ns", Name: "c1"}, `sandboxclaim "c1" not found in namespace "ns"`},
		{&TimeoutError{Name: "c1", For: "be deleted", After: time.Minute}, `timed out after 1m0s waiting for sandboxclaim "c1" to be deleted`},
		{&TimeoutError{Name: "c1", For: "become Ready", After: time.Second, Last: &metav1.Condition{Status: "False", Reason: "R", Message: "m"}},
			`timed out after 1s waiting for sandboxclaim "c1" to become Ready (last Ready=False, reason R: m)`},
		{&InterruptedError{Name: "c1", For: "become Ready"}, `interrupted while waiting for sandboxclaim "c1" to become Ready`},
		{&FailedError{Name: "c1", Reason: "R", Message: "m"}, `sandboxclaim "c1" failed: R: m`},
		{&DeletedError{Name: "c1", For: "be deleted"}, `sandboxclaim "c1" was deleted while waiting for it to be deleted`},
		{&CleanupError{Name: "c1", Err: denied}, `deleting sandboxclaim "c1" failed: denied`},
		{&DeletedAfterError{Name: "c1", Err: denied}, `denied (sandboxclaim "c1" was deleted)`},
		{&NotReadyError{Name: "c1"}, `sandboxclaim "c1" is not Ready`},
		{&NotReadyError{Name: "c1", Reason: "R: m"}, `sandboxclaim "c1" is not Ready (R: m)`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%T.Error() = %q, want %q", tt.err, got, tt.want)
		}
	}
	if !errors.Is(&CleanupError{Name: "c1", Err: denied}, denied) || !errors.Is(&DeletedAfterError{Name: "c1", Err: denied}, denied) {
		t.Error("CleanupError and DeletedAfterError must unwrap to their cause")
	}
}

func TestIsObjectNotFoundVsIsMissingAPI(t *testing.T) {
	tests := []struct {
		name                  string
		err                   error
		objectGone, apiAbsent bool
	}{
		{"nil", nil, false, false},
		{"a named object", apierrors.NewNotFound(claimsGR, "c1"), true, false},
		{"a named object, wrapped", fmt.Errorf("getting: %w", apierrors.NewNotFound(claimsGR, "c1")), true, false},
		{"the resource (CRD not installed)", apierrors.NewNotFound(claimsGR, ""), false, true},
		{"a bare 404 without details", &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 404, Reason: metav1.StatusReasonNotFound}}, false, true},
		{"forbidden", apierrors.NewForbidden(claimsGR, "c1", errors.New("no")), false, false},
		{"not an API error", errors.New("not found"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsObjectNotFound(tt.err); got != tt.objectGone {
				t.Errorf("IsObjectNotFound = %v, want %v", got, tt.objectGone)
			}
			if got := IsMissingAPI(tt.err); got != tt.apiAbsent {
				t.Errorf("IsMissingAPI = %v, want %v", got, tt.apiAbsent)
			}
		})
	}
}
