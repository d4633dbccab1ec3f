package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/client"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// RunLabel marks the claims that run creates, so leftovers are easy to find.
const RunLabel = "kubectl-sandbox/run"

// RunOptions creates a sandbox, uses it and always cleans it up.
type RunOptions struct {
	CreateFlags
	Router         RouterFlags
	CpIn, CpOut    []string
	Keep           bool
	CommandTimeout time.Duration

	spec    claims.Spec
	command string
	router  router.Options
	cpIn    []copyPair
	cpOut   []copyPair

	Clients client.Factory
	genericiooptions.IOStreams
}

type copyPair struct{ local, remote string }

// NewCmdRun returns `kubectl sandbox run`.
func NewCmdRun(f client.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RunOptions{Clients: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "run (--pool POOL | --template TEMPLATE) [flags] -- COMMAND [ARG...]",
		Short: "Run a command in a new sandbox, then delete the sandbox",
		Long: `Create a sandbox claim, wait until it is Ready, copy files in, run the
command, copy files out, delete the claim and exit with the command's exit
code. The claim is deleted on every path: success, failure, Ctrl-C and
SIGTERM (a second Ctrl-C skips waiting for the deletion). It always carries
a server-side TTL (--ttl), so the controller reaps it even if this process
is killed outright.`,
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
			return o.Run(cmd.Context())
		},
	}
	o.AddFlags(cmd, f, "1h")
	o.Router.AddFlags(cmd)
	cmd.Flags().StringArrayVar(&o.CpIn, "cp-in", nil, "Copy LOCAL:REMOTE into the sandbox before the command (repeatable)")
	cmd.Flags().StringArrayVar(&o.CpOut, "cp-out", nil, "Copy REMOTE:LOCAL out of the sandbox after the command (repeatable)")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "Keep the sandbox afterwards and print its claim name (it still expires after --ttl)")
	cmd.Flags().DurationVar(&o.CommandTimeout, "command-timeout", 0, "Give up on the command after this long (0: the runtime's own limit)")
	return cmd
}

// Complete validates everything before any API call.
func (o *RunOptions) Complete(args []string, dash int) error {
	if dash != 0 {
		return errors.New("put the command after --, as in: kubectl sandbox run --pool POOL -- COMMAND [ARG...]")
	}
	ns, err := o.Clients.Namespace()
	if err != nil {
		return err
	}
	if o.spec, err = o.ToSpec(ns, ""); err != nil {
		return err
	}
	o.spec.Labels = withLabel(o.spec.Labels, RunLabel, "true")
	if o.command, err = sandbox.JoinArgv(args); err != nil {
		return err
	}
	if o.cpIn, err = parsePairs("--cp-in", o.CpIn, true); err != nil {
		return err
	}
	if o.cpOut, err = parsePairs("--cp-out", o.CpOut, false); err != nil {
		return err
	}
	if o.CommandTimeout < 0 {
		return errors.New("--command-timeout must not be negative")
	}
	o.router, err = o.Router.ToOptions()
	return err
}

func withLabel(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// parsePairs parses LOCAL:REMOTE (in) or REMOTE:LOCAL (out).
func parsePairs(flag string, specs []string, localFirst bool) ([]copyPair, error) {
	var out []copyPair
	for _, s := range specs {
		a, b, ok := strings.Cut(s, ":")
		if !ok || a == "" || b == "" {
			form := "REMOTE:LOCAL"
			if localFirst {
				form = "LOCAL:REMOTE"
			}
			return nil, fmt.Errorf("invalid %s %q: use %s", flag, s, form)
		}
		p := copyPair{local: a, remote: b}
		if !localFirst {
			p = copyPair{local: b, remote: a}
		}
		var err error
		if p.remote, err = sandbox.RemotePath(p.remote); err != nil {
			return nil, err
		}
		if p.local, err = filepath.Abs(p.local); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Run does the whole job; the claim is deleted on every path unless --keep.
func (o *RunOptions) Run(ctx context.Context) (err error) {
	ext, err := o.Clients.Extensions()
	if err != nil {
		return err
	}
	if err := resolvePool(ctx, ext, &o.spec, o.Template); err != nil {
		return err
	}
	warnEnv(o.spec, o.ErrOut)
	created, err := createClaim(ctx, ext, claims.NewClaim(o.spec, clock()), nil)
	if err != nil {
		return err
	}
	name := created.Name
	defer func() {
		if o.Keep && err == nil {
			fmt.Fprintf(o.ErrOut, "%s/%s kept: use it with: kubectl sandbox exec %s -- COMMAND\n", claimResource, name, name)
			return
		}
		if cerr := o.cleanup(ctx, ext, name); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	ready, err := waitReady(ctx, ext, o.spec.Namespace, name, o.Timeout, o.ErrOut)
	if err != nil {
		return err
	}
	s, err := openRouter(ctx, o.Clients, o.router, o.Router.ServerPort, o.spec.Namespace)
	if err != nil {
		return err
	}
	defer s.Close()
	c := s.client(ready)
	for _, p := range o.cpIn {
		if _, err := c.UploadTree(ctx, p.local, p.remote, nil); err != nil {
			return fmt.Errorf("--cp-in %s: %w", p.local, err)
		}
	}
	exec := &ExecOptions{command: o.command, Timeout: o.CommandTimeout, IOStreams: o.IOStreams}
	res, err := exec.execute(ctx, c)
	if err != nil {
		return interrupted(ctx, err)
	}
	if err := exec.print(res); err != nil {
		return err
	}
	for _, p := range o.cpOut {
		if _, err := c.DownloadTree(ctx, p.remote, p.local, p.local, nil); err != nil {
			return interrupted(ctx, fmt.Errorf("--cp-out %s: %w", p.remote, err))
		}
	}
	return exitCode(res.ExitCode)
}

func interrupted(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return err
}

// cleanup deletes the claim on a fresh, bounded context, then waits until it
// is gone. A signal during the wait skips the wait; the delete is sent first.
func (o *RunOptions) cleanup(ctx context.Context, ext extclient.Interface, name string) error {
	base := context.WithoutCancel(ctx)
	dctx, cancel := context.WithTimeout(base, cleanupTimeout)
	defer cancel()
	if err := claims.Delete(dctx, ext, o.spec.Namespace, name, nil); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting sandboxclaim %q failed (it expires at its TTL; delete it with: kubectl sandbox delete %s): %w", name, name, err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	wctx, stopWait := context.WithTimeout(base, cleanupTimeout)
	defer stopWait()
	go func() {
		select {
		case <-sigs:
			stopWait()
		case <-wctx.Done():
		}
	}()
	if err := claims.WaitDeleted(wctx, ext, o.spec.Namespace, name, cleanupTimeout); err != nil && wctx.Err() == nil {
		return fmt.Errorf("waiting for sandboxclaim %q to go: %w", name, err)
	}
	return nil
}
