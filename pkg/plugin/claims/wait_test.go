package claims

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// tight is the timeout of waits that are meant to time out.
const tight = 50 * time.Millisecond

// pastSync is a timeout long enough for the wait to list and deliver the
// claim's first state on a loaded machine, so that a timeout error can
// report that state.
const pastSync = time.Second

type waitResult struct {
	claim *extv1beta1.SandboxClaim
	err   error
}

// waitAsync runs WaitFor in a goroutine; the test reads the result once.
func waitAsync(ctx context.Context, client extclient.Interface, name string, cond Condition, observe Observer) <-chan waitResult {
	done := make(chan waitResult, 1)
	go func() {
		c, err := WaitFor(ctx, client, "default", name, cond, time.Minute, observe)
		done <- waitResult{c, err}
	}()
	return done
}

// TestWaitForReadyWatchesUntilReady: the claim turns Ready after the wait has
// started; the watch delivers it, and the observer sees every state.
func TestWaitForReadyWatchesUntilReady(t *testing.T) {
	c := claim("c1", ready(metav1.ConditionFalse, "SandboxNotReady", "not yet"))
	client, watchers := fakeWithWatch(c)
	var observed []string
	done := waitAsync(context.Background(), client, "c1", Ready, func(c *extv1beta1.SandboxClaim) {
		observed = append(observed, ReadyCondition(c).Reason)
	})
	w := <-watchers
	upd := c.DeepCopy()
	upd.Status.Conditions = []metav1.Condition{ready(metav1.ConditionTrue, "DependenciesReady", "Pod is Ready")}
	w.Modify(upd) // Ready, but no sandbox bound yet: keep waiting
	upd = upd.DeepCopy()
	upd.Status.SandboxStatus.Name = "python-abcde"
	w.Modify(upd)
	res := <-done
	if res.err != nil {
		t.Fatalf("WaitFor: %v", res.err)
	}
	if got := SandboxName(res.claim); got != "python-abcde" {
		t.Errorf("sandbox %q, want python-abcde", got)
	}
	if want := []string{"SandboxNotReady", "DependenciesReady", "DependenciesReady"}; !reflect.DeepEqual(observed, want) {
		t.Errorf("observed %v, want %v", observed, want)
	}
}

// TestWaitForReadySurvivesADroppedWatch: when the server closes the watch,
// the wait re-establishes it and still sees the claim become Ready.
func TestWaitForReadySurvivesADroppedWatch(t *testing.T) {
	c := claim("c1", ready(metav1.ConditionFalse, "SandboxNotReady", ""))
	client, watchers := fakeWithWatch(c)
	done := waitAsync(context.Background(), client, "c1", Ready, nil)
	(<-watchers).Stop()                               // the connection drops
	(<-watchers).Modify(readyClaim("c1", "python-x")) // delivered on the re-established watch
	if res := <-done; res.err != nil || SandboxName(res.claim) != "python-x" {
		t.Fatalf("got %+v", res)
	}
}

func TestWaitForReadyFailsFastOnTerminalReasons(t *testing.T) {
	for _, reason := range []string{"TemplateNotFound", "WarmPoolNotFound", "InvalidMetadata", "EnvVarsInjectionRejected", "VolumeClaimTemplatesError", "ClaimExpired", "SandboxExpired"} {
		t.Run(reason, func(t *testing.T) {
			client, _ := fakeWithWatch(claim("c1", ready(metav1.ConditionFalse, reason, "the message")))
			_, err := WaitFor(context.Background(), client, "default", "c1", Ready, time.Minute, nil)
			var failed *FailedError
			if !errors.As(err, &failed) || failed.Reason != reason || failed.Message != "the message" {
				t.Fatalf("got %v, want a *FailedError", err)
			}
			if want := `sandboxclaim "c1" failed: ` + reason + ": the message"; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
		})
	}
	t.Run("reached while watching", func(t *testing.T) {
		c := claim("c1", ready(metav1.ConditionFalse, "SandboxNotReady", ""))
		client, watchers := fakeWithWatch(c)
		done := waitAsync(context.Background(), client, "c1", Ready, nil)
		(<-watchers).Modify(claim("c1", ready(metav1.ConditionFalse, "SandboxExpired", "expired at 12:00")))
		var failed *FailedError
		if res := <-done; !errors.As(res.err, &failed) || failed.Reason != "SandboxExpired" {
			t.Fatalf("got %v, want a *FailedError", res.err)
		}
	})
}

