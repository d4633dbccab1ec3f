package claims

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	watchtools "k8s.io/client-go/tools/watch"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
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
// apiserver restarts (see kube.Watch), until the claim meets cond or timeout passes. It
// returns the claim as last seen (nil for Deleted). A claim deleted while
// waiting for a condition, and a terminal Ready reason while waiting for
// Ready, end the wait with an error. Errors are *TimeoutError,
// *InterruptedError (the caller's context ended), *NotFoundError,
// *DeletedError, *FailedError or API errors.
func WaitFor(ctx context.Context, client extclient.Interface, ns, name string, cond Condition, timeout time.Duration, observe Observer) (*extv1beta1.SandboxClaim, error) {
	return waiter{client: client, ns: ns, name: name, cond: cond, observe: observe}.wait(ctx, timeout)
}

// Usable may end a wait for Ready early: it is asked about a claim that
// names its Sandbox but is not Ready yet, and returns the claim to use (it
// may fill in what the claim's status has not caught up with) and true when
// that Sandbox can be used now.
type Usable func(ctx context.Context, c *extv1beta1.SandboxClaim) (*extv1beta1.SandboxClaim, bool)

// waiter is one wait on one claim.
type waiter struct {
	client   extclient.Interface
	ns, name string
	cond     Condition
	observe  Observer
	// from, if set, is a resourceVersion of the claim that the caller just
	// read or wrote: the wait watches from there, without a list first. at,
	// if set, is the claim at that version, checked before the watch.
	from   string
	at     *extv1beta1.SandboxClaim
	usable Usable
	// lag is lagging's last answer, for the claim at a resourceVersion:
	// an unchanged claim is not looked into again.
	lag *lagAnswer
}

type lagAnswer struct {
	rv   string
	lags bool
}

func (w waiter) wait(ctx context.Context, timeout time.Duration) (*extv1beta1.SandboxClaim, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last, done *extv1beta1.SandboxClaim
	check := func(ev watch.Event) (bool, error) {
		c, ok := ev.Object.(*extv1beta1.SandboxClaim)
		if !ok || c.Name != w.name {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			if w.cond.Deleted {
				return true, nil
			}
			return false, &DeletedError{Name: w.name, For: w.cond.String()}
		}
		last = c
		if w.observe != nil {
			w.observe(c)
		}
		use, ok, err := w.met(wctx, c)
		if ok {
			done = use
		}
		return ok, err
	}
	ok, err := w.atFirst(check)
	if !ok && err == nil {
		claims := w.client.ExtensionsV1beta1().SandboxClaims(w.ns)
		err = kube.Watch{
			LW: kube.ByName(w.name, claims.List, claims.Watch), Name: w.name, What: "sandboxclaim " + w.name,
			From: w.from, Absent: w.absent, Retry: true,
		}.Until(wctx, check)
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, &InterruptedError{Name: w.name, For: w.cond.String()}
	case errors.Is(wctx.Err(), context.DeadlineExceeded) || wait.Interrupted(err):
		te := &TimeoutError{Name: w.name, For: w.cond.String(), After: timeout}
		if last != nil && !w.cond.Deleted {
			te.Last = ReadyCondition(last)
		}
		return nil, te
	default:
		return nil, err
	}
	return done, nil
}

// absent decides a claim that the first list does not find: deleted
// already, or not found.
func (w waiter) absent() (bool, error) {
	if w.cond.Deleted {
		return true, nil
	}
	return false, &NotFoundError{Namespace: w.ns, Name: w.name}
}

// atFirst checks the claim as the caller saw it at w.from, if given.
func (w waiter) atFirst(check watchtools.ConditionFunc) (bool, error) {
	if w.at == nil || w.from == "" || w.from == "0" {
		return false, nil
	}
	return check(watch.Event{Type: watch.Modified, Object: w.at})
}

// met says whether c meets the condition (and the claim to return then),
// or fails for good.
func (w *waiter) met(ctx context.Context, c *extv1beta1.SandboxClaim) (*extv1beta1.SandboxClaim, bool, error) {
	switch {
	case w.cond.Deleted:
		return nil, false, nil
	case w.cond == Ready:
		if IsReady(c) {
			return c, true, nil
		}
		err := Failure(c)
		switch {
		case err != nil && w.lagging(ctx, c):
			return nil, false, nil
		case err == nil && w.usable != nil && SandboxName(c) != "":
			use, ok := w.usable(ctx, c)
			return use, ok, nil
		}
		return nil, false, err
	}
	got := meta.FindStatusCondition(c.Status.Conditions, w.cond.Type)
	return c, got != nil && got.Status == w.cond.Status, nil
}

// lagging says whether c's controller reports its warm pool (or the pool's
// template) missing while the API server has it: the controller's cache has
// not caught up with a pool made just before the claim, and the controller
// looks again every minute (upstream spec §1.6), so the wait goes on. It
// asks once per resourceVersion; a pool it may not read counts as missing.
func (w *waiter) lagging(ctx context.Context, c *extv1beta1.SandboxClaim) bool {
	cond := ReadyCondition(c)
	if cond == nil || (cond.Reason != "WarmPoolNotFound" && cond.Reason != "TemplateNotFound") || c.Spec.WarmPoolRef.Name == "" {
		return false
	}
	if w.lag != nil && w.lag.rv == c.ResourceVersion {
		return w.lag.lags
	}
	ext := w.client.ExtensionsV1beta1()
	pool, err := ext.SandboxWarmPools(c.Namespace).Get(ctx, c.Spec.WarmPoolRef.Name, metav1.GetOptions{})
	if err == nil && cond.Reason == "TemplateNotFound" {
		_, err = ext.SandboxTemplates(c.Namespace).Get(ctx, pool.Spec.TemplateRef.Name, metav1.GetOptions{})
	}
	w.lag = &lagAnswer{rv: c.ResourceVersion, lags: err == nil}
	return w.lag.lags
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
