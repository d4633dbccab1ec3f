package progress

import (
	"bytes"
	"strings"
	"testing"
)

// TestInertOffATerminal: nothing is drawn, and readers are passed through,
// when the writer is not a terminal.
func TestInertOffATerminal(t *testing.T) {
	var buf bytes.Buffer
	s := Start(&buf, "waiting")
	s.Set("still waiting")
	r := strings.NewReader("data")
	if got := s.CountingReader("f", r); got != r {
		t.Error("the reader was wrapped off a terminal")
	}
	s.Stop()
	s.Stop()
	if buf.Len() != 0 {
		t.Errorf("drew %q off a terminal", buf.String())
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 256 << 20: "256.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