// TestWaitForFailsWhenTheClaimIsDeleted: a claim deleted while something
// waits for one of its conditions ends the wait.
func TestWaitForFailsWhenTheClaimIsDeleted(t *testing.T) {
	tests := []struct {
		cond Condition
		want string
	}{
		{Ready, `sandboxclaim "c1" was deleted while waiting for it to become Ready`},
		{Condition{Type: "Paused", Status: metav1.ConditionTrue}, `sandboxclaim "c1" was deleted while waiting for it to have condition Paused=True`},
	}
	for _, tt := range tests {
		t.Run(tt.cond.String(), func(t *testing.T) {
			c := claim("c1")
			client, watchers := fakeWithWatch(c)
			seen := make(chan struct{}, 1)
			done := waitAsync(context.Background(), client, "c1", tt.cond, func(*extv1beta1.SandboxClaim) { seen <- struct{}{} })
			w := <-watchers
			<-seen // the claim was there when the wait began
			w.Delete(c)
			res := <-done
			var deleted *DeletedError
			if !errors.As(res.err, &deleted) || res.err.Error() != tt.want {
				t.Fatalf("got %v, want a *DeletedError %q", res.err, tt.want)
			}
		})
	}
}

func TestWaitForNotFound(t *testing.T) {
	for _, cond := range []Condition{Ready, {Type: "Paused", Status: metav1.ConditionTrue}} {
		t.Run(cond.String(), func(t *testing.T) {
			client, _ := fakeWithWatch(claim("other"))
			_, err := WaitFor(context.Background(), client, "default", "nope", cond, time.Minute, nil)
			var nf *NotFoundError
			if !errors.As(err, &nf) || err.Error() != `sandboxclaim "nope" not found in namespace "default"` {
				t.Fatalf("got %v, want a *NotFoundError", err)
			}
		})
	}
}

func TestWaitForTimeout(t *testing.T) {
	tests := []struct {
		name    string
		claim   *extv1beta1.SandboxClaim
		cond    Condition
		timeout time.Duration
		want    string
	}{
		{"Ready, reporting the last Ready condition",
			claim("c1", ready(metav1.ConditionFalse, "DependenciesNotReady", "Pod exists with phase: Pending")), Ready, pastSync,
			`timed out after 1s waiting for sandboxclaim "c1" to become Ready (last Ready=False, reason DependenciesNotReady: Pod exists with phase: Pending)`},
		{"Ready, nothing reported yet", claim("c1"), Ready, tight,
			`timed out after 50ms waiting for sandboxclaim "c1" to become Ready`},
		{"a condition", claim("c1"), Condition{Type: "Paused", Status: metav1.ConditionTrue}, tight,
			`timed out after 50ms waiting for sandboxclaim "c1" to have condition Paused=True`},
		{"deletion, never reporting a condition",
			claim("c1", ready(metav1.ConditionTrue, "DependenciesReady", "")), Deleted, pastSync,
			`timed out after 1s waiting for sandboxclaim "c1" to be deleted`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, _ := fakeWithWatch(tt.claim)
			_, err := WaitFor(context.Background(), client, "default", "c1", tt.cond, tt.timeout, nil)
			var te *TimeoutError
			if !errors.As(err, &te) || err.Error() != tt.want {
				t.Fatalf("error %v\nwant a *TimeoutError %q", err, tt.want)
			}
		})
	}
}

// TestWaitForInterrupted: the caller's context ends the wait, which is not a
// timeout.
func TestWaitForInterrupted(t *testing.T) {
	t.Run("while watching", func(t *testing.T) {
		client, _ := fakeWithWatch(claim("c1"))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := WaitFor(ctx, client, "default", "c1", Ready, time.Minute, func(*extv1beta1.SandboxClaim) { cancel() })
		var ie *InterruptedError
		if !errors.As(err, &ie) || err.Error() != `interrupted while waiting for sandboxclaim "c1" to become Ready` {
			t.Fatalf("got %v, want an *InterruptedError", err)
		}
	})
	t.Run("before it began", func(t *testing.T) {
		client, _ := fakeWithWatch(claim("c1"))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := WaitFor(ctx, client, "default", "c1", Deleted, time.Minute, nil)
		var ie *InterruptedError
		if !errors.As(err, &ie) || err.Error() != `interrupted while waiting for sandboxclaim "c1" to be deleted` {
			t.Fatalf("got %v, want an *InterruptedError", err)
		}
	})
}

