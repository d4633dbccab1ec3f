// Package cmd is the command-line front-end of kubectl-sandbox: the cobra
// wiring of one verb per file, the flags, and the one place where errors
// gain hints. Each verb is NewCmdX + XOptions with Complete (which fills the
// options: arguments, flags parsed, the namespace), Validate (pure: it
// checks them, and changes nothing) and Run, which calls the engine
// packages.
package cmd

import (
	"context"
	"errors"
	goflag "flag"
	"fmt"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// ExitError carries the exit code of a remote command; main exits with it
// without printing anything more. A Forwarded one is the status of a
// command that got the signal which interrupted us: it is our exit code
// even then.
type ExitError struct {
	Code      int
	Forwarded bool
}

func (e *ExitError) Error() string { return fmt.Sprintf("command exited with code %d", e.Code) }

// Interrupt is the cause of a context cancelled by a signal.
type Interrupt struct{ Signal syscall.Signal }

func (i *Interrupt) Error() string { return "interrupted by " + i.Signal.String() }

// Exit codes besides 0, 1 and a remote command's own.
const (
	// exitTimeout is timeout(1)'s: --timeout ended the command.
	exitTimeout = 124
	// exitSignal plus the signal's number is a shell's code for a process
	// ended by that signal: 130 for SIGINT, 143 for SIGTERM.
	exitSignal = 128
)

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

// NewCmdSandbox returns the root command, `kubectl sandbox`.
func NewCmdSandbox(streams genericiooptions.IOStreams) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true).WithDeprecatedPasswordFlag()
	root := newRoot()
	configFlags.AddFlags(root.PersistentFlags())
	addKlogFlags(root)
	addVerbs(root, NewFactory(configFlags), streams)
	return root
}

func newRoot() *cobra.Command {
	return &cobra.Command{
		Use:   "kubectl-sandbox",
		Short: "Create, use and clean up agent-sandbox sandboxes",
		Long: `kubectl sandbox creates agent-sandbox SandboxClaims, waits for them to become
ready, and runs commands and copies files in their sandboxes through the
sandbox router.`,
		Annotations: map[string]string{
			cobra.CommandDisplayNameAnnotation: "kubectl sandbox",
		},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
}

func addVerbs(root *cobra.Command, f Factory, streams genericiooptions.IOStreams) {
	root.AddCommand(
		NewCmdCreate(f, streams),
		NewCmdGet(f, streams),
		NewCmdTemplates(f, streams),
		NewCmdPools(f, streams),
		NewCmdDescribe(f, streams),
		NewCmdWait(f, streams),
		NewCmdDelete(f, streams),
		NewCmdExec(f, streams),
		NewCmdCp(f, streams),
		NewCmdLs(f, streams),
		NewCmdCat(f, streams),
		NewCmdRm(f, streams),
		NewCmdShell(f, streams),
		NewCmdLogs(f, streams),
		NewCmdJobs(f, streams),
		NewCmdKill(f, streams),
		NewCmdPortForward(f, streams),
		NewCmdProxy(f, streams),
		NewCmdSuspend(f, streams),
		NewCmdResume(f, streams),
		NewCmdExtend(f, streams),
		NewCmdDoctor(f, streams),
		NewCmdMCP(f, streams),
		NewCmdRun(f, streams),
		NewCmdVersion(f, streams),
	)
}

// addKlogFlags exposes klog's -v (and --vmodule) the way kubectl does.
func addKlogFlags(root *cobra.Command) {
	fs := goflag.NewFlagSet("klog", goflag.ContinueOnError)
	klog.InitFlags(fs)
	for _, name := range []string{"v", "vmodule"} {
		root.PersistentFlags().AddGoFlag(fs.Lookup(name))
	}
}

// Execute runs the root command with args and returns the process exit code.
// It prints a plugin error as one line on stderr.
func Execute(ctx context.Context, streams genericiooptions.IOStreams, args []string) int {
	return execute(ctx, NewCmdSandbox(streams), streams, args)
}

func execute(ctx context.Context, root *cobra.Command, streams genericiooptions.IOStreams, args []string) int {
	root.SetArgs(args)
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	verb, err := root.ExecuteContextC(ctx)
	var exitErr *ExitError
	var signal *Interrupt
	switch {
	case errors.As(err, &exitErr) && exitErr.Forwarded:
		return exitErr.Code
	case errors.As(context.Cause(ctx), &signal):
		// Interrupted: the verb has cleaned up; say what else happened.
		if err != nil && !errors.As(err, &exitErr) && !isInterruption(err) {
			fmt.Fprintf(streams.ErrOut, "error: %s\n", describeError(err, verbName(verb)))
		}
		return exitSignal + int(signal.Signal)
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		return exitErr.Code
	case ctx.Err() != nil && isInterruption(err):
		fmt.Fprintln(streams.ErrOut, "error: interrupted")
		return 1
	}
	fmt.Fprintf(streams.ErrOut, "error: %s\n", describeError(err, verbName(verb)))
	return exitCodeFor(err)
}

// exitCodeFor is the exit code of a plugin error: a shell's for a command
// that timed out (124) or was killed with its container by the OOM killer
// (137), else 1.
func exitCodeFor(err error) int {
	var timeout *sandbox.CommandTimeoutError
	var oom *claims.OOMKilledError
	switch {
	case errors.As(err, &timeout):
		return exitTimeout
	case errors.As(err, &oom):
		return oom.ExitCode()
	}
	return 1
}

// isInterruption says whether err only reports the interruption itself
// (not, say, a claim that could not be deleted).
func isInterruption(err error) bool {
	var signal *Interrupt
	var cleanup *claims.CleanupError
	if errors.As(err, &cleanup) {
		return false
	}
	return errors.Is(err, context.Canceled) || errors.As(err, &signal)
}

func verbName(c *cobra.Command) string {
	if c == nil {
		return ""
	}
	return c.Name()
}
