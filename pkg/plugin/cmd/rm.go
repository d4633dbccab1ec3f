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
	Router           RouterFlags
	Recursive, Force bool

	args      []string
	claim     string
	paths     []string
	namespace string
	session   session.Options

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
	o.Router.AddFlags(cmd)
	cmd.Flags().BoolVarP(&o.Recursive, "recursive", "r", false, "Remove directories and what they hold")
	cmd.Flags().BoolVarP(&o.Force, "force", "f", false, "Do not fail on paths that do not exist")
	return cmd
}

// Complete takes the arguments, the router flags and the namespace.
func (o *RmOptions) Complete(args []string) error {
	o.args = args
	var err error
	o.session, o.namespace, err = o.Router.Complete(o.Clients)
	return err
}

// Validate parses every CLAIM:PATH; it makes no API calls.
func (o *RmOptions) Validate() error {
	o.paths = nil
	for _, arg := range o.args {
		claim, p, ok := strings.Cut(arg, ":")
		if !ok || p == "" {
			return fmt.Errorf("give what to remove as CLAIM:PATH, not %q", arg)
		}
		if err := validateName("claim", claim); err != nil {
			return err
		}
		if o.claim != "" && claim != o.claim {
			return fmt.Errorf("rm works in one sandbox at a time: %q and %q name different claims", o.claim, claim)
		}
		o.claim = claim
		rp, err := session.RemotePath(p)
		if err != nil {
			return err
		}
		if rp == "" {
			return fmt.Errorf("refusing to remove %q, the sandbox's root directory", arg)
		}
		o.paths = append(o.paths, rp)
	}
	return nil
}

// Run removes each path in order, stopping at the first failure.
func (o *RmOptions) Run(ctx context.Context) error {
	rt, closeSession, err := openRuntime(ctx, o.Clients, o.namespace, o.session, o.claim)
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
			return fmt.Errorf("%s:%s: no such file or directory in the sandbox", o.claim, p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
