//go:build !windows

package cmd

import (
	"os"
	"os/signal"
	"syscall"
)

// watchResize tells of changes of the terminal's size: SIGWINCH. stop
// releases the handler.
func watchResize() (events <-chan os.Signal, stop func()) {
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	return winch, func() { signal.Stop(winch) }
}

// platformPrepareOutput readies a terminal for the remote terminal's
// output: a Unix terminal interprets escape sequences as it is.
func platformPrepareOutput(int) (undo func(), err error) {
	return func() {}, nil
}
