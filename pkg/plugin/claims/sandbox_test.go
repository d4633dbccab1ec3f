package claims

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
)

// forbiddenErr is a 403 for resource/name.
func forbiddenErr(resource, name string) error {
	return apierrors.NewForbidden(schema.GroupResource{Resource: resource}, name, errors.New("no"))
}

// suspendedSandbox is a Sandbox asked to be suspended, with the given
// Suspended status, Ready reason and pod IPs.
func suspendedSandbox(mode string, suspended metav1.ConditionStatus, readyReason string, podIPs ...string) *sandboxv1beta1.Sandbox {
	s := sandbox("python-abcde", "")
	s.Spec.OperatingMode = sandboxv1beta1.SandboxOperatingMode(mode)
	if suspended != "" {
		s.Status.Conditions = append(s.Status.Conditions, metav1.Condition{Type: ConditionSuspended, Status: suspended, Reason: "Suspended"})
	}
	if readyReason != "" {
		s.Status.Conditions = append(s.Status.Conditions, metav1.Condition{Type: ConditionReady, Status: metav1.ConditionFalse, Reason: readyReason, Message: "m"})
	}
	s.Status.PodIPs = podIPs
	return s
}

func TestSandboxOf(t *testing.T) {
	bound := readyClaim("c1", "python-abcde")
	annotated := claim("c1")
	annotated.Annotations = map[string]string{SandboxNameAnnotation: "python-abcde"}
	tests := []struct {
		name    string
		objs    []runtime.Object
		setup   func(fakes)
		claim   bool // a claim is returned
		sandbox string
		errType any
		want    string
	}{
		{name: "no claim", objs: []runtime.Object{sandbox("python-abcde", "")},
			errType: new(*NotFoundError), want: `sandboxclaim "c1" not found in namespace "default"`},
		{name: "no sandbox bound", objs: []runtime.Object{claim("c1"), sandbox("python-abcde", "")}, claim: true,
			errType: new(*NoSandboxError), want: `sandboxclaim "c1" has no sandbox yet`},
		{name: "the bound sandbox is gone", objs: []runtime.Object{bound}, claim: true,
			errType: new(*NoSandboxError), want: `sandboxclaim "c1" has no sandbox yet`},
		{name: "the sandbox cannot be read", objs: []runtime.Object{bound, sandbox("python-abcde", "")}, claim: true,
			setup: func(f fakes) {
				failWithAny(&f.agents.Fake, "get", "sandboxes", forbiddenErr("sandboxes", "python-abcde"))
			},
			want: `getting sandbox "python-abcde": sandboxes "python-abcde" is forbidden: no`},
		{name: "found", objs: []runtime.Object{bound, sandbox("python-abcde", "")}, claim: true, sandbox: "python-abcde", want: "<nil>"},
		{name: "found by annotation", objs: []runtime.Object{annotated, sandbox("python-abcde", "")}, claim: true, sandbox: "python-abcde", want: "<nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := describeClients(t, tt.objs, nil)
			if tt.setup != nil {
				tt.setup(f)
			}
			cl, s, err := SandboxOf(context.Background(), c, "default", "c1")
			if errorString(err) != tt.want {
				t.Fatalf("error %v, want %s", err, tt.want)
			}
			switch target := tt.errType.(type) {
			case **NotFoundError:
				if !errors.As(err, target) {
					t.Errorf("error %T, want a *NotFoundError", err)
				}
			case **NoSandboxError:
				if !errors.As(err, target) || (*target).Name != "c1" {
					t.Errorf("error %T, want a *NoSandboxError", err)
				}
			}
			if (cl != nil) != tt.claim || cl != nil && cl.Name != "c1" {
				t.Errorf("claim %v, want one: %v", cl, tt.claim)
			}
			gotSandbox := ""
			if s != nil {
				gotSandbox = s.Name
			}
			if gotSandbox != tt.sandbox {
				t.Errorf("sandbox %q, want %q", gotSandbox, tt.sandbox)
			}
		})
	}
}

