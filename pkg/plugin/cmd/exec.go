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

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/client"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// ExecOptions runs a command in one sandbox, or in every Ready sandbox whose
// claim matches a selector.
type ExecOptions struct {
	Router      RouterFlags
	Output      string
	Timeout     time.Duration
	Selector    string
	MaxParallel int

	claim     string
	command   string
	namespace string
	router    router.Options

	Clients client.Factory
	genericiooptions.IOStreams
}

// NewCmdExec returns `kubectl sandbox exec`.
func NewCmdExec(f client.Factory, streams genericiooptions.IOStreams) *cobra.Command {
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

// Complete splits the claim from the command and validates the flags.
func (o *ExecOptions) Complete(args []string, dash int) error {
	if dash < 0 {
		return errors.New("put the command after --, as in: kubectl sandbox exec CLAIM -- COMMAND [ARG...]")
	}
	before, argv := args[:dash], args[dash:]
	switch {
	case o.Selector == "" && len(before) != 1:
		return errors.New("give exactly one claim before --, or -l SELECTOR")
	case o.Selector != "" && len(before) != 0:
		return errors.New("give a claim or -l SELECTOR, not both")
	}
	if o.Selector == "" {
		o.claim = before[0]
		if err := validateName("claim", o.claim); err != nil {
			return err
		}
	} else if _, err := parseSelector(o.Selector); err != nil {
		return err
	}
	var err error
	if o.command, err = sandbox.JoinArgv(argv); err != nil {
		return err
	}
	if o.Output != "" && o.Output != "json" {
		return fmt.Errorf(`invalid --output %q: only "json" is supported`, o.Output)
	}
	if o.Timeout < 0 || o.MaxParallel < 1 {
		return errors.New("--timeout must not be negative and --max-parallel must be at least 1")
	}
	if o.router, err = o.Router.ToOptions(); err != nil {
		return err
	}
	o.namespace, err = o.Clients.Namespace()
	return err
}

// Run executes the command and returns an *ExitError carrying a non-zero
// remote exit code.
func (o *ExecOptions) Run(ctx context.Context) error {
	if o.Selector != "" {
		return o.runSelected(ctx)
	}
	c, closeRouter, err := openClaim(ctx, o.Clients, o.router, o.Router.ServerPort, o.namespace, o.claim)
	if err != nil {
		return err
	}
	defer closeRouter()
	res, err := o.execute(ctx, c)
	if err != nil {
		return err
	}
	if err := o.print(res); err != nil {
		return err
	}
	return exitCode(res.ExitCode)
}

func (o *ExecOptions) execute(ctx context.Context, c *sandbox.Client) (*sandbox.Result, error) {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	res, err := c.Execute(ctx, o.command)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("the command did not finish within --timeout %s (it may still be running in the sandbox)", o.Timeout)
	}
	return res, err
}

func (o *ExecOptions) print(res *sandbox.Result) error {
	if o.Output == "json" {
		return json.NewEncoder(o.Out).Encode(res)
	}
	if _, err := io.WriteString(o.Out, res.Stdout); err != nil {
		return err
	}
	_, err := io.WriteString(o.ErrOut, res.Stderr)
	return err
}

// exitCode turns a remote exit code into the plugin's.
func exitCode(code int) error {
	if code == 0 {
		return nil
	}
	if code < 0 || code > 255 {
		code = 1
	}
	return &ExitError{Code: code}
}
