package claims

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// NotFoundError reports a claim that does not exist.
type NotFoundError struct{ Namespace, Name string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("sandboxclaim %q not found in namespace %q", e.Name, e.Namespace)
}

// TimeoutError reports a wait that ran out of time, with the last state seen.
type TimeoutError struct {
	Name, For string
	After     time.Duration
	Last      *metav1.Condition
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("timed out after %s waiting for sandboxclaim %q to %s", e.After, e.Name, e.For)
	if e.Last != nil {
		msg += fmt.Sprintf(" (last Ready=%s, reason %s: %s)", e.Last.Status, e.Last.Reason, e.Last.Message)
	}
	return msg
}

// Observer sees every state of the claim while waiting (to show progress).
type Observer func(*extv1beta1.SandboxClaim)

// WaitReady waits, with a watch that survives dropped connections and
// apiserver restarts, until the claim is Ready=True with a bound sandbox. It
// fails fast on terminal reasons and when the claim is deleted. timeout is
// only used to word the timeout error; ctx carries the deadline.
func WaitReady(ctx context.Context, client extclient.Interface, ns, name string, timeout time.Duration, observe Observer) (*extv1beta1.SandboxClaim, error) {
	var last *extv1beta1.SandboxClaim
	ev, err := until(ctx, client, ns, name, mustExist(ns, name), func(ev watch.Event) (bool, error) {
		c, ok := ev.Object.(*extv1beta1.SandboxClaim)
		if !ok || c.Name != name {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			return false, fmt.Errorf("sandboxclaim %q was deleted while waiting for it to become Ready", name)
		}
		last = c
		if observe != nil {
			observe(c)
		}
		if IsReady(c) {
			return true, nil
		}
		return false, Failure(c)
	})
	if err != nil {
		if isTimeout(ctx, err) {
			te := &TimeoutError{Name: name, For: "become Ready", After: timeout}
			if last != nil {
				te.Last = ReadyCondition(last)
			}
			return nil, te
		}
		return nil, err
	}
	return ev.Object.(*extv1beta1.SandboxClaim), nil
}

// WaitDeleted waits until the claim is gone. A claim that is already gone
// counts as deleted.
func WaitDeleted(ctx context.Context, client extclient.Interface, ns, name string, timeout time.Duration) error {
	gone := func(store cache.Store) (bool, error) {
		_, exists, err := store.Get(&metav1.ObjectMeta{Namespace: ns, Name: name})
		return !exists, err
	}
	_, err := until(ctx, client, ns, name, gone, func(ev watch.Event) (bool, error) {
		return ev.Type == watch.Deleted, nil
	})
	if err != nil && isTimeout(ctx, err) {
		return &TimeoutError{Name: name, For: "be deleted", After: timeout}
	}
	return err
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

func isTimeout(ctx context.Context, err error) bool {
	return errors.Is(ctx.Err(), context.DeadlineExceeded) || (wait.Interrupted(err) && ctx.Err() == nil)
}

// WaitCondition waits until the claim's condition condType has status.
func WaitCondition(ctx context.Context, client extclient.Interface, ns, name, condType string, status metav1.ConditionStatus, timeout time.Duration) (*extv1beta1.SandboxClaim, error) {
	ev, err := until(ctx, client, ns, name, mustExist(ns, name), func(ev watch.Event) (bool, error) {
		c, ok := ev.Object.(*extv1beta1.SandboxClaim)
		if !ok || c.Name != name {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			return false, fmt.Errorf("sandboxclaim %q was deleted while waiting for condition %s", name, condType)
		}
		for _, cond := range c.Status.Conditions {
			if cond.Type == condType && cond.Status == status {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		if isTimeout(ctx, err) {
			return nil, &TimeoutError{Name: name, For: fmt.Sprintf("have condition %s=%s", condType, status), After: timeout}
		}
		return nil, err
	}
	return ev.Object.(*extv1beta1.SandboxClaim), nil
}
