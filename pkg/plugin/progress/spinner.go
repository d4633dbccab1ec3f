// Package progress shows what the plugin waits on, on a terminal only.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Spinner redraws one status line with the elapsed time. It draws nothing
// unless its writer is a terminal.
type Spinner struct {
	w      io.Writer
	start  time.Time
	mu     sync.Mutex
	status string
	stop   chan struct{}
	done   chan struct{}
	// files and bytes count what CountingReader saw.
	files, bytes atomic.Int64
}

var frames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Start begins drawing on w when w is a terminal; otherwise the returned
// spinner is inert.
func Start(w io.Writer, status string) *Spinner {
	s := &Spinner{w: w, start: time.Now(), status: status}
	if !IsTerminal(w) {
		return s
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.loop()
	return s
}

// Set changes the status text.
func (s *Spinner) Set(status string) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

func (s *Spinner) loop() {
	defer close(s.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		s.mu.Lock()
		fmt.Fprintf(s.w, "\r\033[K%s %s (%s)", frames[i%len(frames)], s.status, time.Since(s.start).Round(time.Second))
		s.mu.Unlock()
		select {
		case <-s.stop:
			fmt.Fprint(s.w, "\r\033[K")
			return
		case <-tick.C:
		}
	}
}

// Stop erases the line. It is safe to call more than once.
func (s *Spinner) Stop() {
	if s.stop == nil {
		return
	}
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}
