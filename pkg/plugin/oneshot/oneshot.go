// Package oneshot runs a command in a sandbox made for it: create a claim,
// wait until it is Ready, copy files in, run the command, copy files out,
// and delete the claim on every path. It takes its interrupts from the
// caller (a cancelled context, and a channel that skips the last wait) and
// never prints.
package oneshot

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// Copy is one local path and one runtime path.
type Copy struct{ Local, Remote string }

// Plan is one run.
type Plan struct {
	// Claim is the claim to create (its pool resolved).
	Claim *extv1beta1.SandboxClaim
	// ReadyTimeout bounds the wait for the sandbox.
	ReadyTimeout time.Duration
	CopyIn       []Copy
	Command      sandbox.Command
	// IO is how the command runs: its input, output budget and timeout
	// (sandbox.Run); its writers stay unset, the Outcome carries the output.
	IO      sandbox.IO
	CopyOut []Copy
	// Before, if set, runs after the copies in and before the command;
	// After, if set, after the command and before the copies out. An error
	// of theirs ends the run.
	Before, After func(ctx context.Context, rt sandbox.Runtime) error
	// Keep keeps the sandbox once it was Ready, whatever happens after.
	Keep bool
}

// Hooks let the caller follow a run and stop its last wait.
type Hooks struct {
	claims.WaitHooks
	// Ready is called once the sandbox is Ready.
	Ready func(*extv1beta1.SandboxClaim)
	// Progress wraps each copied file's bytes.
	Progress sandbox.Progress
	// SkipDeleteWait, once closed, stops waiting for the claim to be gone
	// (the deletion itself is always sent first).
	SkipDeleteWait <-chan struct{}
}

// Outcome is what a run produced, as far as it got.
type Outcome struct {
	// Claim is the name of the claim created ("" if none was).
	Claim string
	// Result is the command's, once it ran.
	Result *sandbox.Result
	// Kept says the claim was left in place (Plan.Keep).
	Kept bool
}

// CopyError names the copy of a plan that failed.
type CopyError struct {
	In   bool
	Path string
	Err  error
}

func (e *CopyError) Error() string {
	if e.In {
		return fmt.Sprintf("copying %s into the sandbox: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("copying %s out of the sandbox: %v", e.Path, e.Err)
}

func (e *CopyError) Unwrap() error { return e.Err }

// Run carries out plan. The Outcome is returned even with an error, as far
// as the run got. A non-zero exit of the command is not an error: it is in
// Outcome.Result. Unless the plan keeps it, the claim is deleted on every
// path, on a fresh bounded context, and a failed deletion is a
// *claims.CleanupError joined to the run's error.
func Run(ctx context.Context, clients *kube.Clients, opts session.Options, plan Plan, hooks Hooks) (out *Outcome, err error) {
	out = &Outcome{}
	// The sandbox is used at once and deleted: its own Ready is enough, as
	// for the upstream SDKs (see claims.SandboxReady).
	wait := hooks.WaitHooks
	wait.Usable = claims.SandboxReady(clients.Agents)
	wait.Pods = clients.Core
	ready, err := claims.CreateAndWait(ctx, clients.Ext, plan.Claim, plan.ReadyTimeout, wait)
	if err != nil {
		return out, err // CreateAndWait deleted what it created
	}
	out.Claim = ready.Name
	if hooks.Ready != nil {
		hooks.Ready(ready)
	}
	if plan.Keep {
		out.Kept = true
	} else {
		defer func() {
			if cerr := cleanup(ctx, clients, ready, hooks.SkipDeleteWait); cerr != nil {
				err = errors.Join(err, cerr)
			}
		}()
	}
	s := session.New(clients, ready.Namespace, opts)
	defer s.Close()
	rt, err := s.Runtime(ctx, ready)
	if err != nil {
		return out, err
	}
	for _, c := range plan.CopyIn {
		if _, err := sandbox.UploadTree(ctx, rt, c.Local, c.Remote, hooks.Progress); err != nil {
			return out, &CopyError{In: true, Path: c.Local, Err: err}
		}
	}
	if plan.Before != nil {
		if err := plan.Before(ctx, rt); err != nil {
			return out, err
		}
	}
	if out.Result, err = sandbox.Run(ctx, rt, plan.Command, plan.IO); err != nil {
		return out, err
	}
	if plan.After != nil {
		if err := plan.After(ctx, rt); err != nil {
			return out, err
		}
	}
	for _, c := range plan.CopyOut {
		if _, err := sandbox.DownloadTree(ctx, rt, c.Remote, c.Local, c.Local, hooks.Progress); err != nil {
			return out, &CopyError{Path: c.Remote, Err: err}
		}
	}
	return out, nil
}

// cleanup deletes the claim on a fresh, bounded context, then waits until
// it is gone unless skip is closed first.
func cleanup(ctx context.Context, clients *kube.Clients, c *extv1beta1.SandboxClaim, skip <-chan struct{}) error {
	base := context.WithoutCancel(ctx)
	dctx, cancel := context.WithTimeout(base, claims.CleanupTimeout)
	defer cancel()
	gone, rv, err := claims.DeleteOne(dctx, clients.Ext, c.Namespace, c.Name, false)
	if err != nil && !apierrors.IsNotFound(err) {
		return &claims.CleanupError{Name: c.Name, Err: err}
	}
	if gone || err != nil {
		return nil // the DELETE's answer shows it gone
	}
	wctx, stopWait := context.WithCancel(base)
	defer stopWait()
	go func() {
		select {
		case <-skip:
			stopWait()
		case <-wctx.Done():
		}
	}()
	if err := claims.WaitGone(wctx, clients.Ext, c.Namespace, c.Name, rv, claims.CleanupTimeout); err != nil && wctx.Err() == nil {
		return &claims.CleanupError{Name: c.Name, Err: err}
	}
	return nil
}
