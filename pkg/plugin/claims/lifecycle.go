package claims

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// FieldManager names the plugin in managedFields.
const FieldManager = "kubectl-sandbox"

// CleanupTimeout bounds a deletion that runs after the caller's context
// ended (a failure, a timeout or an interrupt).
const CleanupTimeout = 30 * time.Second

// ResolvePool fills spec.Pool from template when no pool is set.
func ResolvePool(ctx context.Context, client extclient.Interface, spec *Spec, template string) error {
	if spec.Pool != "" {
		return nil
	}
	pool, err := PoolForTemplate(ctx, client, spec.Namespace, template)
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
	ready, err := WaitFor(ctx, client, created.Namespace, created.Name, Ready, timeout, hooks.Observe)
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
	policy := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &policy}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return client.ExtensionsV1beta1().SandboxClaims(ns).Delete(ctx, name, opts)
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
	var deleted []string
	for _, name := range names {
		err := Delete(ctx, client, ns, name, o.DryRun)
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
		deleted = append(deleted, name)
	}
	if !o.Wait || o.DryRun {
		return missing, nil
	}
	return missing, WaitForAll(ctx, client, ns, deleted, Deleted, o.Timeout, nil)
}
