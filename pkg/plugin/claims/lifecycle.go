package claims

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// FieldManager names the plugin in managedFields.
const FieldManager = "kubectl-sandbox"

// CleanupTimeout bounds a deletion that runs after the caller's context
// ended (a failure, a timeout or an interrupt).
const CleanupTimeout = 30 * time.Second

// ResolvePool fills spec.Pool from spec.Template when no pool is set.
func ResolvePool(ctx context.Context, client extclient.Interface, spec *Spec) error {
	if spec.Pool != "" {
		return nil
	}
	pool, err := PoolForTemplate(ctx, client, spec.Namespace, spec.Template)
	spec.Pool = pool
	return err
}

// Create creates claim; with dryRun the server only validates it.
func Create(ctx context.Context, client extclient.Interface, claim *extv1beta1.SandboxClaim, dryRun bool) (*extv1beta1.SandboxClaim, error) {
	opts := metav1.CreateOptions{FieldManager: FieldManager}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	created, err := client.ExtensionsV1beta1().SandboxClaims(claim.Namespace).Create(ctx, claim, opts)
	if err != nil {
		return nil, fmt.Errorf("creating sandboxclaim: %w", err)
	}
	created.SetGroupVersionKind(ClaimGVK)
	return created, nil
}

// WaitHooks let a caller follow CreateAndWait.
type WaitHooks struct {
	// Created is called once the claim exists, before the wait.
	Created func(*extv1beta1.SandboxClaim)
	// Observe sees every state while waiting.
	Observe Observer
	// Usable, if set, may end the wait before the claim is Ready (see
	// SandboxReady).
	Usable Usable
	// Pods, if set, lets the wait watch the claim's pod once the claim
	// names its Sandbox (the pod bears the Sandbox's name): a pod that
	// cannot start ends the wait with a *PodCannotStartError.
	Pods corev1client.PodsGetter
}

// CreateAndWait creates claim and waits up to timeout for it to be Ready.
// It is atomic: when the wait fails, times out or is interrupted, the claim
// is deleted (on a fresh, bounded context) and the error says so; a failed
// deletion is a *CleanupError joined to the wait's error.
func CreateAndWait(ctx context.Context, client extclient.Interface, claim *extv1beta1.SandboxClaim, timeout time.Duration, hooks WaitHooks) (*extv1beta1.SandboxClaim, error) {
	created, err := Create(ctx, client, claim, false)
	if err != nil {
		return nil, err
	}
	if hooks.Created != nil {
		hooks.Created(created)
	}
	// The wait watches from the creation's answer: no list first.
	pw := newPodStartWatch(ctx, hooks)
	w := waiter{client: client, ns: created.Namespace, name: created.Name, cond: Ready, observe: pw.observe, from: created.ResourceVersion, at: created, usable: hooks.Usable}
	ready, err := w.wait(pw.ctx, timeout)
	if why := pw.stop(); why != nil && err != nil {
		err = why
	}
	if err == nil {
		ready.SetGroupVersionKind(ClaimGVK)
		return ready, nil
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	if derr := Delete(dctx, client, created.Namespace, created.Name, false); derr != nil && !apierrors.IsNotFound(derr) {
		return nil, errors.Join(err, &CleanupError{Name: created.Name, Err: derr})
	}
	return nil, &DeletedAfterError{Err: err, Name: created.Name}
}

// podStartWatch ends a claim's wait when the claim's pod cannot start
// (WaitHooks.Pods): its observe starts a watch of the pod once the claim
// names its Sandbox, and that watch cancels ctx with the reason.
type podStartWatch struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	hooks   WaitHooks
	started bool
	done    sync.WaitGroup
}

func newPodStartWatch(ctx context.Context, hooks WaitHooks) *podStartWatch {
	pw := &podStartWatch{hooks: hooks}
	pw.ctx, pw.cancel = context.WithCancelCause(ctx)
	return pw
}

func (pw *podStartWatch) observe(c *extv1beta1.SandboxClaim) {
	if name := SandboxName(c); pw.hooks.Pods != nil && !pw.started && name != "" {
		pw.started = true
		pw.done.Add(1)
		go func() {
			defer pw.done.Done()
			if why := WaitPodCannotStart(pw.ctx, pw.hooks.Pods, c.Namespace, name); why != nil {
				pw.cancel(why)
			}
		}()
	}
	if pw.hooks.Observe != nil {
		pw.hooks.Observe(c)
	}
}

