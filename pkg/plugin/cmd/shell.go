package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// loginShell runs the sandbox's $SHELL, else /bin/sh, as a login shell.
var loginShell = []string{"/bin/sh", "-c", `exec "${SHELL:-/bin/sh}" -l`}

// ShellOptions opens an interactive shell in a sandbox (exec -it).
type ShellOptions struct {
	Connect ConnectFlags
	Shell   string
	Env     []string
	Workdir string

	claim, workdir string
	env            map[string]string
	namespace      string
	session        session.Options

	Clients Factory
	genericiooptions.IOStreams
}

// NewCmdShell returns `kubectl sandbox shell`.
func NewCmdShell(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ShellOptions{Clients: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "shell CLAIM",
		Short: "Open an interactive login shell in a sandbox (sandboxd)",
		Long: `Open an interactive login shell in a sandbox whose pod runs sandboxd: the
sandbox's $SHELL (else /bin/sh) with -l, on a terminal, with standard input,
as 'kubectl sandbox exec -it CLAIM -- SHELL -l' would. Exit the shell (or
type ^D) to leave; this command exits with the shell's exit code.`,
		Example: `  # A shell in a sandbox
  kubectl sandbox shell my-sandbox

  # bash, in a subdirectory
  kubectl sandbox shell my-sandbox --shell /bin/bash --workdir src`,
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
	o.Connect.AddFlags(cmd)
	cmd.Flags().StringVar(&o.Shell, "shell", "", "The shell to run (default: the sandbox's $SHELL, else /bin/sh)")
	cmd.Flags().StringArrayVarP(&o.Env, "env", "e", nil, "Set an environment variable for the shell (NAME=VALUE; repeatable)")
	cmd.Flags().StringVar(&o.Workdir, "workdir", "", "The shell's working directory in the sandbox (default: the runtime's root)")
	return cmd
}

// Complete takes the claim, the router flags and the namespace, and parses
// the shell's environment and working directory.
func (o *ShellOptions) Complete(args []string) error {
	o.claim = args[0]
	var err error
	if o.session, o.namespace, err = o.Connect.Complete(o.Clients); err != nil {
		return err
	}
	o.env, o.workdir, err = parseCommandFlags(o.Env, o.Workdir)
	return err
}

// Validate checks the arguments; it makes no API calls.
func (o *ShellOptions) Validate() error {
	if err := validateName("claim", o.claim); err != nil {
		return err
	}
	if o.Shell != "" {
		if err := sandbox.CheckArgv([]string{o.Shell}); err != nil {
			return fmt.Errorf("invalid --shell: %w", err)
		}
	}
	return nil
}

// Run opens the shell and returns its exit code as an *ExitError.
func (o *ShellOptions) Run(ctx context.Context) error {
	rt, closeSession, err := openRuntime(ctx, o.Clients, o.namespace, o.session, o.claim)
	if err != nil {
		return err
	}
	defer closeSession()
	argv := loginShell
	if o.Shell != "" {
		argv = []string{o.Shell, "-l"}
	}
	cmd := sandbox.Command{Argv: argv, Env: o.env, Workdir: o.workdir}
	return attach(ctx, rt, cmd, o.IOStreams, true, sandbox.IO{Streams: sandbox.Streams{Stdin: o.In}})
}
