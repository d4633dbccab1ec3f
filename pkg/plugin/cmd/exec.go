package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/jobs"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// ExecOptions runs a command in one sandbox, or in every Ready sandbox whose
// claim matches a selector.
type ExecOptions struct {
	Connect     ConnectFlags
	Output      string
	Timeout     time.Duration
	Selector    string
	MaxParallel int
	Stdin, TTY  bool
	Env         []string
	Workdir     string
	MaxOutput   int
	Detach      bool
	JobName     string

	claims    []string // before the --
	argv      []string
	env       map[string]string
	workdir   string
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
		Use:   "exec (CLAIM | -l SELECTOR) [-i] [-t] -- COMMAND [ARG...]",
		Short: "Run a command in a sandbox and exit with its exit code",
		Long: `Run a command in a sandbox. The arguments reach the command exactly as
given (no shell: use sh -c '...' for pipes and variables), and this command
exits with its exit code.

On a sandbox whose pod runs sandboxd (found from its pod template, or
--runtime sandboxd), output streams as it is produced, -i sends standard
input as it is read, -t gives the command a terminal, and Ctrl-C or SIGTERM
is sent to the command (a second one kills it). On the python runtime
(through the sandbox router) output arrives when the command ends, -i sends
at most 16 MiB of input, buffered, and -t is refused.`,
		Example: `  # Run python in a sandbox
  kubectl sandbox exec my-sandbox -- python3 -c 'print(6 * 7)'

  # An interactive shell in a sandboxd sandbox (or: kubectl sandbox shell my-sandbox)
  kubectl sandbox exec -it my-sandbox -- /bin/sh

  # Feed a file to a command, with a variable and a working directory
  kubectl sandbox exec -i my-sandbox --env MODE=fast --workdir src -- sha256sum < data.bin

  # Run on every ready sandbox labelled team=a, for an agent
  kubectl sandbox exec -l team=a -o json -- uname -a

  # Start a server in the background: prints the job's name (see jobs, logs --job, kill)
  kubectl sandbox exec my-sandbox --detach -- python3 -m http.server 8000`,
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
	o.Connect.AddFlags(cmd)
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", `"json" prints {"stdout","stderr","exitCode"}`)
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 0, "Give up on the command after this long; sandboxd kills it (0: the runtime's own limit)")
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "Run in every Ready sandbox whose claim matches this label selector")
	cmd.Flags().IntVar(&o.MaxParallel, "max-parallel", o.MaxParallel, "With -l, how many sandboxes run the command at once")
	addStreamFlags(cmd, &o.Stdin, &o.TTY, &o.Env, &o.Workdir)
	cmd.Flags().IntVar(&o.MaxOutput, "max-output", 0, "Keep at most this many bytes of stdout and of stderr each: the head and the tail, with a marker between (0: everything); -o json then says \"truncated\": true")
	cmd.Flags().BoolVarP(&o.Detach, "detach", "d", false, "Start the command as a background job that outlives this call (its own process group, input empty, output kept in the sandbox) and print its name")
	cmd.Flags().StringVar(&o.JobName, "job", "", "With --detach, the job's name (default: generated)")
	return cmd
}

// addStreamFlags adds the flags of a command's input, terminal,
// environment and working directory.
func addStreamFlags(cmd *cobra.Command, stdin, tty *bool, env *[]string, workdir *string) {
	cmd.Flags().BoolVarP(stdin, "stdin", "i", false, "Send standard input to the command")
	cmd.Flags().BoolVarP(tty, "tty", "t", false, "Run the command on a terminal (sandboxd); the local terminal is put in raw mode")
	cmd.Flags().StringArrayVarP(env, "env", "e", nil, "Set an environment variable for the command (NAME=VALUE; repeatable)")
	cmd.Flags().StringVar(workdir, "workdir", "", "The command's working directory in the sandbox (default: the runtime's root)")
}

// parseCommandFlags parses --env and --workdir: the environment and the
// working directory (a runtime path) of a command.
func parseCommandFlags(env []string, workdir string) (map[string]string, string, error) {
	vars, err := parseEnv(env)
	if err != nil || workdir == "" {
		return vars, "", err
	}
	wd, err := session.RemotePath(workdir)
	return vars, wd, err
}

// parseEnv parses NAME=VALUE pairs into a command's environment (see
// sandbox.CheckEnv).
func parseEnv(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	env := make(map[string]string, len(pairs))
	for _, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		if !ok || sandbox.CheckEnv(map[string]string{name: value}) != nil {
			return nil, fmt.Errorf("invalid --env %q: use NAME=VALUE", p)
		}
		env[name] = value
	}
	return env, nil
}

