package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
)

// DeleteOptions deletes claims; owner references cascade to their Sandbox,
// Pod and Service.
type DeleteOptions struct {
	All            bool
	Selector       string
	Wait           bool
	Timeout        time.Duration
	IgnoreNotFound bool
	DryRun         string

	names     []string
	namespace string
	dryRun    dryRunMode

	Clients Factory
	genericiooptions.IOStreams
}

// NewCmdDelete returns `kubectl sandbox delete`.
func NewCmdDelete(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DeleteOptions{Wait: true, Clients: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "delete (NAME... | --all | -l SELECTOR)",
		Short: "Delete sandbox claims and, through them, their sandboxes",
		Example: `  # Delete a claim and wait until it is gone
  kubectl sandbox delete my-sandbox

  # Delete every claim the plugin created in this namespace
  kubectl sandbox delete -l agents.x-k8s.io/created-by=kubectl-sandbox`,
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
	cmd.Flags().BoolVar(&o.All, "all", false, "Delete every claim in the namespace")
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "Delete the claims matching this label selector")
	cmd.Flags().BoolVar(&o.Wait, "wait", o.Wait, "Wait until the claims are gone")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 2*time.Minute, "How long to wait for the deletion in all")
	cmd.Flags().BoolVar(&o.IgnoreNotFound, "ignore-not-found", false, "Treat a claim that does not exist as deleted")
	addDryRunFlag(cmd, &o.DryRun)
	return cmd
}

// Complete takes the names and the namespace, and parses --dry-run.
func (o *DeleteOptions) Complete(args []string) error {
	o.names = args
	var err error
	if o.namespace, err = o.Clients.Namespace(); err != nil {
		return err
	}
	o.dryRun, err = parseDryRun(o.DryRun)
	return err
}

// Validate checks that exactly one way of choosing claims is used, and the
// flags; it makes no API calls.
func (o *DeleteOptions) Validate() error {
	ways := 0
	for _, used := range []bool{len(o.names) > 0, o.All, o.Selector != ""} {
		if used {
			ways++
		}
	}
	if ways != 1 {
		return errors.New("give claim names, --all or --selector (exactly one of them)")
	}
	if err := validateNames("claim", o.names); err != nil {
		return err
	}
	if _, err := parseSelector(o.Selector); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	return nil
}

// Run deletes the claims, then waits for all of them to be gone.
func (o *DeleteOptions) Run(ctx context.Context) error {
	clients, err := o.Clients.Clients()
	if err != nil {
		return err
	}
	names := o.names
	if len(names) == 0 {
		list, err := claims.List(ctx, clients.Ext, o.namespace, o.Selector)
		if err != nil {
			return err
		}
		for _, c := range list {
			names = append(names, c.Name)
		}
		if len(names) == 0 {
			fmt.Fprintln(o.ErrOut, "No resources found")
			return nil
		}
	}
	printDeleted := func(name string) {
		fmt.Fprintf(o.Out, "%s %q deleted%s\n", claimResource, name, o.dryRun.suffix())
	}
	if o.dryRun == dryRunClient {
		for _, name := range names {
			printDeleted(name)
		}
		return nil
	}
	missing, err := claims.DeleteAll(ctx, clients.Ext, o.namespace, names, claims.DeleteOptions{
		DryRun: o.dryRun == dryRunServer, Wait: o.Wait, Timeout: o.Timeout, Deleted: printDeleted,
	})
	var errs []error
	if !o.IgnoreNotFound {
		for _, name := range missing {
			errs = append(errs, fmt.Errorf("%s %q not found in namespace %q", claimResource, name, o.namespace))
		}
	}
	return errors.Join(append(errs, err)...)
}