func TestWaitForDeleted(t *testing.T) {
	t.Run("goes while watching", func(t *testing.T) {
		c := claim("c1")
		client, watchers := fakeWithWatch(c)
		done := waitAsync(context.Background(), client, "c1", Deleted, nil)
		(<-watchers).Delete(c) // before or after the initial sync: either way it is gone
		if res := <-done; res.err != nil || res.claim != nil {
			t.Fatalf("got %+v, want no claim and no error", res)
		}
	})
	t.Run("changes are not deletion", func(t *testing.T) {
		c := claim("c1")
		client, watchers := fakeWithWatch(c)
		observed := make(chan string, 2)
		done := waitAsync(context.Background(), client, "c1", Deleted, func(c *extv1beta1.SandboxClaim) {
			reason := ""
			if cond := ReadyCondition(c); cond != nil {
				reason = cond.Reason
			}
			observed <- reason
		})
		w := <-watchers
		w.Modify(claim("c1", ready(metav1.ConditionFalse, "ClaimExpired", ""))) // terminal, but not gone
		if got := []string{<-observed, <-observed}; !reflect.DeepEqual(got, []string{"", "ClaimExpired"}) {
			t.Errorf("observed %v, want the first state and the change", got)
		}
		w.Delete(c)
		if res := <-done; res.err != nil || res.claim != nil {
			t.Fatalf("got %+v, want no claim and no error", res)
		}
	})
	t.Run("already gone", func(t *testing.T) {
		client, _ := fakeWithWatch()
		c, err := WaitFor(context.Background(), client, "default", "c1", Deleted, time.Minute, nil)
		if err != nil || c != nil {
			t.Fatalf("an absent claim counts as deleted: got %v, %v", c, err)
		}
	})
}

func TestWaitForCondition(t *testing.T) {
	paused := Condition{Type: "Paused", Status: metav1.ConditionTrue}
	t.Run("arrives while watching", func(t *testing.T) {
		c := claim("c1", ready(metav1.ConditionTrue, "DependenciesReady", ""))
		client, watchers := fakeWithWatch(c)
		done := waitAsync(context.Background(), client, "c1", paused, nil)
		w := <-watchers
		upd := c.DeepCopy()
		upd.Status.Conditions = append(upd.Status.Conditions, metav1.Condition{Type: "Paused", Status: metav1.ConditionFalse})
		w.Modify(upd) // the type, not the status
		upd = upd.DeepCopy()
		upd.Status.Conditions[1].Status = metav1.ConditionTrue
		upd.Status.Conditions[1].Reason = "UserPaused"
		w.Modify(upd)
		res := <-done
		if res.err != nil {
			t.Fatal(res.err)
		}
		if got := res.claim.Status.Conditions[1]; got.Reason != "UserPaused" {
			t.Errorf("returned claim has %+v, want the state that met the condition", got)
		}
	})
	t.Run("Ready=False does not fail fast on terminal reasons", func(t *testing.T) {
		client, _ := fakeWithWatch(claim("c1", ready(metav1.ConditionFalse, "TemplateNotFound", "gone")))
		c, err := WaitFor(context.Background(), client, "default", "c1", Condition{Type: "Ready", Status: metav1.ConditionFalse}, time.Minute, nil)
		if err != nil || ReadyCondition(c).Reason != "TemplateNotFound" {
			t.Fatalf("got %v, %v", c, err)
		}
	})
}

func TestWaitForAll(t *testing.T) {
	t.Run("each in turn", func(t *testing.T) {
		client, _ := fakeWithWatch(readyClaim("a", "sa"), readyClaim("b", "sb"))
		var done []string
		err := WaitForAll(context.Background(), client, "default", []string{"b", "a"}, Ready, time.Minute, func(name string) { done = append(done, name) })
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"b", "a"}; !reflect.DeepEqual(done, want) {
			t.Errorf("done %v, want %v", done, want)
		}
	})
	t.Run("one overall timeout", func(t *testing.T) {
		// a is gone at once; b never goes and gets what is left of the
		// second, yet the error names the whole second.
		client, _ := fakeWithWatch(claim("b"))
		var done []string
		err := WaitForAll(context.Background(), client, "default", []string{"a", "b"}, Deleted, pastSync, func(name string) { done = append(done, name) })
		var te *TimeoutError
		if !errors.As(err, &te) || te.After != pastSync || err.Error() != `timed out after 1s waiting for sandboxclaim "b" to be deleted` {
			t.Fatalf("got %v, want a *TimeoutError after 1s", err)
		}
		if want := []string{"a"}; !reflect.DeepEqual(done, want) {
			t.Errorf("done %v, want %v", done, want)
		}
	})
	t.Run("other errors stop it", func(t *testing.T) {
		client, _ := fakeWithWatch(readyClaim("b", "sb"))
		var done []string
		err := WaitForAll(context.Background(), client, "default", []string{"a", "b"}, Ready, time.Minute, func(name string) { done = append(done, name) })
		var nf *NotFoundError
		if !errors.As(err, &nf) || nf.Name != "a" {
			t.Fatalf("got %v, want a *NotFoundError for a", err)
		}
		if len(done) != 0 {
			t.Errorf("done %v, want none", done)
		}
	})
}
