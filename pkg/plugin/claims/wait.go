package claims

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// Condition is what WaitFor waits for: a claim condition with a status, or
// the claim's deletion.
type Condition struct {
	// Deleted waits until the claim is gone (a claim already gone counts).
	Deleted bool
	Type    string
	Status  metav1.ConditionStatus
}

// Ready is the usable state: Ready=True with a bound sandbox. Waiting for
// it fails fast on the terminal reasons.
var Ready = Condition{Type: ConditionReady, Status: metav1.ConditionTrue}

// Deleted is the claim's deletion.
var Deleted = Condition{Deleted: true}

// String words the condition for messages ("become Ready", "be deleted").
func (c Condition) String() string {
	switch {
	case c.Deleted:
		return "be deleted"
	case c == Ready:
		return "become Ready"
	}
	return fmt.Sprintf("have condition %s=%s", c.Type, c.Status)
}

// Observer sees every state of the claim while waiting (to show progress).
type Observer func(*extv1beta1.SandboxClaim)

// WaitFor waits, with a watch that survives dropped connections and
// apiserver restarts, until the claim meets cond or timeout passes. It
// returns the claim as last seen (nil for Deleted). A claim deleted while
// waiting for a condition, and a terminal Ready reason while waiting for
// Ready, end the wait with an error. Errors are *TimeoutError,
// *InterruptedError (the caller's context ended), *NotFoundError,
// *DeletedError, *FailedError or API errors.
func WaitFor(ctx context.Context, client extclient.Interface, ns, name string, cond Condition, timeout time.Duration, observe Observer) (*extv1beta1.SandboxClaim, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last *extv1beta1.SandboxClaim
	pre := mustExist(ns, name)
	if cond.Deleted {
		pre = func(store cache.Store) (bool, error) {
			_, exists, err := store.Get(&metav1.ObjectMeta{Namespace: ns, Name: name})
			return !exists, err
		}
	}
	ev, err := until(wctx, client, ns, name, pre, func(ev watch.Event) (bool, error) {
		c, ok := ev.Object.(*extv1beta1.SandboxClaim)
		if !ok || c.Name != name {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			if cond.Deleted {
				return true, nil
			}
			return false, &DeletedError{Name: name, For: cond.String()}
		}
		last = c
		if observe != nil {
			observe(c)
		}
		return met(c, cond)
	})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, &InterruptedError{Name: name, For: cond.String()}
	case errors.Is(wctx.Err(), context.DeadlineExceeded) || wait.Interrupted(err):
		te := &TimeoutError{Name: name, For: cond.String(), After: timeout}
		if last != nil && !cond.Deleted {
			te.Last = ReadyCondition(last)
		}
		return nil, te
	default:
		return nil, err
	}
	if cond.Deleted || ev == nil {
		return nil, nil
	}
	c, _ := ev.Object.(*extv1beta1.SandboxClaim)
	return c, nil
}

// met says whether c meets cond, or fails for good.
func met(c *extv1beta1.SandboxClaim, cond Condition) (bool, error) {
	switch {
	case cond.Deleted:
		return false, nil
	case cond == Ready:
		if IsReady(c) {
			return true, nil
		}
		return false, Failure(c)
	}
	got := meta.FindStatusCondition(c.Status.Conditions, cond.Type)
	return got != nil && got.Status == cond.Status, nil
}

func mustExist(ns, name string) watchtools.PreconditionFunc {
	return func(store cache.Store) (bool, error) {
		_, exists, err := store.Get(&metav1.ObjectMeta{Namespace: ns, Name: name})
		if err == nil && !exists {
			return true, &NotFoundError{Namespace: ns, Name: name}
		}
		return false, err
	}
}

// until runs an informer-backed watch on one claim (list, then watch, with
// relists and retries handled by the reflector) until a condition holds.
func until(ctx context.Context, client extclient.Interface, ns, name string, pre watchtools.PreconditionFunc, cond watchtools.ConditionFunc) (*watch.Event, error) {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	claims := client.ExtensionsV1beta1().SandboxClaims(ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return claims.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return claims.Watch(ctx, o)
		},
	}
	return watchtools.UntilWithSync(ctx, lw, &extv1beta1.SandboxClaim{}, pre, cond)
}

// WaitForAll waits for each claim in turn to meet cond, within timeout in
// all; done, if set, is called as each one does.
func WaitForAll(ctx context.Context, client extclient.Interface, ns string, names []string, cond Condition, timeout time.Duration, done func(name string)) error {
	start := time.Now()
	for _, name := range names {
		left := max(timeout-time.Since(start), time.Nanosecond)
		if _, err := WaitFor(ctx, client, ns, name, cond, left, nil); err != nil {
			var te *TimeoutError
			if errors.As(err, &te) {
				te.After = timeout
			}
			return err
		}
		if done != nil {
			done(name)
		}
	}
	return nil
}
