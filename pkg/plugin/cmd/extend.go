package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
)

// ExtendOptions moves the expiry of claims.
type ExtendOptions struct {
	TTL   time.Duration
	Until string

	names      []string
	namespace  string
	until, now time.Time

	Clients Factory
	genericiooptions.IOStreams
}

// NewCmdExtend returns `kubectl sandbox extend`.
func NewCmdExtend(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ExtendOptions{Clients: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "extend CLAIM... (--ttl DURATION | --until TIME)",
		Short: "Move the expiry of sandbox claims",
		Long: `Set when claims expire (spec.lifecycle.shutdownTime): --ttl from now, or
--until an RFC3339 time. A time that is not in the future is refused.`,
		Example: `  # Two more hours from now
  kubectl sandbox extend my-sandbox --ttl 2h

  # Until a given time
  kubectl sandbox extend my-sandbox --until 2026-12-01T18:00:00Z`,
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
	cmd.Flags().DurationVar(&o.TTL, "ttl", 0, "Expire this long from now")
	cmd.Flags().StringVar(&o.Until, "until", "", "Expire at this RFC3339 time")
	return cmd
}

// Complete takes the names and the namespace, and works out the new expiry
// from --ttl or --until.
func (o *ExtendOptions) Complete(args []string) error {
	o.names = args
	var err error
	if o.namespace, err = o.Clients.Namespace(); err != nil {
		return err
	}
	o.now = clock()
	switch {
	case o.TTL != 0:
		o.until = o.now.Add(o.TTL)
	case o.Until != "":
		if o.until, err = time.Parse(time.RFC3339, o.Until); err != nil {
			return fmt.Errorf("invalid --until %q: use RFC3339, as in 2026-01-02T15:04:05Z", o.Until)
		}
	}
	return nil
}

// Validate checks the names and the new expiry; it makes no API calls.
func (o *ExtendOptions) Validate() error {
	if err := validateNames("claim", o.names); err != nil {
		return err
	}
	switch {
	case (o.TTL != 0) == (o.Until != ""):
		return errors.New("give exactly one of --ttl and --until")
	case o.TTL < 0:
		return fmt.Errorf("invalid --ttl %s: it must be positive (the expiry is now plus --ttl)", o.TTL)
	case !o.until.After(o.now):
		return fmt.Errorf("refusing to set the expiry to %s, which is not in the future", o.until.UTC().Format(time.RFC3339))
	}
	return nil
}

// Run patches each claim.
func (o *ExtendOptions) Run(ctx context.Context) error {
	clients, err := o.Clients.Clients()
	if err != nil {
		return err
	}
	now := clock()
	for _, name := range o.names {
		if err := claims.Extend(ctx, clients.Ext, o.namespace, name, o.until, now); err != nil {
			return err
		}
		in := o.TTL
		if in == 0 {
			in = o.until.Sub(now)
		}
		fmt.Fprintf(o.Out, "%s/%s expires at %s (in %s)\n", claimResource, name,
			o.until.UTC().Format(time.RFC3339), duration.HumanDuration(in))
	}
	return nil
}
