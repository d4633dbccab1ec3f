// Command kubectl-sandbox is the kubectl plugin for agent-sandbox.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/cmd"
)

func main() {
	// The first SIGINT or SIGTERM cancels the context with the signal as its
	// cause; the plugin cleans up and exits 128+signal. Later ones are
	// caught too, so that cleanup is not cut short (run takes a second one
	// as "stop waiting").
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if s, ok := (<-sigs).(syscall.Signal); ok {
			cancel(&cmd.Interrupt{Signal: s})
		}
	}()
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	code := cmd.Execute(ctx, streams, os.Args[1:])
	signal.Stop(sigs)
	os.Exit(code)
}
