package cmd

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"golang.org/x/term"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// defaultTermSize is the remote terminal's size when no local terminal
// says.
var defaultTermSize = sandbox.TermSize{Cols: 80, Rows: 24}

// errNoVirtualTerminal is -t on a console that cannot show the remote
// terminal: it does not interpret escape sequences (Windows before 10).
var errNoVirtualTerminal = errors.New("this console cannot show a remote terminal (-t): it does not interpret terminal escape sequences")

// prepareOutput readies the output terminal behind a file descriptor for
// the remote terminal's escape sequences; undo puts it back. Tests replace
// it.
var prepareOutput = platformPrepareOutput

// fdOf is the file descriptor behind a stream, if it is a terminal.
func fdOf(v any) (int, bool) {
	f, ok := v.(interface{ Fd() uintptr })
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// localTerminal is the local side of exec -t: the input terminal in raw
// mode (so that ^C, ^Z and the rest reach the remote terminal as bytes) and
// the window size with its changes.
type localTerminal struct {
	size   sandbox.TermSize
	resize chan sandbox.TermSize
	state  *term.State
	rawFD  int
	stop   func()
	// undoOutput puts the output's console mode back (Windows), if set.
	undoOutput func()
}

// openTerminal prepares the local terminal: raw mode when in is a terminal
// (raw says whether to, for input), output that understands the remote
// terminal's escape sequences, and the size of the first of in and out that
// is a terminal, followed as it changes (watchResize: SIGWINCH, or a poll
// where there is none). restore undoes it all; it is safe to call more than
// once.
func openTerminal(in io.Reader, out io.Writer, raw bool) (*localTerminal, error) {
	t := &localTerminal{size: defaultTermSize, stop: func() {}}
	sizeFD := -1
	if fd, ok := fdOf(out); ok {
		sizeFD = fd
		undo, err := prepareOutput(fd)
		if err != nil {
			return nil, err
		}
		t.undoOutput = undo
	}
	if fd, ok := fdOf(in); ok {
		if sizeFD < 0 {
			sizeFD = fd
		}
		if raw {
			st, err := term.MakeRaw(fd)
			if err != nil {
				t.restore()
				return nil, err
			}
			t.state, t.rawFD = st, fd
		}
	}
	if sizeFD < 0 {
		return t, nil
	}
	sizeOf := func() (sandbox.TermSize, bool) {
		w, h, err := term.GetSize(sizeFD)
		if err != nil || w <= 0 || h <= 0 {
			return sandbox.TermSize{}, false
		}
		return sandbox.TermSize{Cols: uint16(w), Rows: uint16(h)}, true
	}
	if size, ok := sizeOf(); ok {
		t.size = size
	}
	t.resize = make(chan sandbox.TermSize, 1)
	events, stopEvents := watchResize()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		followSize(ctx, events, sizeOf, t.size, t.resize)
	}()
	t.stop = func() {
		stopEvents()
		cancel()
		<-done
	}
	return t, nil
}

// followSize reads the terminal's size at each event and, when it has
// changed, puts it on resize, which holds only the latest one, until ctx
// ends.
func followSize[E any](ctx context.Context, events <-chan E, sizeOf func() (sandbox.TermSize, bool), last sandbox.TermSize, resize chan sandbox.TermSize) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-events:
		}
		size, ok := sizeOf()
		if !ok || size == last {
			continue
		}
		last = size
		select { // keep only the latest size
		case <-resize:
		default:
		}
		resize <- size
	}
}

// restore puts the local terminal back as it was.
func (t *localTerminal) restore() {
	t.stop()
	t.stop = func() {}
	if t.state != nil {
		_ = term.Restore(t.rawFD, t.state)
		t.state = nil
	}
	if t.undoOutput != nil {
		t.undoOutput()
		t.undoOutput = nil
	}
}

// forwardSignals catches SIGINT and SIGTERM while a streamed command runs:
// the first is sent to the command, a second kills it (SIGKILL), a third
// gives up on it (giveUp). caught says how many came; stop releases the
// handler.
func forwardSignals(giveUp func()) (sigs <-chan syscall.Signal, caught func() int, stop func()) {
	in := make(chan os.Signal, 3)
	signal.Notify(in, os.Interrupt, syscall.SIGTERM)
	out := make(chan syscall.Signal, 3)
	done := make(chan struct{})
	var n atomic.Int32
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-in:
				switch n.Add(1) {
				case 1:
					out <- s.(syscall.Signal)
				case 2:
					out <- syscall.SIGKILL
				default:
					giveUp()
				}
			}
		}
	}()
	return out, func() int { return int(n.Load()) }, func() {
		signal.Stop(in)
		close(done)
	}
}
