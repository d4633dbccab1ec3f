package cmd

import (
	"context"
	"fmt"
	"io"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/progress"
)

// waitReady waits for a claim to be Ready within timeout, drawing progress
// on errOut when it is a terminal.
func waitReady(ctx context.Context, ext extclient.Interface, ns, name string, timeout time.Duration, errOut io.Writer) (*extv1beta1.SandboxClaim, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	spin := progress.Start(errOut, "waiting for sandboxclaim/"+name)
	defer spin.Stop()
	ready, err := claims.WaitReady(wctx, ext, ns, name, timeout, func(c *extv1beta1.SandboxClaim) {
		if cond := claims.ReadyCondition(c); cond != nil && cond.Reason != "" {
			spin.Set(fmt.Sprintf("waiting for sandboxclaim/%s: %s", name, cond.Reason))
		}
	})
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted while waiting for sandboxclaim %q to become Ready", name)
	}
	return ready, err
}

// waitReadyOrDelete is waitReady that deletes the claim when it does not
// become Ready (failure, timeout or interrupt), on a fresh bounded context.
func waitReadyOrDelete(ctx context.Context, ext extclient.Interface, ns, name string, timeout time.Duration, errOut io.Writer) (*extv1beta1.SandboxClaim, error) {
	ready, err := waitReady(ctx, ext, ns, name, timeout, errOut)
	if err == nil {
		return ready, nil
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if derr := claims.Delete(dctx, ext, ns, name, nil); derr != nil && !apierrors.IsNotFound(derr) {
		return nil, fmt.Errorf("%w; deleting sandboxclaim %q also failed: %w", err, name, derr)
	}
	return nil, fmt.Errorf("%w (sandboxclaim %q was deleted)", err, name)
}

// createClaim creates claim (a server-side dry run when dryRun is set).
func createClaim(ctx context.Context, ext extclient.Interface, claim *extv1beta1.SandboxClaim, dryRun []string) (*extv1beta1.SandboxClaim, error) {
	created, err := ext.ExtensionsV1beta1().SandboxClaims(claim.Namespace).Create(ctx, claim,
		metav1.CreateOptions{FieldManager: fieldManager, DryRun: dryRun})
	if err != nil {
		return nil, fmt.Errorf("creating sandboxclaim: %w", err)
	}
	created.SetGroupVersionKind(claims.ClaimGVK)
	return created, nil
}

// fieldManager names the plugin in managedFields.
const fieldManager = "kubectl-sandbox"

// warnEnv warns on stderr when --env rules out a warm sandbox.
func warnEnv(spec claims.Spec, errOut io.Writer) {
	if len(spec.Env) > 0 {
		fmt.Fprintln(errOut, "Warning: --env forces a cold start: the claim cannot adopt a warm sandbox")
	}
}

// resolvePool fills spec.Pool from --template when --pool was not given.
func resolvePool(ctx context.Context, ext extclient.Interface, spec *claims.Spec, template string) error {
	if spec.Pool != "" {
		return nil
	}
	pool, err := claims.PoolForTemplate(ctx, ext, spec.Namespace, template)
	spec.Pool = pool
	return err
}
