package claims

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

func TestGet(t *testing.T) {
	tests := []struct {
		name     string
		claim    string
		apiErr   error // of every GET
		want     string
		notFound bool
	}{
		{name: "there", claim: "c1", want: "<nil>"},
		{name: "not found", claim: "nope", want: `sandboxclaim "nope" not found in namespace "default"`, notFound: true},
		{name: "the API is not installed", claim: "c1", apiErr: apierrors.NewNotFound(claimsGR, ""),
			want: `getting sandboxclaim "c1": sandboxclaims.extensions.agents.x-k8s.io "" not found`},
		{name: "forbidden", claim: "c1", apiErr: apierrors.NewForbidden(claimsGR, "c1", errors.New("no")),
			want: `getting sandboxclaim "c1": sandboxclaims.extensions.agents.x-k8s.io "c1" is forbidden: no`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewSimpleClientset(claim("c1"))
			if tt.apiErr != nil {
				failWith(client, "get", "sandboxclaims", tt.apiErr)
			}
			c, err := Get(context.Background(), client, "default", tt.claim)
			if errorString(err) != tt.want {
				t.Fatalf("error %v, want %s", err, tt.want)
			}
			var nf *NotFoundError
			if errors.As(err, &nf) != tt.notFound {
				t.Errorf("error %#v, want a *NotFoundError: %v", err, tt.notFound)
			}
			if err == nil && c.Name != "c1" {
				t.Errorf("got %q", c.Name)
			}
			if tt.apiErr != nil && !errors.Is(err, tt.apiErr) {
				t.Errorf("the API error is not wrapped: %#v", err)
			}
		})
	}
}

func TestGetReady(t *testing.T) {
	tests := []struct {
		name     string
		claim    *extv1beta1.SandboxClaim
		want     string
		notReady bool
	}{
		{"ready", readyClaim("c1", "python-x"), "<nil>", false},
		{"no conditions yet", claim("c1"), `sandboxclaim "c1" is not Ready`, true},
		{"reason and message", claim("c1", ready(metav1.ConditionFalse, "DependenciesNotReady", "Pod exists with phase: Pending")),
			`sandboxclaim "c1" is not Ready (DependenciesNotReady: Pod exists with phase: Pending)`, true},
		{"reason only", claim("c1", ready(metav1.ConditionFalse, "SandboxNotReady", "")), `sandboxclaim "c1" is not Ready (SandboxNotReady)`, true},
		{"Ready=True without a sandbox", claim("c1", ready(metav1.ConditionTrue, "DependenciesReady", "")),
			`sandboxclaim "c1" is not Ready (DependenciesReady)`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewSimpleClientset(tt.claim)
			c, err := GetReady(context.Background(), client, "default", "c1")
			if errorString(err) != tt.want {
				t.Fatalf("error %v, want %s", err, tt.want)
			}
			var nr *NotReadyError
			if errors.As(err, &nr) != tt.notReady {
				t.Errorf("error %#v, want a *NotReadyError: %v", err, tt.notReady)
			}
			if err == nil && SandboxName(c) != "python-x" {
				t.Errorf("got %+v", c)
			}
		})
	}
	t.Run("not found", func(t *testing.T) {
		_, err := GetReady(context.Background(), fake.NewSimpleClientset(), "default", "c1")
		var nf *NotFoundError
		if !errors.As(err, &nf) {
			t.Fatalf("got %v, want a *NotFoundError", err)
		}
	})
}

func TestList(t *testing.T) {
	labelled := func(name, team string) *extv1beta1.SandboxClaim {
		c := claim(name)
		c.Labels = map[string]string{"team": team}
		return c
	}
	tests := []struct {
		selector string
		want     []string
	}{
		{"", []string{"a", "b", "c", "d"}},
		{"team=x", []string{"a", "d"}},
		{"team=nobody", nil},
	}
	for _, tt := range tests {
		t.Run(tt.selector, func(t *testing.T) {
			client := fake.NewSimpleClientset(labelled("d", "x"), labelled("b", "y"), labelled("a", "x"), labelled("c", "y"))
			reverseLists(client, "sandboxclaims")
			var sent string
			client.PrependReactor("list", "sandboxclaims", func(a k8stesting.Action) (bool, runtime.Object, error) {
				sent = a.(k8stesting.ListActionImpl).ListOptions.LabelSelector
				return false, nil, nil
			})
			items, err := List(context.Background(), client, "default", tt.selector)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range items {
				got = append(got, c.Name)
			}
			if !reflect.DeepEqual(got, tt.want) || sent != tt.selector {
				t.Errorf("got %v with selector %q, want %v with %q", got, sent, tt.want, tt.selector)
			}
		})
	}
	t.Run("an API error", func(t *testing.T) {
		client := fake.NewSimpleClientset()
		failWith(client, "list", "sandboxclaims", apierrors.NewNotFound(claimsGR, ""))
		_, err := List(context.Background(), client, "default", "")
		want := `listing sandboxclaims: sandboxclaims.extensions.agents.x-k8s.io "" not found`
		if !IsMissingAPI(err) || err.Error() != want {
			t.Fatalf("error %v, want %q", err, want)
		}
	})
}

