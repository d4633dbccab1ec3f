package cmd

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// lines is a writer that hands each write (a verb prints a line at a time)
// to the test.
type lines chan string

func (l lines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

// started is a verb running in the background until stop is called.
type started struct {
	out, errOut lines
	cancel      context.CancelFunc
	done        chan error
}

// start runs a verb with a cancellable context.
func start(t *testing.T, f Factory, newCmd verbCtor, args []string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	return startCtx(t, ctx, cancel, f, newCmd, args)
}

// startCtx runs a verb with ctx, which cancel ends.
func startCtx(t *testing.T, ctx context.Context, cancel context.CancelFunc, f Factory, newCmd verbCtor, args []string) *started {
	t.Helper()
	s := &started{out: make(lines, 16), errOut: make(lines, 16), cancel: cancel, done: make(chan error, 1)}
	cmd := newCmd(f, genericiooptions.IOStreams{In: strings.NewReader(""), Out: s.out, ErrOut: s.errOut})
	cmd.SetArgs(args)
	cmd.SetOut(s.out)
	cmd.SetErr(s.errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	go func() { s.done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(cancel)
	return s
}

// line is the verb's next output line, or its early end.
func (s *started) line(t *testing.T) string {
	t.Helper()
	select {
	case l := <-s.out:
		return l
	case err := <-s.done:
		t.Fatalf("the verb ended before printing: %v", err)
	}
	return ""
}

// stop cancels the verb and returns its error.
func (s *started) stop() error {
	s.cancel()
	return <-s.done
}

// hang is how long a test waits for a verb that should end before it
// fails instead of hanging.
const hang = 10 * time.Second

// ended is the verb's error once it ends; one that goes on fails the test.
func (s *started) ended(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(hang):
		t.Fatalf("the verb did not end within %s", hang)
	}
	return nil
}
