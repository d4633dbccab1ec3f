package cmd

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// signalWriter is an output that closes seen when a write contains want.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if bytes.Contains(p, []byte(w.want)) {
		w.once.Do(func() { close(w.seen) })
	}
	return w.buf.Write(p)
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestExecSelectorJSONLinesStream: exec -l -o json writes each sandbox's
// line as its result arrives. Sandbox b answers only once a's line has
// been written, so an implementation that waits for every sandbox before
// printing fails here (after a bounded wait) instead of passing.
func TestExecSelectorJSONLinesStream(t *testing.T) {
	f, r, router := dataPlane(t)
	out := &signalWriter{want: `"claim":"a"`, seen: make(chan struct{})}
	r.Exec = func(id string, argv []string) (string, string, int) {
		if id != "sb-b" {
			return id + "\n", "", 0
		}
		select {
		case <-out.seen:
			return id + "\n", "", 0
		case <-time.After(10 * time.Second):
			return "", "a's line was not written while b ran\n", 1
		}
	}
	var errOut bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: &errOut}
	cmd := NewCmdExec(f, streams)
	cmd.SetArgs(append(router, "-l", "team=x", "-o", "json", "--", "hostname"))
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("%v; stdout %q", err, out.String())
	}
	want := `{"claim":"a","stdout":"sb-a\n","stderr":"","exitCode":0}` + "\n" +
		`{"claim":"b","stdout":"sb-b\n","stderr":"","exitCode":0}` + "\n"
	if out.String() != want {
		t.Errorf("stdout %q\nwant %q", out.String(), want)
	}
}