// Complete splits the claim from the command at the -- (dash is its
// position, -1 if absent), reads the router flags, takes the namespace
// and parses the command's environment and working directory.
func (o *ExecOptions) Complete(args []string, dash int) error {
	o.dash = dash
	if dash >= 0 {
		o.claims, o.argv = args[:dash], args[dash:]
	}
	var err error
	if o.session, o.namespace, err = o.Connect.Complete(o.Clients); err != nil {
		return err
	}
	o.env, o.workdir, err = parseCommandFlags(o.Env, o.Workdir)
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
	if err := sandbox.CheckArgv(o.argv); err != nil {
		return err
	}
	switch {
	case o.TTY && o.Output != "":
		return errors.New("-t and -o json cannot be used together: a terminal has one stream")
	case (o.TTY || o.Stdin) && o.Selector != "":
		return errors.New("-i and -t take one claim, not -l SELECTOR")
	}
	if o.Output != "" && o.Output != "json" {
		return fmt.Errorf(`invalid --output %q: only "json" is supported`, o.Output)
	}
	if o.MaxOutput < 0 {
		return errors.New("--max-output must not be negative")
	}
	if o.Timeout < 0 || o.MaxParallel < 1 {
		return errors.New("--timeout must not be negative and --max-parallel must be at least 1")
	}
	return o.validateDetach()
}

// validateDetach refuses what a background job cannot have: input, a
// terminal, a timeout, an output budget, many sandboxes.
func (o *ExecOptions) validateDetach() error {
	switch {
	case !o.Detach && o.JobName != "":
		return errors.New("--job names a job that --detach starts")
	case !o.Detach:
		return nil
	case o.Stdin || o.TTY:
		return errors.New("--detach takes no -i or -t: a background job's input is empty (write what it needs to a file first)")
	case o.Selector != "":
		return errors.New("--detach starts a job in one sandbox: give a claim, not -l")
	case o.Timeout != 0 || o.MaxOutput != 0:
		return errors.New("--detach takes no --timeout or --max-output: stop a job with kubectl sandbox kill, read its output with kubectl sandbox logs --job")
	case o.JobName != "":
		return jobs.CheckID(o.JobName)
	}
	return nil
}

// command is the command to run.
func (o *ExecOptions) command() sandbox.Command {
	return sandbox.Command{Argv: o.argv, Env: o.env, Workdir: o.workdir}
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
	if o.Detach {
		return o.runDetached(ctx, s)
	}
	rt, _, err := s.Open(ctx, o.claims[0])
	if err != nil {
		return err
	}
	cmd := o.command()
	run := sandbox.IO{Budget: o.MaxOutput, Timeout: o.Timeout}
	if o.Stdin {
		run.Stdin = o.In
	}
	if o.Output == "json" {
		res, err := sandbox.Run(ctx, rt, cmd, run)
		if err != nil {
			return err
		}
		if err := json.NewEncoder(o.Out).Encode(res); err != nil {
			return err
		}
		return exitCode(res.ExitCode)
	}
	return attach(ctx, rt, cmd, o.IOStreams, o.TTY, run)
}

// errNoTerminal is -t on a runtime without terminals.
var errNoTerminal = errors.New("the python runtime cannot give a command a terminal (-t)")

// attach runs cmd with our standard streams, its output within run's
// budget. On a runtime that streams, the output comes as it is printed,
// SIGINT and SIGTERM go to the command, and with tty it gets our terminal
// (raw while it runs, restored on every path); elsewhere the output comes
// when the command ends, and a signal ends the wait.
func attach(ctx context.Context, rt sandbox.Runtime, cmd sandbox.Command, ios genericiooptions.IOStreams, tty bool, run sandbox.IO) error {
	run.Stdout, run.Stderr = ios.Out, ios.ErrOut
	if !sandbox.CanStream(rt) {
		if tty {
			return errNoTerminal
		}
		res, err := sandbox.Run(ctx, rt, cmd, run)
		if err != nil {
			return err
		}
		return exitCode(res.ExitCode)
	}
	// The first signal cancels ctx (main); the command's stream must
	// outlive it, so that the command gets the signal and we its status.
	sctx, giveUp := context.WithCancelCause(context.WithoutCancel(ctx))
	defer giveUp(nil)
	sigs, caught, stopSignals := forwardSignals(func() { giveUp(context.Cause(ctx)) })
	defer stopSignals()
	run.Signals = sigs
	if tty {
		t, err := openTerminal(ios.In, ios.Out, run.Stdin != nil)
		if err != nil {
			return fmt.Errorf("setting up the local terminal: %w", err)
		}
		defer t.restore()
		run.TTY, run.Resize = &t.size, t.resize
	}
	res, err := sandbox.Run(sctx, rt, cmd, run)
	if err != nil {
		return err
	}
	if caught() > 0 {
		return &ExitError{Code: res.ExitCode, Forwarded: true}
	}
	return exitCode(res.ExitCode)
}