func TestPreferredIP(t *testing.T) {
	tests := []struct {
		ips  []string
		want string
	}{
		{nil, ""},
		{[]string{"10.0.0.7"}, "10.0.0.7"},
		{[]string{"fd00::7", "10.0.0.7"}, "10.0.0.7"},
		{[]string{"::ffff:10.0.0.7", "fd00::7"}, "10.0.0.7"},
		{[]string{"fd00::7", "fd00::8"}, "fd00::7"},
		{[]string{"not-an-ip", "fd00::8"}, "not-an-ip"},
	}
	for _, tt := range tests {
		if got := PreferredIP(tt.ips); got != tt.want {
			t.Errorf("PreferredIP(%q) = %q, want %q", tt.ips, got, tt.want)
		}
	}
}

// TestGetReadyWithin: a bound claim whose pod is not ready is waited for
// (and returned once Ready, or reported with its last reason after the
// grace); other states are reported at once, as GetReady does.
func TestGetReadyWithin(t *testing.T) {
	probing := func() *extv1beta1.SandboxClaim {
		c := claim("c1", ready(metav1.ConditionFalse, ReasonDependenciesNotReady, "Pod is Running but not Ready"))
		c.Status.SandboxStatus.Name = "python-x"
		return c
	}
	t.Run("ready again within the grace", func(t *testing.T) {
		client, watchers := fakeWithWatch(probing())
		done := make(chan error, 1)
		var got *extv1beta1.SandboxClaim
		go func() {
			var err error
			got, err = GetReadyWithin(context.Background(), client, "default", "c1", time.Minute)
			done <- err
		}()
		select {
		case w := <-watchers:
			w.Modify(readyClaim("c1", "python-x"))
		case err := <-done:
			t.Fatalf("returned before the claim was Ready again: %v", err)
		}
		if err := <-done; err != nil || SandboxName(got) != "python-x" {
			t.Fatalf("got %v, %v", got, err)
		}
	})
	t.Run("still not ready after the grace", func(t *testing.T) {
		client, _ := fakeWithWatch(probing())
		_, err := GetReadyWithin(context.Background(), client, "default", "c1", pastSync)
		var nr *NotReadyError
		want := `sandboxclaim "c1" is not Ready (DependenciesNotReady: Pod is Running but not Ready) after 1s`
		if !errors.As(err, &nr) || err.Error() != want {
			t.Fatalf("error %v, want %s", err, want)
		}
	})
	for _, tt := range []struct {
		name  string
		claim *extv1beta1.SandboxClaim
		want  string
	}{
		{"suspended", claim("c1", ready(metav1.ConditionFalse, ReasonSandboxSuspended, "")), `sandboxclaim "c1" is not Ready (SandboxSuspended)`},
		{"not bound yet", claim("c1", ready(metav1.ConditionFalse, ReasonDependenciesNotReady, "Pod does not exist")),
			`sandboxclaim "c1" is not Ready (DependenciesNotReady: Pod does not exist)`},
		{"no conditions", claim("c1"), `sandboxclaim "c1" is not Ready`},
	} {
		t.Run(tt.name+": at once", func(t *testing.T) {
			client := fake.NewSimpleClientset(tt.claim)
			if _, err := GetReadyWithin(context.Background(), client, "default", "c1", time.Hour); errorString(err) != tt.want {
				t.Fatalf("error %v, want %s", err, tt.want)
			}
		})
	}
	t.Run("ready", func(t *testing.T) {
		c, err := GetReadyWithin(context.Background(), fake.NewSimpleClientset(readyClaim("c1", "python-x")), "default", "c1", time.Hour)
		if err != nil || SandboxName(c) != "python-x" {
			t.Fatalf("got %v, %v", c, err)
		}
	})
}
