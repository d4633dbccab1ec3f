package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

// SuspendOptions suspends or resumes the sandboxes of claims.
type SuspendOptions struct {
	Wait    bool
	Timeout time.Duration

	resume    bool
	names     []string
	namespace string

	Clients Factory
	genericiooptions.IOStreams
}

// NewCmdSuspend returns `kubectl sandbox suspend`.
func NewCmdSuspend(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newSuspendCommand(f, streams, false)
}

// NewCmdResume returns `kubectl sandbox resume`.
func NewCmdResume(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newSuspendCommand(f, streams, true)
}

func newSuspendCommand(f Factory, streams genericiooptions.IOStreams, resume bool) *cobra.Command {
	o := &SuspendOptions{Clients: f, IOStreams: streams, Wait: true, resume: resume}
	cmd := &cobra.Command{
		Use:   "suspend CLAIM...",
		Short: "Suspend sandboxes: their pods go, the claims, Sandboxes and volumes stay",
		Long: `Suspend the sandboxes of claims (the Sandbox's spec.operatingMode: Suspended):
the controller deletes their pods and keeps the claims, Sandboxes, volumes
and Services. By default it waits until each Sandbox reports Suspended=True.
Resume them with 'kubectl sandbox resume'.`,
		Example: `  # Suspend a sandbox, and later resume it
  kubectl sandbox suspend my-sandbox
  kubectl sandbox resume my-sandbox`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeNames(f, listClaimNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	if resume {
		cmd.Use = "resume CLAIM..."
		cmd.Short = "Resume suspended sandboxes"
		cmd.Long = `Resume the sandboxes of claims (spec.operatingMode: Running): the controller
starts their pods again. By default it waits until each claim is Ready.`
		cmd.Example = `  # Resume a sandbox without waiting for it
  kubectl sandbox resume my-sandbox --wait=false`
	}
	cmd.Flags().BoolVar(&o.Wait, "wait", o.Wait, "Wait until each sandbox is suspended (resumed: Ready)")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 2*time.Minute, "How long to wait in all")
	return cmd
}

// Complete takes the names and the namespace.
func (o *SuspendOptions) Complete(args []string) error {
	o.names = args
	var err error
	o.namespace, err = o.Clients.Namespace()
	return err
}

// Validate checks the names and flags; it makes no API calls.
func (o *SuspendOptions) Validate() error {
	if err := validateNames("claim", o.names); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	return nil
}

// Run patches each Sandbox, then waits for each in turn (a spinner on
// stderr when it is a terminal).
func (o *SuspendOptions) Run(ctx context.Context) error {
	clients, err := o.Clients.Clients()
	if err != nil {
		return err
	}
	mode, did := claims.ModeSuspended, "suspended"
	if o.resume {
		mode, did = claims.ModeRunning, "resumed"
	}
	sandboxes := make([]*sandboxv1beta1.Sandbox, len(o.names))
	for i, name := range o.names {
		if sandboxes[i], err = claims.SetOperatingMode(ctx, clients, o.namespace, name, mode); err != nil {
			return err
		}
		if !o.Wait {
			fmt.Fprintf(o.Out, "%s/%s %s\n", claimResource, name, did)
		}
	}
	if !o.Wait {
		return nil
	}
	start := time.Now()
	for i, name := range o.names {
		left := max(o.Timeout-time.Since(start), time.Nanosecond)
		if err := o.wait(ctx, clients, name, sandboxes[i], left); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "%s/%s %s\n", claimResource, name, did)
	}
	return nil
}

// wait waits for one claim, within left, with a spinner on a terminal (as
// create's) that shows the Ready condition's latest reason while resuming.
func (o *SuspendOptions) wait(ctx context.Context, clients *kube.Clients, name string, sandbox *sandboxv1beta1.Sandbox, left time.Duration) error {
	status := fmt.Sprintf("waiting for sandboxclaim/%s to be suspended", name)
	if o.resume {
		status = fmt.Sprintf("waiting for sandboxclaim/%s to become Ready", name)
	}
	p := &claimProgress{errOut: o.ErrOut}
	p.start(status)
	defer p.stop()
	var err error
	if o.resume {
		err = claims.WaitResumed(ctx, clients, o.namespace, sandbox, name, left, p.observe)
	} else {
		err = claims.WaitSuspended(ctx, clients.Agents, o.namespace, sandbox.Name, name, left)
	}
	var te *claims.TimeoutError
	if errors.As(err, &te) {
		te.After = o.Timeout
	}
	return err
}
