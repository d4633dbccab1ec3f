package cmd

import (
	"context"
	"errors"
	"testing"
	"time"

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

// TestFollowSizeSendsChanges: each event reads the size; only a size that
// differs from the last one sent is sent, an unreadable one is skipped, and
// the channel holds only the latest.
func TestFollowSizeSendsChanges(t *testing.T) {
	var (
		start  = sandbox.TermSize{Cols: 80, Rows: 24}
		wider  = sandbox.TermSize{Cols: 90, Rows: 30}
		larger = sandbox.TermSize{Cols: 100, Rows: 40}
		latest = sandbox.TermSize{Cols: 120, Rows: 50}
	)
	steps := []struct {
		size  sandbox.TermSize
		ok    bool
		check bool              // read resize after this event
		want  *sandbox.TermSize // what it holds then (nil: nothing)
	}{
		{start, true, true, nil},               // as it was
		{sandbox.TermSize{}, false, true, nil}, // unreadable
		{wider, true, true, &wider},            // changed
		{wider, true, true, nil},               // the same again
		{larger, true, false, nil},             // changed, not read yet...
		{latest, true, true, &latest},          // ...and replaced by the latest
	}
	// Each size is read once the test opens the gate; followSize takes the
	// next event only when it is done with the one before.
	events, gate := make(chan struct{}), make(chan struct{})
	resize := make(chan sandbox.TermSize, 1)
	next := 0
	sizeOf := func() (sandbox.TermSize, bool) {
		<-gate
		s := steps[next]
		next++
		return s.size, s.ok
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		followSize(ctx, events, sizeOf, start, resize)
	}()
	events <- struct{}{}
	for i, step := range steps {
		gate <- struct{}{}
		if i+1 < len(steps) {
			events <- struct{}{} // taken once step i is done
		} else {
			cancel()
			<-done
		}
		if !step.check {
			continue
		}
		select {
		case got := <-resize:
			if step.want == nil || got != *step.want {
				t.Errorf("step %d: %+v sent, want %v", i, got, step.want)
			}
		default:
			if step.want != nil {
				t.Errorf("step %d: nothing sent, want %+v", i, *step.want)
			}
		}
	}
}

// TestTerminalFollowsSIGWINCH: exec -t reads the terminal's size again at
// SIGWINCH and hands the new one on.
func TestTerminalFollowsSIGWINCH(t *testing.T) {
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
	lt, err := openTerminal(tty, tty, false)
	if err != nil {
		t.Fatal(err)
	}
	defer lt.restore()
	if lt.size != (sandbox.TermSize{Cols: 77, Rows: 33}) {
		t.Fatalf("size %+v, want 77x33", lt.size)
	}
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 100}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Kill(unix.Getpid(), unix.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-lt.resize:
		if got != (sandbox.TermSize{Cols: 100, Rows: 40}) {
			t.Errorf("new size %+v, want 100x40", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no new size after SIGWINCH")
	}
}

// TestTerminalRefusedWithoutEscapeSequences: a console that cannot
// interpret the remote terminal's escape sequences (Windows before 10)
// refuses exec -t in one line with a hint, and leaves the terminal cooked.
func TestTerminalRefusedWithoutEscapeSequences(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	defer func(orig func(int) (func(), error)) { prepareOutput = orig }(prepareOutput)
	prepareOutput = func(int) (func(), error) { return nil, errNoVirtualTerminal }
	st := &fakeStreamer{run: func(context.Context, sandbox.Streams) (int, error) {
		t.Error("the command ran")
		return 0, nil
	}}
	ios := genericiooptions.IOStreams{In: tty, Out: tty, ErrOut: tty}
	err = attach(context.Background(), st, sandbox.Command{Argv: []string{"sh"}}, ios, true, sandbox.IO{Streams: sandbox.Streams{Stdin: tty}})
	if !errors.Is(err, errNoVirtualTerminal) {
		t.Fatalf("err %v, want the refusal", err)
	}
	const want = "setting up the local terminal: this console cannot show a remote terminal (-t): it does not interpret terminal escape sequences: use Windows Terminal or another console of Windows 10 or later, or drop -t"
	if got := describeError(err, "exec"); got != want {
		t.Errorf("error %q\nwant  %q", got, want)
	}
	now, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil || now.Lflag&(unix.ICANON|unix.ECHO) == 0 {
		t.Errorf("the terminal is not cooked: %v", err)
	}
}
