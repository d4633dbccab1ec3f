package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// RmOptions removes files and directories in one sandbox.
type RmOptions struct {
	Connect          ConnectFlags
	Recursive, Force bool

	// args, and the claim and runtime path of each.
	args, claims, paths []string
	namespace           string
	session             session.Options

	Clients Factory
	genericiooptions.IOStreams
}

// NewCmdRm returns `kubectl sandbox rm`.
func NewCmdRm(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RmOptions{Clients: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "rm [-r] [-f] CLAIM:PATH [CLAIM:PATH...]",
		Short: "Remove files or directories in a sandbox",
		Long: `Remove files, or with -r directories and what they hold, in one sandbox.
On sandboxd this is the file API's DELETE (without -r it also removes an
empty directory); on the python runtime an exact-argv rm (without -r it
refuses any directory). The sandbox's root directory itself is never
removed.`,
		Example: `  # Remove a file
  kubectl sandbox rm my-sandbox:out.txt

  # Remove a directory tree, without an error if it is not there
  kubectl sandbox rm -rf my-sandbox:build`,
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
	o.Connect.AddFlags(cmd)
	cmd.Flags().BoolVarP(&o.Recursive, "recursive", "r", false, "Remove directories and what they hold")
	cmd.Flags().BoolVarP(&o.Force, "force", "f", false, "Do not fail on paths that do not exist")
	return cmd
}

// Complete takes the router flags and the namespace, and parses every
// CLAIM:PATH.
func (o *RmOptions) Complete(args []string) error {
	var err error
	if o.session, o.namespace, err = o.Connect.Complete(o.Clients); err != nil {
		return err
	}
	o.args, o.claims, o.paths = args, nil, nil
	for _, arg := range args {
		claim, p, ok := strings.Cut(arg, ":")
		if !ok || p == "" {
			return fmt.Errorf("give what to remove as CLAIM:PATH, not %q", arg)
		}
		rp, err := session.RemotePath(p)
		if err != nil {
			return err
		}
		o.claims, o.paths = append(o.claims, claim), append(o.paths, rp)
	}
	return nil
}

// Validate checks that every path is in one claim, and none is its root;
// it makes no API calls.
func (o *RmOptions) Validate() error {
	for i, claim := range o.claims {
		if err := validateName("claim", claim); err != nil {
			return err
		}
		if claim != o.claims[0] {
			return fmt.Errorf("rm works in one sandbox at a time: %q and %q name different claims", o.claims[0], claim)
		}
		if o.paths[i] == "" {
			return fmt.Errorf("refusing to remove %q, the sandbox's root directory", o.args[i])
		}
	}
	return nil
}

// Run removes each path in order, stopping at the first failure.
func (o *RmOptions) Run(ctx context.Context) error {
	claim := o.claims[0]
	rt, closeSession, err := openRuntime(ctx, o.Clients, o.namespace, o.session, claim)
	if err != nil {
		return err
	}
	defer closeSession()
	for _, p := range o.paths {
		err := sandbox.Remove(ctx, rt, p, o.Recursive)
		if errors.Is(err, sandbox.ErrNotFound) {
			if o.Force {
				continue
			}
			return fmt.Errorf("%s:%s: no such file or directory in the sandbox", claim, p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
