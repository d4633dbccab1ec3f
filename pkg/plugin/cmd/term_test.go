package cmd

import (
	"context"
	"errors"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandboxd"
)

// TestTerminalRestoredWhenTheStreamFails: exec -t puts the local terminal in
// raw mode with its size sent, and a command whose stream breaks (an error
// path, not an exit) leaves the terminal as it found it.
func TestTerminalRestoredWhenTheStreamFails(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	fd := int(tty.Fd())
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 77}); err != nil {
		t.Fatal(err)
	}
	before, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if before.Lflag&(unix.ICANON|unix.ECHO) == 0 {
		t.Fatal("a new terminal is not in cooked mode")
	}
	lost := &sandboxd.LostError{Err: errors.New("stream reset")}
	var rawWhileRunning bool
	st := &fakeStreamer{run: func(context.Context, sandbox.Streams) (int, error) {
		now, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		rawWhileRunning = err == nil && now.Lflag&(unix.ICANON|unix.ECHO) == 0
		return 0, lost
	}}
	ios := genericiooptions.IOStreams{In: tty, Out: tty, ErrOut: tty}
	err = attach(context.Background(), st, sandbox.Command{Argv: []string{"sh"}}, ios, true, sandbox.IO{Streams: sandbox.Streams{Stdin: tty}})
	if !errors.Is(err, lost) {
		t.Errorf("err %v, want the lost stream", err)
	}
	if !rawWhileRunning {
		t.Error("the terminal was not raw while the command ran")
	}
	if got := st.got.TTY; got == nil || *got != (sandbox.TermSize{Cols: 77, Rows: 33}) {
		t.Errorf("remote terminal size %+v, want 77x33", got)
	}
	after, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Errorf("the terminal was not restored:\nbefore %+v\nafter  %+v", before, after)
	}
}
