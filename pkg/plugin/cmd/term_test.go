package cmd

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandboxd"
)

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return ptmx, tty
}

// TestTerminalRestoredWhenTheStreamFails: exec -t puts the local terminal in
// raw mode with its size sent, and a command whose stream breaks (an error
// path, not an exit) leaves the terminal as it found it.
func TestTerminalRestoredWhenTheStreamFails(t *testing.T) {
	_, tty := openPTY(t)
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
	err = streamCommand(context.Background(), st, sandbox.Command{Argv: []string{"sh"}}, ios, tty, true, 0)
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
