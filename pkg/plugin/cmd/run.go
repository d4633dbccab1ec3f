package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/oneshot"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// RunLabel marks the claims that run creates, so leftovers are easy to find.
const RunLabel = "kubectl-sandbox/run"

// RunOptions creates a sandbox, uses it and always cleans it up.
type RunOptions struct {
	CreateFlags
	Connect        ConnectFlags
	CpIn, CpOut    []string
	Keep           bool
	CommandTimeout time.Duration

	argv      []string
	dash      int
	namespace string
	spec      claims.Spec
	session   session.Options
	cpIn      []oneshot.Copy
	cpOut     []oneshot.Copy

	Clients Factory
	Now     func() time.Time
	genericiooptions.IOStreams
}

// NewCmdRun returns `kubectl sandbox run`.
func NewCmdRun(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RunOptions{Clients: f, Now: clock, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "run (--pool POOL | --template TEMPLATE) [flags] -- COMMAND [ARG...]",
		Short: "Run a command in a new sandbox, then delete the sandbox",
		Long: `Create a sandbox claim, wait until it is Ready, copy files in, run the
command, copy files out, delete the claim and exit with the command's exit
code. The claim is deleted on every path: success, failure, Ctrl-C and
SIGTERM (a second Ctrl-C skips waiting for the deletion). With --keep it is
kept once it was Ready, whatever the command did. It always carries a
server-side TTL (--ttl), so the controller reaps it even if this process is
killed outright.`,
		Example: `  # Run a one-off command
  kubectl sandbox run --template python -- python3 -c "print('hello from a sandbox')"

  # Send a script in, run it, bring its output back
  kubectl sandbox run --pool python --cp-in job.py:job.py --cp-out out.csv:./out.csv -- python3 job.py

  # Keep the sandbox for later exec calls (it still expires after --ttl)
  kubectl sandbox run --pool python --keep -- pip list`,
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
	o.AddFlags(cmd, f, "1h")
	o.Connect.AddFlags(cmd)
	cmd.Flags().StringArrayVar(&o.CpIn, "cp-in", nil, "Copy LOCAL:REMOTE into the sandbox before the command (repeatable)")
	cmd.Flags().StringArrayVar(&o.CpOut, "cp-out", nil, "Copy REMOTE:LOCAL out of the sandbox after the command (repeatable)")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "Keep the sandbox afterwards and print its claim name (it still expires after --ttl)")
	cmd.Flags().DurationVar(&o.CommandTimeout, "command-timeout", 0, "Give up on the command after this long (0: the runtime's own limit)")
	return cmd
}

// Complete takes the command after the --, the namespace and the router
// flags, and parses the claim's spec and the copies.
func (o *RunOptions) Complete(args []string, dash int) error {
	o.dash = dash
	if dash >= 0 {
		o.argv = args[dash:]
	}
	var err error
	if o.session, o.namespace, err = o.Connect.Complete(o.Clients); err != nil {
		return err
	}
	if o.spec, err = o.ToSpec(o.namespace, ""); err != nil {
		return err
	}
	o.spec.Labels = withLabel(o.spec.Labels, RunLabel, "true")
	if o.cpIn, err = parsePairs("--cp-in", o.CpIn, true); err != nil {
		return err
	}
	o.cpOut, err = parsePairs("--cp-out", o.CpOut, false)
	return err
}

// Validate checks everything before any API call.
func (o *RunOptions) Validate() error {
	if o.dash != 0 {
		return errors.New("put the command after --, as in: kubectl sandbox run --pool POOL -- COMMAND [ARG...]")
	}
	if err := o.CreateFlags.Validate(o.spec); err != nil {
		return err
	}
	if err := sandbox.CheckArgv(o.argv); err != nil {
		return err
	}
	if o.CommandTimeout < 0 {
		return errors.New("--command-timeout must not be negative")
	}
	return nil
}

func withLabel(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// parsePairs parses LOCAL:REMOTE (in) or REMOTE:LOCAL (out).
func parsePairs(flag string, specs []string, localFirst bool) ([]oneshot.Copy, error) {
	var out []oneshot.Copy
	for _, s := range specs {
		a, b, ok := strings.Cut(s, ":")
		if !ok || a == "" || b == "" {
			form := "REMOTE:LOCAL"
			if localFirst {
				form = "LOCAL:REMOTE"
			}
			return nil, fmt.Errorf("invalid %s %q: use %s", flag, s, form)
		}
		p := oneshot.Copy{Local: a, Remote: b}
		if !localFirst {
			p = oneshot.Copy{Local: b, Remote: a}
		}
		var err error
		if p.Remote, err = session.RemotePath(p.Remote); err != nil {
			return nil, err
		}
		if p.Local, err = filepath.Abs(p.Local); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Run does the whole job through the engine's one-shot runner; the claim is
// deleted on every path unless --keep.
func (o *RunOptions) Run(ctx context.Context) error {
	clients, err := o.Clients.Clients()
	if err != nil {
		return err
	}
	if err := claims.ResolvePool(ctx, clients.Ext, &o.spec); err != nil {
		return err
	}
	warnEnv(o.spec, o.ErrOut)
	p := &claimProgress{errOut: o.ErrOut}
	skip, stopSignals := secondSignal(ctx)
	defer stopSignals()
	out, err := oneshot.Run(ctx, clients, o.session, oneshot.Plan{
		Claim: claims.NewClaim(o.spec, o.Now()), ReadyTimeout: o.Timeout,
		CopyIn: o.cpIn, Command: sandbox.Command{Argv: o.argv}, IO: sandbox.IO{Timeout: o.CommandTimeout},
		CopyOut: o.cpOut, Keep: o.Keep,
	}, oneshot.Hooks{
		WaitHooks: p.hooks(nil), Ready: func(*extv1beta1.SandboxClaim) { p.stop() }, SkipDeleteWait: skip,
	})
	p.stop()
	if out.Result != nil {
		if perr := printOutput(o.IOStreams, out.Result); err == nil {
			err = perr
		}
	}
	if out.Kept {
		fmt.Fprintf(o.ErrOut, "%s/%s kept: use it with: kubectl sandbox exec %s -- COMMAND\n", claimResource, out.Claim, out.Claim)
	}
	if err != nil {
		return err // Execute words an interruption (isInterruption)
	}
	return exitCode(out.Result.ExitCode)
}

// printOutput writes a command's output: stdout, then stderr.
func printOutput(streams genericiooptions.IOStreams, res *sandbox.Result) error {
	if _, err := io.WriteString(streams.Out, res.Stdout); err != nil {
		return err
	}
	_, err := io.WriteString(streams.ErrOut, res.Stderr)
	return err
}

// secondSignal returns a channel that a SIGINT or SIGTERM closes once ctx
// was cancelled (by the first one): the user does not want to wait any
// longer for the cleanup. stop releases the signal handler.
func secondSignal(ctx context.Context) (skip <-chan struct{}, stop func()) {
	ch, done := make(chan struct{}), make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sigs)
		select {
		case <-sigs:
			close(ch)
		case <-done:
		}
	}()
	return ch, func() { close(done) }
}
