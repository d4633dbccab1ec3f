package cmd

import (
	"context"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/describe"
)

// DescribeOptions shows one claim with its Sandbox, Pod and events.
type DescribeOptions struct {
	name, namespace string

	Clients Factory
	Now     func() time.Time
	genericiooptions.IOStreams
}

// NewCmdDescribe returns `kubectl sandbox describe`.
func NewCmdDescribe(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DescribeOptions{Clients: f, Now: clock, IOStreams: streams}
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a claim, its sandbox, its pod, their conditions and recent events",
		Example: `  # Show why a claim is not ready
  kubectl sandbox describe my-sandbox`,
		Args:              cobra.ExactArgs(1),
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
}

// Complete takes the name and the namespace.
func (o *DescribeOptions) Complete(args []string) error {
	o.name = args[0]
	var err error
	o.namespace, err = o.Clients.Namespace()
	return err
}

// Validate checks the name.
func (o *DescribeOptions) Validate() error { return validateName("claim", o.name) }

// Run gathers the claim's details and prints them.
func (o *DescribeOptions) Run(ctx context.Context) error {
	clients, err := o.Clients.Clients()
	if err != nil {
		return err
	}
	d, err := claims.Describe(ctx, clients, o.namespace, o.name)
	if err != nil {
		return err
	}
	return describe.Print(o.Out, d, o.Now())
}