func TestPodOf(t *testing.T) {
	bound := readyClaim("c1", "python-abcde")
	suspended := sandbox("python-abcde", "warm-pod-1")
	suspended.Spec.OperatingMode = sandboxv1beta1.SandboxOperatingModeSuspended
	tests := []struct {
		name      string
		objs      []runtime.Object
		setup     func(fakes)
		pod       string
		suspended *bool // a *NoPodError, suspended or not
		want      string
	}{
		{name: "an adopted warm pod, by the pod-name annotation",
			objs: []runtime.Object{bound, sandbox("python-abcde", "warm-pod-1"), pod("warm-pod-1"), pod("python-abcde")},
			pod:  "warm-pod-1", want: "<nil>"},
		{name: "a pod of its own name",
			objs: []runtime.Object{bound, sandbox("python-abcde", ""), pod("warm-pod-1"), pod("python-abcde")},
			pod:  "python-abcde", want: "<nil>"},
		{name: "no pod, suspended", objs: []runtime.Object{bound, suspended, pod("python-abcde")},
			suspended: ptrTo(true), want: `sandbox python-abcde of sandboxclaim "c1" is suspended: it has no pod`},
		{name: "no pod, not suspended", objs: []runtime.Object{bound, sandbox("python-abcde", "warm-pod-1")},
			suspended: ptrTo(false), want: `sandbox python-abcde of sandboxclaim "c1" has no pod`},
		{name: "no sandbox", objs: []runtime.Object{claim("c1")}, want: `sandboxclaim "c1" has no sandbox yet`},
		{name: "the pod cannot be read", objs: []runtime.Object{bound, sandbox("python-abcde", "warm-pod-1"), pod("warm-pod-1")},
			setup: func(f fakes) { failWithAny(&f.core.Fake, "get", "pods", forbiddenErr("pods", "warm-pod-1")) },
			want:  `getting pod "warm-pod-1": pods "warm-pod-1" is forbidden: no`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := describeClients(t, tt.objs, nil)
			if tt.setup != nil {
				tt.setup(f)
			}
			p, err := PodOf(context.Background(), c, "default", "c1")
			if errorString(err) != tt.want {
				t.Fatalf("error %v, want %s", err, tt.want)
			}
			if tt.suspended != nil {
				var np *NoPodError
				if !errors.As(err, &np) || np.Suspended != *tt.suspended || np.Claim != "c1" || np.Sandbox != "python-abcde" {
					t.Errorf("error %#v, want a *NoPodError with Suspended %v", err, *tt.suspended)
				}
			}
			gotPod := ""
			if p != nil {
				gotPod = p.Name
			}
			if gotPod != tt.pod {
				t.Errorf("pod %q, want %q", gotPod, tt.pod)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestIsSuspended(t *testing.T) {
	for mode, want := range map[string]bool{"": false, ModeRunning: false, ModeSuspended: true} {
		s := sandbox("s", "")
		s.Spec.OperatingMode = sandboxv1beta1.SandboxOperatingMode(mode)
		if got := IsSuspended(s); got != want {
			t.Errorf("IsSuspended with mode %q = %v, want %v", mode, got, want)
		}
	}
}

// patches returns the patch actions a fake saw.
func patches(f *k8stesting.Fake) []k8stesting.PatchActionImpl {
	var ps []k8stesting.PatchActionImpl
	for _, a := range f.Actions() {
		if p, ok := a.(k8stesting.PatchActionImpl); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

func TestSetOperatingMode(t *testing.T) {
	for _, mode := range []string{ModeSuspended, ModeRunning} {
		t.Run(mode, func(t *testing.T) {
			c, f := describeClients(t, []runtime.Object{readyClaim("c1", "python-abcde"), sandbox("python-abcde", "")}, nil)
			s, err := SetOperatingMode(context.Background(), c, "default", "c1", mode)
			if err != nil || s.Name != "python-abcde" {
				t.Fatalf("got %v, %v", s, err)
			}
			ps := patches(&f.agents.Fake)
			if len(ps) != 1 {
				t.Fatalf("patches %v, want one", ps)
			}
			p := ps[0]
			if want := `{"spec":{"operatingMode":"` + mode + `"}}`; string(p.GetPatch()) != want || p.GetPatchType() != types.MergePatchType ||
				p.GetName() != "python-abcde" || p.GetNamespace() != "default" || p.GetResource().Resource != "sandboxes" {
				t.Errorf("patch %s %s of %s/%s %s, want the merge patch %s of default/python-abcde",
					p.GetPatchType(), p.GetPatch(), p.GetNamespace(), p.GetName(), p.GetResource().Resource, want)
			}
			got, err := c.Agents.AgentsV1beta1().Sandboxes("default").Get(context.Background(), "python-abcde", metav1.GetOptions{})
			if err != nil || string(got.Spec.OperatingMode) != mode {
				t.Errorf("sandbox after the patch: %v, %v", got, err)
			}
		})
	}
	t.Run("no sandbox: no patch", func(t *testing.T) {
		c, f := describeClients(t, []runtime.Object{claim("c1")}, nil)
		_, err := SetOperatingMode(context.Background(), c, "default", "c1", ModeSuspended)
		var ns *NoSandboxError
		if !errors.As(err, &ns) {
			t.Fatalf("error %v, want a *NoSandboxError", err)
		}
		if len(f.agents.Actions()) != 0 {
			t.Errorf("actions %v, want none", f.agents.Actions())
		}
	})
	t.Run("no claim", func(t *testing.T) {
		c, _ := describeClients(t, nil, nil)
		_, err := SetOperatingMode(context.Background(), c, "default", "c1", ModeSuspended)
		var nf *NotFoundError
		if !errors.As(err, &nf) {
			t.Fatalf("error %v, want a *NotFoundError", err)
		}
	})
	t.Run("the patch is refused", func(t *testing.T) {
		c, f := describeClients(t, []runtime.Object{readyClaim("c1", "python-abcde"), sandbox("python-abcde", "")}, nil)
		failWithAny(&f.agents.Fake, "patch", "sandboxes", forbiddenErr("sandboxes", "python-abcde"))
		_, err := SetOperatingMode(context.Background(), c, "default", "c1", ModeSuspended)
		want := `setting sandbox "python-abcde" to Suspended: sandboxes "python-abcde" is forbidden: no`
		if errorString(err) != want || !apierrors.IsForbidden(err) {
			t.Fatalf("error %v, want %s", err, want)
		}
	})
}

// sandboxClients serves s (if any) from an agents fake whose first watch of
// sandboxes the test drives.
func sandboxClients(t *testing.T, s *sandboxv1beta1.Sandbox) (*kube.Clients, <-chan *watch.FakeWatcher) {
	t.Helper()
	var objs []runtime.Object
	if s != nil {
		objs = append(objs, s)
	}
	c, f := describeClients(t, objs, nil)
	reactor, watchers := kubetest.DrivenWatches()
	f.agents.PrependWatchReactor("sandboxes", reactor)
	return c, watchers
}

// waitSuspendedAsync runs WaitSuspended in a goroutine.
func waitSuspendedAsync(ctx context.Context, c *kube.Clients, timeout time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() { done <- WaitSuspended(ctx, c.Agents, "default", "python-abcde", "c1", timeout) }()
	return done
}

func TestWaitSuspendedEndsOnceThePodIsGone(t *testing.T) {
	running := suspendedSandbox(ModeRunning, "", "", "10.0.0.5")
	running.Status.Conditions = []metav1.Condition{{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: "DependenciesReady"}}
	c, watchers := sandboxClients(t, running)
	done := waitSuspendedAsync(context.Background(), c, time.Minute)
	w := <-watchers
	// Asked to suspend; Suspended=True left over from an earlier
	// suspension while the pod still runs: not yet.
	w.Modify(suspendedSandbox(ModeSuspended, metav1.ConditionTrue, "DependenciesReady", "10.0.0.5"))
	// Ready=False/SandboxSuspended, but the pod still has its IPs: not yet.
	w.Modify(suspendedSandbox(ModeSuspended, metav1.ConditionTrue, ReasonSandboxSuspended, "10.0.0.5"))
	// The pod is gone.
	w.Modify(suspendedSandbox(ModeSuspended, metav1.ConditionTrue, ReasonSandboxSuspended))
	if err := <-done; err != nil {
		t.Fatalf("WaitSuspended: %v", err)
	}
}

func TestWaitSuspendedAlreadySuspended(t *testing.T) {
	c, _ := sandboxClients(t, suspendedSandbox(ModeSuspended, metav1.ConditionTrue, ReasonSandboxSuspended))
	if err := WaitSuspended(context.Background(), c.Agents, "default", "python-abcde", "c1", time.Minute); err != nil {
		t.Fatalf("WaitSuspended: %v", err)
	}
}

// TestWaitSuspendedIsNotFooledByStaleStates: every state that lacks one of
// the signs is seen (the timeout reports its Ready condition) and does not
// end the wait.
func TestWaitSuspendedIsNotFooledByStaleStates(t *testing.T) {
	tests := []struct {
		name string
		s    *sandboxv1beta1.Sandbox
	}{
		{"a stale Suspended=True with pod IPs", suspendedSandbox(ModeSuspended, metav1.ConditionTrue, ReasonSandboxSuspended, "10.0.0.5")},
		{"Suspended=True, Ready reason not SandboxSuspended", suspendedSandbox(ModeSuspended, metav1.ConditionTrue, "DependenciesNotReady")},
		{"Suspended=False", suspendedSandbox(ModeSuspended, metav1.ConditionFalse, ReasonSandboxSuspended)},
		{"no Suspended condition", suspendedSandbox(ModeSuspended, "", ReasonSandboxSuspended)},
		{"asked to run again", suspendedSandbox(ModeRunning, metav1.ConditionTrue, ReasonSandboxSuspended)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := sandboxClients(t, tt.s)
			err := WaitSuspended(context.Background(), c.Agents, "default", "python-abcde", "c1", pastSync)
			var te *TimeoutError
			if !errors.As(err, &te) || te.Last == nil || te.After != pastSync {
				t.Fatalf("got %v, want a *TimeoutError that saw the state", err)
			}
			reason := tt.s.Status.Conditions[len(tt.s.Status.Conditions)-1].Reason
			if want := `timed out after 1s waiting for sandboxclaim "c1" to be suspended (last Ready=False, reason ` + reason + `: m)`; err.Error() != want {
				t.Errorf("error %q\nwant  %q", err, want)
			}
		})
	}
}

func TestWaitSuspendedTimeout(t *testing.T) {
	c, _ := sandboxClients(t, sandbox("python-abcde", ""))
	err := WaitSuspended(context.Background(), c.Agents, "default", "python-abcde", "c1", tight)
	var te *TimeoutError
	if !errors.As(err, &te) || err.Error() != `timed out after 50ms waiting for sandboxclaim "c1" to be suspended` {
		t.Fatalf("got %v, want a *TimeoutError", err)
	}
}

func TestWaitSuspendedDeleted(t *testing.T) {
	s := sandbox("python-abcde", "")
	c, watchers := sandboxClients(t, s)
	done := waitSuspendedAsync(context.Background(), c, time.Minute)
	(<-watchers).Delete(s)
	err := <-done
	var de *DeletedError
	if !errors.As(err, &de) || err.Error() != `sandboxclaim "c1" was deleted while waiting for it to be suspended` {
		t.Fatalf("got %v, want a *DeletedError", err)
	}
}

func TestWaitSuspendedInterrupted(t *testing.T) {
	const want = `interrupted while waiting for sandboxclaim "c1" to be suspended`
	t.Run("before it began", func(t *testing.T) {
		c, _ := sandboxClients(t, sandbox("python-abcde", ""))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := WaitSuspended(ctx, c.Agents, "default", "python-abcde", "c1", time.Minute)
		var ie *InterruptedError
		if !errors.As(err, &ie) || err.Error() != want {
			t.Fatalf("got %v, want an *InterruptedError", err)
		}
	})
	t.Run("while watching", func(t *testing.T) {
		c, watchers := sandboxClients(t, sandbox("python-abcde", ""))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := waitSuspendedAsync(ctx, c, time.Minute)
		<-watchers
		cancel()
		err := <-done
		var ie *InterruptedError
		if !errors.As(err, &ie) || err.Error() != want {
			t.Fatalf("got %v, want an *InterruptedError", err)
		}
	})
}

func TestExtend(t *testing.T) {
	t.Run("patches shutdownTime in RFC3339 UTC", func(t *testing.T) {
		client, _ := fakeWithWatch(claim("c1"))
		// A zone other than UTC and a fraction of a second: the patch has
		// neither.
		until := time.Date(2026, 11, 25, 15, 30, 0, 999, time.FixedZone("CET", 3600))
		if err := Extend(context.Background(), client, "default", "c1", until, now); err != nil {
			t.Fatal(err)
		}
		ps := patches(&client.Fake)
		if len(ps) != 1 {
			t.Fatalf("patches %v, want one", ps)
		}
		want := `{"spec":{"lifecycle":{"shutdownTime":"2026-11-25T14:30:00Z"}}}`
		if p := ps[0]; string(p.GetPatch()) != want || p.GetPatchType() != types.MergePatchType || p.GetName() != "c1" || p.GetResource().Resource != "sandboxclaims" {
			t.Errorf("patch %s %s of %s, want the merge patch %s of c1", p.GetPatchType(), p.GetPatch(), p.GetName(), want)
		}
		got, err := client.ExtensionsV1beta1().SandboxClaims("default").Get(context.Background(), "c1", metav1.GetOptions{})
		if err != nil || got.Spec.Lifecycle == nil || !got.Spec.Lifecycle.ShutdownTime.Time.Equal(time.Date(2026, 11, 25, 14, 30, 0, 0, time.UTC)) {
			t.Errorf("claim after the patch: %+v, %v", got, err)
		}
	})
	t.Run("a time not after now is refused before any API call", func(t *testing.T) {
		for _, until := range []time.Time{now, now.Add(-time.Hour)} {
			client, _ := fakeWithWatch(claim("c1"))
			err := Extend(context.Background(), client, "default", "c1", until, now)
			want := `refusing to set the expiry of sandboxclaim "c1" to ` + until.UTC().Format(time.RFC3339) + `, which is not in the future`
			if errorString(err) != want {
				t.Errorf("error %v, want %s", err, want)
			}
			if len(client.Actions()) != 0 {
				t.Errorf("actions %v, want none", client.Actions())
			}
		}
	})
	t.Run("a missing claim", func(t *testing.T) {
		client, _ := fakeWithWatch()
		err := Extend(context.Background(), client, "default", "c1", now.Add(time.Hour), now)
		var nf *NotFoundError
		if !errors.As(err, &nf) || err.Error() != `sandboxclaim "c1" not found in namespace "default"` {
			t.Fatalf("got %v, want a *NotFoundError", err)
		}
	})
	t.Run("other API errors pass through", func(t *testing.T) {
		client, _ := fakeWithWatch(claim("c1"))
		failWith(client, "patch", "sandboxclaims", forbiddenErr("sandboxclaims", "c1"))
		err := Extend(context.Background(), client, "default", "c1", now.Add(time.Hour), now)
		if !apierrors.IsForbidden(err) {
			t.Fatalf("got %v, want the 403", err)
		}
	})
}

// TestWaitResumedWaitsForTheNewPod: right after a suspension the Sandbox
// may still say Ready for an older generation and its claim Ready with the
// old pod's IPs; the wait ends only when the Sandbox is Ready for the
// resumed generation with its new pod's IPs, and the claim names them.
func TestWaitResumedWaitsForTheNewPod(t *testing.T) {
	resumed := sandbox("python-abcde", "")
	resumed.Generation = 3
	at := func(gen int64, status metav1.ConditionStatus, ips ...string) *sandboxv1beta1.Sandbox {
		s := resumed.DeepCopy()
		s.Status.Conditions = []metav1.Condition{{Type: ConditionReady, Status: status, Reason: "DependenciesReady", ObservedGeneration: gen}}
		s.Status.PodIPs = ips
		return s
	}
	claimWith := func(ips ...string) *extv1beta1.SandboxClaim {
		c := readyClaim("c1", "python-abcde")
		c.Status.SandboxStatus.PodIPs = ips
		return c
	}
	c, f := describeClients(t, []runtime.Object{claimWith("10.0.0.5"), at(2, metav1.ConditionTrue, "10.0.0.5")}, nil)
	sbReactor, sbWatchers := kubetest.DrivenWatches()
	f.agents.PrependWatchReactor("sandboxes", sbReactor)
	claimReactor, claimWatchers := kubetest.DrivenWatches()
	f.ext.PrependWatchReactor("sandboxclaims", claimReactor)
	done := make(chan error, 1)
	var seen []string
	go func() {
		done <- WaitResumed(context.Background(), c, "default", resumed, "c1", time.Minute, func(cl *extv1beta1.SandboxClaim) {
			seen = append(seen, strings.Join(cl.Status.SandboxStatus.PodIPs, ","))
		})
	}()
	next := func(watchers <-chan *watch.FakeWatcher) *watch.FakeWatcher {
		select {
		case w := <-watchers:
			return w
		case err := <-done:
			t.Fatalf("the wait ended early (%v); claims seen: %q", err, seen)
		}
		return nil
	}
	sw := next(sbWatchers)
	sw.Modify(at(3, metav1.ConditionFalse))            // the new pod starts
	sw.Modify(at(3, metav1.ConditionTrue, "10.0.0.9")) // Ready for generation 3
	cw := next(claimWatchers)
	cw.Modify(claimWith("10.0.0.9"))
	if err := <-done; err != nil {
		t.Fatalf("WaitResumed: %v", err)
	}
	// The stale claim (listed first) did not end the wait: it ended on the
	// claim that names the new pod.
	if strings.Join(seen, " ") != "10.0.0.5 10.0.0.9" {
		t.Errorf("claims seen: %q", seen)
	}
}
