package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// ExecOptions runs a command in one sandbox, or in every Ready sandbox whose
// claim matches a selector.
type ExecOptions struct {
	Router      RouterFlags
	Output      string
	Timeout     time.Duration
	Selector    string
	MaxParallel int

	claims    []string // before the --
	argv      []string
	dash      int
	namespace string
	session   session.Options

	Clients Factory
	genericiooptions.IOStreams
}

// NewCmdExec returns `kubectl sandbox exec`.
func NewCmdExec(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ExecOptions{Clients: f, IOStreams: streams, MaxParallel: 8}
	cmd := &cobra.Command{
		Use:   "exec (CLAIM | -l SELECTOR) -- COMMAND [ARG...]",
		Short: "Run a command in a sandbox and exit with its exit code",
		Long: `Run a command in a sandbox through the sandbox router. The arguments reach
the command exactly as given (the runtime runs it without a shell: use
sh -c '...' for pipes and variables). Its stdout and stderr are written
byte for byte to this command's, and this command exits with its exit code.`,
		Example: `  # Run python in a sandbox
  kubectl sandbox exec my-sandbox -- python3 -c 'print(6 * 7)'

  # Use a shell for pipes, through the Gateway
  kubectl sandbox exec my-sandbox --gateway external-http-gateway -- sh -c 'ls | wc -l'

  # Run on every ready sandbox labelled team=a, for an agent
  kubectl sandbox exec -l team=a -o json -- uname -a`,
		ValidArgsFunction: completeNames(f, listClaimNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args, cmd.ArgsLenAtDash()); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Router.AddFlags(cmd)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", `"json" prints {"stdout","stderr","exitCode"}`)
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 0, "Give up on the command after this long (0: the runtime's own limit)")
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "Run in every Ready sandbox whose claim matches this label selector")
	cmd.Flags().IntVar(&o.MaxParallel, "max-parallel", o.MaxParallel, "With -l, how many sandboxes run the command at once")
	return cmd
}

// Complete splits the claim from the command at the -- (dash is its
// position, -1 if absent), reads the router flags and takes the namespace.
func (o *ExecOptions) Complete(args []string, dash int) error {
	o.dash = dash
	if dash >= 0 {
		o.claims, o.argv = args[:dash], args[dash:]
	}
	var err error
	o.session, o.namespace, err = o.Router.Complete(o.Clients)
	return err
}

// Validate checks the arguments and flags; it makes no API calls.
func (o *ExecOptions) Validate() error {
	switch {
	case o.dash < 0:
		return errors.New("put the command after --, as in: kubectl sandbox exec CLAIM -- COMMAND [ARG...]")
	case o.Selector == "" && len(o.claims) != 1:
		return errors.New("give exactly one claim before --, or -l SELECTOR")
	case o.Selector != "" && len(o.claims) != 0:
		return errors.New("give a claim or -l SELECTOR, not both")
	}
	if o.Selector == "" {
		if err := validateName("claim", o.claims[0]); err != nil {
			return err
		}
	} else if _, err := parseSelector(o.Selector); err != nil {
		return err
	}
	if _, err := sandbox.JoinArgv(o.argv); err != nil {
		return err
	}
	if o.Output != "" && o.Output != "json" {
		return fmt.Errorf(`invalid --output %q: only "json" is supported`, o.Output)
	}
	if o.Timeout < 0 || o.MaxParallel < 1 {
		return errors.New("--timeout must not be negative and --max-parallel must be at least 1")
	}
	return nil
}

// Run executes the command and returns an *ExitError carrying a non-zero
// remote exit code.
func (o *ExecOptions) Run(ctx context.Context) error {
	clients, err := o.Clients.Clients()
	if err != nil {
		return err
	}
	s := session.New(clients, o.namespace, o.session)
	defer s.Close()
	if o.Selector != "" {
		return o.runSelected(ctx, clients, s)
	}
	rt, _, err := s.Open(ctx, o.claims[0])
	if err != nil {
		return err
	}
	res, err := sandbox.Exec(ctx, rt, sandbox.Command{Argv: o.argv}, o.Timeout)
	if err != nil {
		return err
	}
	if err := printResult(o.IOStreams, o.Output, res); err != nil {
		return err
	}
	return exitCode(res.ExitCode)
}

// printResult writes a command's output, split or as JSON.
func printResult(streams genericiooptions.IOStreams, output string, res *sandbox.Result) error {
	if output == "json" {
		return json.NewEncoder(streams.Out).Encode(res)
	}
	if _, err := io.WriteString(streams.Out, res.Stdout); err != nil {
		return err
	}
	_, err := io.WriteString(streams.ErrOut, res.Stderr)
	return err
}
