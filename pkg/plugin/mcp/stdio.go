package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// StdioTransport is the stdio transport (JSON-RPC messages, one a line,
// read from in and written to out) with a bounded end: the SDK cancels
// the calls under way once it reads the end of input, so the end is held
// back until every call read has been answered, but at most grace. A
// client that writes its requests and closes its end gets its answers; a
// call that would run on without end is cancelled after grace, and the
// session ends (and its sandboxes are deleted).
func StdioTransport(in io.Reader, out io.Writer, grace time.Duration) sdk.Transport {
	c := newCalls()
	return &sdk.IOTransport{
		Reader: io.NopCloser(&drainReader{r: in, calls: c, grace: grace}),
		Writer: answerWriter{w: out, calls: c},
	}
}

// calls are the calls (requests with an id) read from the client and not
// answered yet, as seen in the lines that pass in and out.
type calls struct {
	mu   sync.Mutex
	open map[string]bool
	// none is closed while no call is open.
	none    chan struct{}
	in, out []byte // partial lines
}

func newCalls() *calls {
	none := make(chan struct{})
	close(none)
	return &calls{open: map[string]bool{}, none: none}
}

// rpcMessage is what calls reads of a JSON-RPC message.
type rpcMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
}

// key is a message's id, the same however it is spelled ("", for none).
func (m rpcMessage) key() string {
	var id any
	if len(m.ID) == 0 || json.Unmarshal(m.ID, &id) != nil || id == nil {
		return ""
	}
	return fmt.Sprintf("%T:%v", id, id)
}

// lines takes p into the partial line *buf and returns the messages of
// the lines it completes (all of them, with eof); a batch is a line too.
func lines(buf *[]byte, p []byte, eof bool) []rpcMessage {
	*buf = append(*buf, p...)
	var msgs []rpcMessage
	for {
		i := bytes.IndexByte(*buf, '\n')
		if i < 0 && (!eof || len(*buf) == 0) {
			break
		}
		line := *buf
		if i >= 0 {
			line, *buf = (*buf)[:i], (*buf)[i+1:]
		} else {
			*buf = nil
		}
		line = bytes.TrimSpace(line)
		var batch []rpcMessage
		var one rpcMessage
		switch {
		case len(line) > 0 && line[0] == '[' && json.Unmarshal(line, &batch) == nil:
			msgs = append(msgs, batch...)
		case json.Unmarshal(line, &one) == nil:
			msgs = append(msgs, one)
		}
	}
	if len(*buf) == 0 {
		*buf = nil // do not hold on to a large line's array
	}
	return msgs
}

// read notes the calls in bytes read from the client.
func (c *calls) read(p []byte, eof bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range lines(&c.in, p, eof) {
		if k := m.key(); k != "" && m.Method != "" {
			if len(c.open) == 0 {
				c.none = make(chan struct{})
			}
			c.open[k] = true
		}
	}
}

// wrote notes the answers in bytes written to the client.
func (c *calls) wrote(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range lines(&c.out, p, false) {
		k := m.key()
		if k == "" || m.Method != "" || !c.open[k] {
			continue
		}
		delete(c.open, k)
		if len(c.open) == 0 {
			close(c.none)
		}
	}
}

// drained is closed once no call is open.
func (c *calls) drained() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.none
}

// drainReader holds back the end of its input until the calls read are
// answered, or grace has passed.
type drainReader struct {
	r     io.Reader
	calls *calls
	grace time.Duration
	// eof: the input ended; ended: the end was let through.
	eof, ended bool
}

func (d *drainReader) Read(p []byte) (int, error) {
	if d.eof {
		if !d.ended {
			d.ended = true
			d.wait()
		}
		return 0, io.EOF
	}
	n, err := d.r.Read(p)
	eof := errors.Is(err, io.EOF)
	d.calls.read(p[:n], eof)
	if !eof {
		return n, err
	}
	d.eof = true
	if n > 0 {
		return n, nil // the server sees these bytes before the end
	}
	return d.Read(p)
}

// wait waits for the open calls to be answered, at most grace.
func (d *drainReader) wait() {
	t := time.NewTimer(d.grace)
	defer t.Stop()
	select {
	case <-d.calls.drained():
	case <-t.C:
	}
}

// answerWriter writes to the client and notes the answers.
type answerWriter struct {
	w     io.Writer
	calls *calls
}

func (a answerWriter) Write(p []byte) (int, error) {
	n, err := a.w.Write(p)
	a.calls.wrote(p) // written or not, the call is over
	return n, err
}

func (answerWriter) Close() error { return nil }
