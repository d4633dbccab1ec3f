//go:build windows

package cmd

import (
	"time"

	"golang.org/x/sys/windows"
)

// resizePoll is how often the console's size is read: Windows sends no
// signal when a console is resized, and its input events, which would say,
// are the remote terminal's input.
const resizePoll = 250 * time.Millisecond

// watchResize tells when to read the console's size again: every
// resizePoll. stop releases the ticker.
func watchResize() (events <-chan time.Time, stop func()) {
	tick := time.NewTicker(resizePoll)
	return tick.C, tick.Stop
}

// platformPrepareOutput turns on virtual terminal processing for the console
// behind fd, so that it interprets the remote terminal's escape sequences;
// undo puts its mode back. A console that cannot (Windows before 10) is
// refused: errNoVirtualTerminal.
func platformPrepareOutput(fd int) (undo func(), err error) {
	h := windows.Handle(fd)
	var mode uint32
	if err := windows.GetConsoleMode(h, &mode); err != nil {
		return func() {}, nil // not a console: nothing to prepare
	}
	want := mode | windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING | windows.DISABLE_NEWLINE_AUTO_RETURN
	if err := windows.SetConsoleMode(h, want); err != nil {
		return nil, errNoVirtualTerminal
	}
	return func() { _ = windows.SetConsoleMode(h, mode) }, nil
}