// stop ends the pod's watch, waits for it, and says why the pod cannot
// start, if it cannot.
func (pw *podStartWatch) stop() *PodCannotStartError {
	pw.cancel(nil)
	pw.done.Wait()
	var why *PodCannotStartError
	if errors.As(context.Cause(pw.ctx), &why) {
		return why
	}
	return nil
}

// DeletedAfterError is an error after which the claim it concerns was
// deleted, so that nothing is left behind.
type DeletedAfterError struct {
	Err  error
	Name string
}

func (e *DeletedAfterError) Error() string {
	return fmt.Sprintf("%v (sandboxclaim %q was deleted)", e.Err, e.Name)
}

func (e *DeletedAfterError) Unwrap() error { return e.Err }

// Delete deletes a claim with background propagation: the garbage collector
// then removes its Sandbox, Pod and Service through owner references. With
// dryRun the server only validates the deletion.
func Delete(ctx context.Context, client extclient.Interface, ns, name string, dryRun bool) error {
	_, _, err := DeleteOne(ctx, client, ns, name, dryRun)
	return err
}

// DeleteOne deletes a claim as Delete does and says from the DELETE's
// answer whether it is already gone (no finalizers held it). If not, rv is
// the claim's resourceVersion in that answer: WaitGone watches from there.
// rv is "" when the answer could not be read (then WaitGone lists).
func DeleteOne(ctx context.Context, client extclient.Interface, ns, name string, dryRun bool) (gone bool, rv string, err error) {
	policy := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &policy}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	rc, ok := client.ExtensionsV1beta1().RESTClient().(*rest.RESTClient)
	if !ok || rc == nil {
		// A clientset without a REST client (a fake): no answer to read.
		return false, "", client.ExtensionsV1beta1().SandboxClaims(ns).Delete(ctx, name, opts)
	}
	obj, err := rc.Delete().Namespace(ns).Resource("sandboxclaims").Name(name).Body(&opts).Do(ctx).Get()
	if err != nil {
		return false, "", err
	}
	switch o := obj.(type) {
	case *metav1.Status:
		return true, "", nil
	case *extv1beta1.SandboxClaim:
		// Deleted at once unless a finalizer holds it.
		return len(o.Finalizers) == 0, o.ResourceVersion, nil
	}
	return false, "", nil
}

// WaitGone waits until a claim that DeleteOne deleted is gone: with rv, by
// a watch from rv (no list first); without, as WaitFor(Deleted).
func WaitGone(ctx context.Context, client extclient.Interface, ns, name, rv string, timeout time.Duration) error {
	_, err := waiter{client: client, ns: ns, name: name, cond: Deleted, from: rv}.wait(ctx, timeout)
	return err
}

// DeleteOptions tune DeleteAll.
type DeleteOptions struct {
	// DryRun asks the server to validate the deletions only.
	DryRun bool
	// Wait waits, within Timeout in all, until every deleted claim is gone.
	Wait    bool
	Timeout time.Duration
	// Deleted is called after each accepted deletion, before any wait.
	Deleted func(name string)
}

// DeleteAll deletes the named claims in order, then waits for them to be
// gone. Claims that do not exist are returned, not treated as errors; any
// other API error stops it.
func DeleteAll(ctx context.Context, client extclient.Interface, ns string, names []string, o DeleteOptions) (missing []string, err error) {
	var pending []string
	from := map[string]string{}
	for _, name := range names {
		gone, rv, err := DeleteOne(ctx, client, ns, name, o.DryRun)
		switch {
		case IsObjectNotFound(err):
			missing = append(missing, name)
			continue
		case err != nil:
			return missing, fmt.Errorf("deleting sandboxclaim %q: %w", name, err)
		}
		if o.Deleted != nil {
			o.Deleted(name)
		}
		if !gone {
			pending = append(pending, name)
			from[name] = rv
		}
	}
	if !o.Wait || o.DryRun {
		return missing, nil
	}
	// Only the claims that the DELETE's answer did not show gone.
	start := time.Now()
	for _, name := range pending {
		left := max(o.Timeout-time.Since(start), time.Nanosecond)
		if err := WaitGone(ctx, client, ns, name, from[name], left); err != nil {
			var te *TimeoutError
			if errors.As(err, &te) {
				te.After = o.Timeout
			}
			return missing, err
		}
	}
	return missing, nil
}
