package mcp

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// openCalls lists the calls c counts as open.
func openCalls(c *calls) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var keys []string
	for k := range c.open {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestCallsTracking: a call is open from the line that asks it to the line
// that answers it, whatever the reads and writes split, in batches too;
// notifications, the client's answers and the server's own requests are
// not calls of the client.
func TestCallsTracking(t *testing.T) {
	c := newCalls()
	if !isClosed(c.drained()) {
		t.Fatal("calls open at the start")
	}
	c.read([]byte(`{"jsonrpc":"2.0","id":1,"method":"initialize"}`+"\n"+
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n"+`{"jsonrpc":"2.0","id":"a","meth`), false)
	if got := openCalls(c); !reflect.DeepEqual(got, []string{"float64:1"}) {
		t.Errorf("open %q", got)
	}
	c.read([]byte(`od":"tools/call"}`+"\r\n"+
		`[{"jsonrpc":"2.0","id":3,"method":"ping"},{"jsonrpc":"2.0","id":9,"result":{}}]`+"\n"+
		"not json\n"), false)
	if got := openCalls(c); !reflect.DeepEqual(got, []string{"float64:1", "float64:3", "string:a"}) {
		t.Errorf("open %q", got)
	}
	c.wrote([]byte(`{"jsonrpc":"2.0","id":7,"method":"roots/list"}` + "\n")) // the server asks
	c.wrote([]byte(`{"jsonrpc":"2.0","id":1.0,"result":{}}` + "\n"))
	c.wrote([]byte(`[{"jsonrpc":"2.0","id":3,"result":{}},{"jsonrpc":"2.0","id":"a","res`))
	if got := openCalls(c); !reflect.DeepEqual(got, []string{"float64:3", "string:a"}) || isClosed(c.drained()) {
		t.Errorf("open %q, drained %v", got, isClosed(c.drained()))
	}
	done := c.drained()
	c.wrote([]byte(`ult":{}}]` + "\n"))
	if got := openCalls(c); len(got) != 0 || !isClosed(done) {
		t.Errorf("open %q, drained %v", got, isClosed(done))
	}
	// A last line without its newline, at the end of input.
	c.read([]byte(`{"jsonrpc":"2.0","id":4,"method":"tools/list"}`), true)
	if got := openCalls(c); !reflect.DeepEqual(got, []string{"float64:4"}) || isClosed(c.drained()) {
		t.Errorf("open %q", got)
	}
}

// eofReader reads r and closes ended when r reaches its end.
type eofReader struct {
	r     io.Reader
	ended chan struct{}
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, io.EOF) {
		select {
		case <-e.ended:
		default:
			close(e.ended)
		}
	}
	return n, err
}

// stdio runs srv on StdioTransport over pipes; answers yields the answers
// by id, done the end of the run.
type stdio struct {
	t       *testing.T
	in      *io.PipeWriter
	ended   chan struct{}
	answers chan map[string]json.RawMessage
	done    chan error
}

func startStdio(t *testing.T, srv *Server, grace time.Duration) *stdio {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &stdio{t: t, in: inW, ended: make(chan struct{}), answers: make(chan map[string]json.RawMessage, 100), done: make(chan error, 1)}
	go func() {
		s.done <- srv.MCP().Run(context.Background(), StdioTransport(&eofReader{r: inR, ended: s.ended}, outW, grace))
		_ = outW.Close()
	}()
	go func() {
		sc := bufio.NewScanner(outR)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var msg map[string]json.RawMessage
			if json.Unmarshal(sc.Bytes(), &msg) == nil && msg["id"] != nil && msg["method"] == nil {
				s.answers <- msg
			}
		}
		close(s.answers)
	}()
	t.Cleanup(func() {
		_ = inW.Close()
		_ = inR.Close()
		<-s.done
		_ = srv.Cleanup()
	})
	return s
}

func (s *stdio) send(lines ...string) {
	s.t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(s.in, l+"\n"); err != nil {
			s.t.Fatal(err)
		}
	}
}

// answer waits for the answer to id.
func (s *stdio) answer(id string) map[string]json.RawMessage {
	s.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case msg, ok := <-s.answers:
			if !ok {
				s.t.Fatalf("no answer %s: the output ended", id)
			}
			if string(msg["id"]) == id {
				return msg
			}
		case <-timeout:
			s.t.Fatalf("no answer %s", id)
		}
	}
}

// waitEnd waits for the run to end.
func (s *stdio) waitEnd() {
	s.t.Helper()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		if err != nil {
			s.t.Errorf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		s.t.Fatal("the server did not end at the end of its input")
	}
}

const (
	initLine        = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"0"}}}`
	initializedLine = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
)

func toolCall(id int, tool string, args any) string {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": map[string]any{"name": tool, "arguments": args}})
	return string(b)
}

// TestStdioEndWaitsForAnswers: a client that writes its calls and closes
// its end at once gets every answer: the end of input is held back until
// the command that was running when it came has finished.
func TestStdioEndWaitsForAnswers(t *testing.T) {
	c := newCluster(t, pool("default", "python", "python-tmpl"), foreignClaim("box"))
	s := startStdio(t, newServer(t, c, Options{}), time.Minute)
	c.router.Exec = func(id string, argv []string) (string, string, int) {
		<-s.ended
		// An implementation that let the end through has now cancelled
		// this call; give it the time to end the run.
		select {
		case err := <-s.done:
			s.done <- err
			t.Error("the run ended while a call was under way")
		case <-time.After(200 * time.Millisecond):
		}
		return "done\n", "", 0
	}
	s.send(initLine, initializedLine, toolCall(2, "sandbox_exec", map[string]any{"name": "box", "command": []string{"slow"}}))
	_ = s.in.Close()
	if msg := s.answer("2"); !strings.Contains(string(msg["result"]), `"stdout":"done\n"`) || strings.Contains(string(msg["result"]), `"isError":true`) {
		t.Errorf("answer %s", msg["result"])
	}
	s.waitEnd()
}

// TestStdioEndBounded: a call that would never end does not keep the
// server (and its sandboxes) alive after the end of input: after the grace
// period it is cancelled, the run ends and the session's claims are
// deleted.
func TestStdioEndBounded(t *testing.T) {
	c := newCluster(t)
	s := startStdio(t, newServer(t, c, Options{}), 50*time.Millisecond)
	started, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	c.router.Exec = func(id string, argv []string) (string, string, int) {
		close(started)
		<-release
		return "", "", 0
	}
	s.send(initLine, initializedLine, toolCall(2, "sandbox_create", map[string]any{"pool": "python"}))
	var created struct {
		StructuredContent SandboxOut `json:"structuredContent"`
	}
	if err := json.Unmarshal(s.answer("2")["result"], &created); err != nil || created.StructuredContent.Name == "" {
		t.Fatalf("create: %+v, %v", created, err)
	}
	s.send(toolCall(3, "sandbox_exec", map[string]any{"name": created.StructuredContent.Name, "command": []string{"sleep", "infinity"}}))
	<-started
	_ = s.in.Close()
	s.waitEnd()
	c.waitDeleted(created.StructuredContent.Name)
}
