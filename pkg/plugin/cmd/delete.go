package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/client"
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

	Clients client.Factory
	genericiooptions.IOStreams
}

// NewCmdDelete returns `kubectl sandbox delete`.
func NewCmdDelete(f client.Factory, streams genericiooptions.IOStreams) *cobra.Command {
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

// Complete checks that exactly one way of choosing claims is used.
func (o *DeleteOptions) Complete(args []string) error {
	ways := 0
	for _, used := range []bool{len(args) > 0, o.All, o.Selector != ""} {
		if used {
			ways++
		}
	}
	if ways != 1 {
		return errors.New("give claim names, --all or --selector (exactly one of them)")
	}
	for _, n := range args {
		if err := validateName("claim", n); err != nil {
			return err
		}
	}
	if _, err := parseSelector(o.Selector); err != nil {
		return err
	}
	o.names = args
	var err error
	if o.dryRun, err = parseDryRun(o.DryRun); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	o.namespace, err = o.Clients.Namespace()
	return err
}

// Run deletes the claims, then waits for all of them to be gone.
func (o *DeleteOptions) Run(ctx context.Context) error {
	ext, err := o.Clients.Extensions()
	if err != nil {
		return err
	}
	names := o.names
	if len(names) == 0 {
		list, err := ext.ExtensionsV1beta1().SandboxClaims(o.namespace).List(ctx, metav1.ListOptions{LabelSelector: o.Selector})
		if err != nil {
			return fmt.Errorf("listing sandboxclaims: %w", err)
		}
		for _, c := range list.Items {
			names = append(names, c.Name)
		}
		if len(names) == 0 {
			fmt.Fprintln(o.ErrOut, "No resources found")
			return nil
		}
	}
	var deleted []string
	var errs []error
	for _, name := range names {
		if o.dryRun != dryRunClient {
			err := claims.Delete(ctx, ext, o.namespace, name, o.dryRun.serverDryRun())
			switch {
			case apierrors.IsNotFound(err) && !isMissingAPI(err):
				if !o.IgnoreNotFound {
					errs = append(errs, fmt.Errorf("%s %q not found in namespace %q", claimResource, name, o.namespace))
				}
				continue
			case err != nil:
				return fmt.Errorf("deleting sandboxclaim %q: %w", name, err)
			}
		}
		fmt.Fprintf(o.Out, "%s %q deleted%s\n", claimResource, name, o.dryRun.suffix())
		deleted = append(deleted, name)
	}
	if o.Wait && o.dryRun == dryRunNone {
		wctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		for _, name := range deleted {
			if err := claims.WaitDeleted(wctx, ext, o.namespace, name, o.Timeout); err != nil {
				return err
			}
		}
	}
	return errors.Join(errs...)
}
