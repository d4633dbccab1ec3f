// Package cmd holds the cobra wiring of kubectl-sandbox: one file per verb.
package cmd

import (
	"context"
	"errors"
	goflag "flag"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/klog/v2"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/client"
)

// ExitError carries the exit code of a remote command; main exits with it
// without printing anything more.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("command exited with code %d", e.Code) }

// NewCmdSandbox returns the root command, `kubectl sandbox`.
func NewCmdSandbox(streams genericiooptions.IOStreams) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true).WithDeprecatedPasswordFlag()
	root := &cobra.Command{
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
	configFlags.AddFlags(root.PersistentFlags())
	addKlogFlags(root)

	f := client.New(configFlags)
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
		NewCmdRun(f, streams),
		NewCmdVersion(f, streams),
	)
	return root
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
	root := NewCmdSandbox(streams)
	root.SetArgs(args)
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var exitErr *ExitError
	if errors.As(err, &exitErr) {
		return exitErr.Code
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(streams.ErrOut, "error: interrupted")
		return 1
	}
	fmt.Fprintf(streams.ErrOut, "error: %s\n", describeError(err))
	return 1
}
