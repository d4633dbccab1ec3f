package claims

import (
	"cmp"
	"context"
	"errors"
	"reflect"
	"sort"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"
	typedext "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/typed/api/v1beta1"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// serverCreates makes the fake create claims as a server does: on a copy of
// what it was sent, named from its generateName, and changed by answer (the
// controller's first status, say). It records the options of every create.
func serverCreates(client *fake.Clientset, answer func(*extv1beta1.SandboxClaim)) *[]metav1.CreateOptions {
	var opts []metav1.CreateOptions
	client.PrependReactor("create", "sandboxclaims", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ca := a.(k8stesting.CreateActionImpl)
		opts = append(opts, ca.CreateOptions)
		c := ca.GetObject().(*extv1beta1.SandboxClaim).DeepCopy()
		if c.Name == "" {
			c.Name = c.GenerateName + "x7k2p"
		}
		if answer != nil {
			answer(c)
		}
		if err := client.Tracker().Create(ca.GetResource(), c, ca.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, c.DeepCopy(), nil
	})
	return &opts
}

// deletions records the claims deleted and the options of each deletion.
type deletion struct {
	name string
	opts metav1.DeleteOptions
}

func recordDeletions(client *fake.Clientset) *[]deletion {
	var ds []deletion
	client.PrependReactor("delete", "sandboxclaims", func(a k8stesting.Action) (bool, runtime.Object, error) {
		da := a.(k8stesting.DeleteActionImpl)
		ds = append(ds, deletion{da.Name, da.DeleteOptions})
		return false, nil, nil
	})
	return &ds
}

var background = metav1.DeletePropagationBackground

func TestCreate(t *testing.T) {
	tests := []struct {
		name   string
		dryRun bool
		want   metav1.CreateOptions
	}{
		{"create", false, metav1.CreateOptions{FieldManager: "kubectl-sandbox"}},
		{"dry run", true, metav1.CreateOptions{FieldManager: "kubectl-sandbox", DryRun: []string{"All"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewSimpleClientset()
			opts := serverCreates(client, nil)
			c := NewClaim(Spec{Namespace: "default", Pool: "python"}, now)
			c.TypeMeta = metav1.TypeMeta{} // as client-go decodes a server's answer
			created, err := Create(context.Background(), client, c, tt.dryRun)
			if err != nil {
				t.Fatal(err)
			}
			if created.Name != "sandbox-claim-x7k2p" || created.GroupVersionKind() != ClaimGVK {
				t.Errorf("created %s %v, want sandbox-claim-x7k2p with its kind", created.Name, created.GroupVersionKind())
			}
			if want := []metav1.CreateOptions{tt.want}; !reflect.DeepEqual(*opts, want) {
				t.Errorf("options %+v, want %+v", *opts, want)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		client := fake.NewSimpleClientset()
		failWith(client, "create", "sandboxclaims", apierrors.NewForbidden(claimsGR, "", errors.New("no")))
		_, err := Create(context.Background(), client, NewClaim(Spec{Namespace: "default", Pool: "python"}, now), false)
		want := `creating sandboxclaim: sandboxclaims.extensions.agents.x-k8s.io is forbidden: no`
		if !apierrors.IsForbidden(err) || err.Error() != want {
			t.Fatalf("error %v, want %q", err, want)
		}
	})
}

func TestCreateAndWaitReady(t *testing.T) {
	client, watchers := fakeWithWatch()
	serverCreates(client, nil)
	deletions := recordDeletions(client)
	created := make(chan *extv1beta1.SandboxClaim, 1)
	observed := make(chan string, 2)
	hooks := WaitHooks{
		Created: func(c *extv1beta1.SandboxClaim) { created <- c },
		Observe: func(c *extv1beta1.SandboxClaim) { observed <- SandboxName(c) },
	}
	type result struct {
		c   *extv1beta1.SandboxClaim
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := CreateAndWait(context.Background(), client, NewClaim(Spec{Namespace: "default", Pool: "python"}, now), time.Minute, hooks)
		done <- result{c, err}
	}()
	c := <-created
	if c.Name != "sandbox-claim-x7k2p" {
		t.Errorf("Created saw %q", c.Name)
	}
	upd := readyClaim(c.Name, "python-abcde")
	(<-watchers).Modify(upd)
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if SandboxName(res.c) != "python-abcde" || res.c.GroupVersionKind() != ClaimGVK {
		t.Errorf("got %s bound to %q, want the Ready claim with its kind", res.c.Name, SandboxName(res.c))
	}
	if got := []string{<-observed, <-observed}; !reflect.DeepEqual(got, []string{"", "python-abcde"}) {
		t.Errorf("observed sandboxes %v, want the created and the Ready state", got)
	}
	if len(*deletions) != 0 {
		t.Errorf("a Ready claim was deleted: %+v", *deletions)
	}
}

// TestCreateAndWaitIsAtomic: a claim that does not become Ready is deleted,
// and the error says so.
func TestCreateAndWaitIsAtomic(t *testing.T) {
	forbidden := apierrors.NewForbidden(claimsGR, "c1", errors.New("no"))
	tests := []struct {
		name      string
		status    metav1.Condition
		deleteErr error
		want      string
		deleted   bool // the wait's error is wrapped in a *DeletedAfterError
	}{
		{"failed", ready(metav1.ConditionFalse, "TemplateNotFound", `template "python" not found`), nil,
			`sandboxclaim "c1" failed: TemplateNotFound: template "python" not found (sandboxclaim "c1" was deleted)`, true},
		{"already gone", ready(metav1.ConditionFalse, "TemplateNotFound", "x"), apierrors.NewNotFound(claimsGR, "c1"),
			`sandboxclaim "c1" failed: TemplateNotFound: x (sandboxclaim "c1" was deleted)`, true},
		{"the deletion fails", ready(metav1.ConditionFalse, "WarmPoolNotFound", "x"), forbidden,
			"sandboxclaim \"c1\" failed: WarmPoolNotFound: x\n" +
				`deleting sandboxclaim "c1" failed: sandboxclaims.extensions.agents.x-k8s.io "c1" is forbidden: no`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, _ := fakeWithWatch()
			serverCreates(client, func(c *extv1beta1.SandboxClaim) {
				c.Status.Conditions = []metav1.Condition{tt.status} // the controller answers at once
			})
			if tt.deleteErr != nil {
				failWith(client, "delete", "sandboxclaims", tt.deleteErr)
			}
			deletions := recordDeletions(client)
			var createdHook, observeHook int
			hooks := WaitHooks{
				Created: func(*extv1beta1.SandboxClaim) { createdHook++ },
				Observe: func(*extv1beta1.SandboxClaim) { observeHook++ },
			}
			c, err := CreateAndWait(context.Background(), client, NewClaim(Spec{Namespace: "default", Name: "c1", Pool: "python"}, now), time.Minute, hooks)
			if c != nil || errorString(err) != tt.want {
				t.Fatalf("got %v, error:\n%v\nwant:\n%s", c, err, tt.want)
			}
			var failed *FailedError
			if !errors.As(err, &failed) {
				t.Errorf("the wait's *FailedError is lost: %#v", err)
			}
			var after *DeletedAfterError
			var cleanup *CleanupError
			if errors.As(err, &after) != tt.deleted || errors.As(err, &cleanup) == tt.deleted {
				t.Errorf("got %#v; want a *DeletedAfterError: %v, else a *CleanupError", err, tt.deleted)
			}
			if want := []deletion{{"c1", metav1.DeleteOptions{PropagationPolicy: &background}}}; !reflect.DeepEqual(*deletions, want) {
				t.Errorf("deletions %+v, want %+v", *deletions, want)
			}
			if _, err := client.ExtensionsV1beta1().SandboxClaims("default").Get(context.Background(), "c1", metav1.GetOptions{}); tt.deleteErr == nil && !apierrors.IsNotFound(err) {
				t.Errorf("the claim is still there: %v", err)
			}
			if createdHook != 1 || observeHook != 1 {
				t.Errorf("Created called %d times, Observe %d; want 1 and 1", createdHook, observeHook)
			}
		})
	}
}

// ctxClient fails claim deletions on an ended context, as a real client
// does; the generated fake ignores contexts.
type ctxClient struct{ *fake.Clientset }

func (c ctxClient) ExtensionsV1beta1() typedext.ExtensionsV1beta1Interface {
	return ctxExt{c.Clientset.ExtensionsV1beta1()}
}

type ctxExt struct {
	typedext.ExtensionsV1beta1Interface
}

func (e ctxExt) SandboxClaims(ns string) typedext.SandboxClaimInterface {
	return ctxClaims{e.ExtensionsV1beta1Interface.SandboxClaims(ns)}
}

type ctxClaims struct{ typedext.SandboxClaimInterface }

func (c ctxClaims) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return c.SandboxClaimInterface.Delete(ctx, name, opts)
}

// TestCreateAndWaitCleansUpAfterAnInterrupt: the claim is deleted on a fresh
// context when the caller's ends.
func TestCreateAndWaitCleansUpAfterAnInterrupt(t *testing.T) {
	client, _ := fakeWithWatch()
	deletions := recordDeletions(client)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := CreateAndWait(ctx, ctxClient{client}, NewClaim(Spec{Namespace: "default", Name: "c1", Pool: "python"}, now), time.Minute,
		WaitHooks{Observe: func(*extv1beta1.SandboxClaim) { cancel() }})
	var ie *InterruptedError
	var after *DeletedAfterError
	if !errors.As(err, &ie) || !errors.As(err, &after) ||
		err.Error() != `interrupted while waiting for sandboxclaim "c1" to become Ready (sandboxclaim "c1" was deleted)` {
		t.Fatalf("got %v", err)
	}
	if want := []deletion{{"c1", metav1.DeleteOptions{PropagationPolicy: &background}}}; !reflect.DeepEqual(*deletions, want) {
		t.Errorf("deletions %+v, want %+v", *deletions, want)
	}
}

func TestCreateAndWaitCreateFails(t *testing.T) {
	client := fake.NewSimpleClientset()
	failWith(client, "create", "sandboxclaims", apierrors.NewAlreadyExists(claimsGR, "c1"))
	called := false
	_, err := CreateAndWait(context.Background(), client, NewClaim(Spec{Namespace: "default", Name: "c1", Pool: "python"}, now), time.Minute,
		WaitHooks{Created: func(*extv1beta1.SandboxClaim) { called = true }})
	want := `creating sandboxclaim: sandboxclaims.extensions.agents.x-k8s.io "c1" already exists`
	if errorString(err) != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if called {
		t.Error("Created was called for a claim that was not created")
	}
}

func TestDelete(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		client := fake.NewSimpleClientset(claim("c1"))
		deletions := recordDeletions(client)
		if err := Delete(context.Background(), client, "default", "c1", dryRun); err != nil {
			t.Fatal(err)
		}
		want := []deletion{{"c1", metav1.DeleteOptions{PropagationPolicy: &background}}}
		if dryRun {
			want[0].opts.DryRun = []string{"All"}
		}
		if !reflect.DeepEqual(*deletions, want) {
			t.Errorf("dryRun=%v: deletions %+v, want %+v", dryRun, *deletions, want)
		}
	}
}

func TestDeleteAll(t *testing.T) {
	forbidden := apierrors.NewForbidden(claimsGR, "b", errors.New("no"))
	tests := []struct {
		name        string
		names       []string
		opts        DeleteOptions
		forbid      string // a claim whose deletion is refused
		wantMissing []string
		wantErr     string
		wantDeleted []string // the Deleted callback
		wantLeft    []string // claims still there afterwards
		wantDryRun  bool
	}{
		{name: "all there", names: []string{"a", "b"}, wantDeleted: []string{"a", "b"}, wantLeft: []string{"c"}},
		{name: "missing names are returned", names: []string{"x", "a", "y"}, wantMissing: []string{"x", "y"},
			wantDeleted: []string{"a"}, wantLeft: []string{"b", "c"}},
		{name: "other errors stop it", names: []string{"x", "a", "b", "c"}, forbid: "b", wantMissing: []string{"x"},
			wantErr: `deleting sandboxclaim "b": ` + forbidden.Error(), wantDeleted: []string{"a"}, wantLeft: []string{"b", "c"}},
		{name: "wait until gone", names: []string{"a", "x", "c"}, opts: DeleteOptions{Wait: true, Timeout: time.Minute},
			wantMissing: []string{"x"}, wantDeleted: []string{"a", "c"}, wantLeft: []string{"b"}},
		{name: "a dry run does not wait", names: []string{"a", "x"}, opts: DeleteOptions{DryRun: true, Wait: true, Timeout: tight},
			wantMissing: []string{"x"}, wantDeleted: []string{"a"}, wantLeft: []string{"a", "b", "c"}, wantDryRun: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, _ := fakeWithWatch(claim("a"), claim("b"), claim("c"))
			if tt.forbid != "" {
				client.PrependReactor("delete", "sandboxclaims", func(a k8stesting.Action) (bool, runtime.Object, error) {
					return a.(k8stesting.DeleteActionImpl).Name == tt.forbid, nil, forbidden
				})
			}
			client.PrependReactor("delete", "sandboxclaims", func(a k8stesting.Action) (bool, runtime.Object, error) {
				da := a.(k8stesting.DeleteActionImpl)
				if _, err := client.Tracker().Get(da.Resource, da.Namespace, da.Name); err != nil || len(da.DeleteOptions.DryRun) == 0 {
					return false, nil, nil
				}
				return true, nil, nil // a dry run validates only, as the server does
			})
			deletions := recordDeletions(client)
			var deleted []string
			tt.opts.Deleted = func(name string) { deleted = append(deleted, name) }
			missing, err := DeleteAll(context.Background(), client, "default", tt.names, tt.opts)
			if want := cmp.Or(tt.wantErr, "<nil>"); errorString(err) != want {
				t.Errorf("error %v, want %s", err, want)
			}
			if !reflect.DeepEqual(missing, tt.wantMissing) {
				t.Errorf("missing %v, want %v", missing, tt.wantMissing)
			}
			if !reflect.DeepEqual(deleted, tt.wantDeleted) {
				t.Errorf("Deleted called for %v, want %v", deleted, tt.wantDeleted)
			}
			for _, d := range *deletions {
				if got := len(d.opts.DryRun) == 1 && d.opts.DryRun[0] == "All"; got != tt.wantDryRun || *d.opts.PropagationPolicy != background {
					t.Errorf("deletion of %s with %+v, want dry run %v", d.name, d.opts, tt.wantDryRun)
				}
			}
			list, _ := client.ExtensionsV1beta1().SandboxClaims("default").List(context.Background(), metav1.ListOptions{})
			var left []string
			for _, c := range list.Items {
				left = append(left, c.Name)
			}
			sort.Strings(left)
			if !reflect.DeepEqual(left, tt.wantLeft) {
				t.Errorf("left %v, want %v", left, tt.wantLeft)
			}
		})
	}
}

// TestDeleteAllWaitTimesOut: a claim held by a finalizer outlives the wait,
// which reports the whole timeout.
func TestDeleteAllWaitTimesOut(t *testing.T) {
	client, _ := fakeWithWatch(claim("a"))
	client.PrependReactor("delete", "sandboxclaims", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil // accepted, but a finalizer keeps it
	})
	missing, err := DeleteAll(context.Background(), client, "default", []string{"a"}, DeleteOptions{Wait: true, Timeout: tight})
	var te *TimeoutError
	if !errors.As(err, &te) || err.Error() != `timed out after 50ms waiting for sandboxclaim "a" to be deleted` || missing != nil {
		t.Fatalf("got %v, %v", missing, err)
	}
}
