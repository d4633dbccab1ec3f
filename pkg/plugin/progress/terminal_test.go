package progress

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// TestDrawsOnATerminal: on a terminal the spinner draws its status, the
// counting reader reports bytes, and Stop erases the line.
func TestDrawsOnATerminal(t *testing.T) {
	master, tty := openPTY(t)
	defer master.Close()
	drawn := make(chan string)
	go func() {
		var all bytes.Buffer
		_, _ = io.Copy(&all, master) // ends when the tty side is closed
		drawn <- all.String()
	}()
	if !IsTerminal(tty) {
		t.Fatal("a pty is not a terminal")
	}
	s := Start(tty, "copying")
	s.Stop()
	s.Stop()

	s2 := Start(tty, "waiting")
	r := s2.CountingReader("big.bin", strings.NewReader(strings.Repeat("x", 2048)))
	if n, err := io.Copy(io.Discard, r); err != nil || n != 2048 {
		t.Fatalf("read %d, %v", n, err)
	}
	s2.mu.Lock()
	status := s2.status
	s2.mu.Unlock()
	// A tree: the files and bytes so far, and the file being copied.
	for _, name := range []string{"d/a", "d/b"} {
		if _, err := io.Copy(io.Discard, s2.CountingReader(name, strings.NewReader(strings.Repeat("y", 1024)))); err != nil {
			t.Fatal(err)
		}
	}
	s2.mu.Lock()
	treeStatus := s2.status
	s2.mu.Unlock()
	if treeStatus != "3 files, 4.0 KiB: d/b" {
		t.Errorf("status after three files %q", treeStatus)
	}
	s2.Stop()
	tty.Close()
	if status != "1 file, 2.0 KiB: big.bin" {
		t.Errorf("status %q", status)
	}
	out := <-drawn
	if !strings.HasPrefix(out, "\r\033[K⠋ copying (0s)\r\033[K\r\033[K⠋ ") || !strings.HasSuffix(out, "\r\033[K") {
		t.Errorf("terminal output %q", out)
	}
}
