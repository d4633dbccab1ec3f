package python

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// Peers that misbehave: a runtime that lists what it should not, answers
// without end or too slowly, and a router that redirects, resets, answers
// HTML or never answers. Each case ends, on one line, with nothing written
// outside the destination.

// withLimits lowers the bounds of the runtime's answers for one test.
func withLimits(t *testing.T, answer int64, entries int) {
	oldAnswer, oldEntries := maxAnswer, maxEntries
	maxAnswer, maxEntries = answer, entries
	t.Cleanup(func() { maxAnswer, maxEntries = oldAnswer, oldEntries })
}

// cancelOnFirstRead cancels the caller's context once the client has read
// the first bytes of the answer to a request for path: the peer has
// answered, then stalls.
func cancelOnFirstRead(c *Client, path string, cancel context.CancelFunc) {
	next := c.http.Transport
	c.http.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(r)
		if err == nil && r.URL.Path == path {
			body := resp.Body
			resp.Body = closeHook{io.NopCloser(readFunc(func(b []byte) (int, error) {
				n, err := body.Read(b)
				if n > 0 {
					cancel()
				}
				return n, err
			})), func() { _ = body.Close() }}
		}
		return resp, err
	})
}

// stall sends part of an answer, then waits until the client gives up.
func stall(part string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, part)
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}
}

// manyEntries lists n distinct files, or as many as the client reads.
func manyEntries(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "[")
		for i := 0; i < n; i++ {
			if _, err := fmt.Fprintf(w, `{"name":"f%d","size":1,"type":"file","mod_time":0},`, i); err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, `{"name":"last"}]`)
	}
}

// longName lists one file whose name has mib MiB, or as much as the
// client reads.
func longName(mib int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `[{"name":"`)
		chunk := strings.Repeat("a", 1<<20)
		for i := 0; i < mib; i++ {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, `","type":"file"}]`)
	}
}

// TestDownloadTreeFromAHostileRuntime: whatever the runtime lists, a
// download writes nothing outside its destination, reads a bounded answer
// and ends with a one-line error.
func TestDownloadTreeFromAHostileRuntime(t *testing.T) {
	withLimits(t, 1<<20, 1000)
	for _, tc := range []struct {
		name    string
		list    http.HandlerFunc
		stalls  bool // the client gives up once the answer has begun
		wantErr string
	}{{
		name: "a name twice",
		list: func(w http.ResponseWriter, r *http.Request) {
			answer(w, 200, []map[string]any{{"name": "x", "type": "file"}, {"name": "x", "type": "file"}})
		},
		wantErr: `list d: the runtime listed "x" twice`,
	}, {
		name: "a directory and a file of one name",
		list: func(w http.ResponseWriter, r *http.Request) {
			answer(w, 200, []map[string]any{{"name": "x", "type": "directory"}, {"name": "x", "type": "file"}})
		},
		wantErr: `list d: the runtime listed "x" twice`,
	}, {
		name:    "too many entries",
		list:    manyEntries(100000),
		wantErr: "list d: the runtime listed more than 1000 entries",
	}, {
		name:    "a name larger than an answer may be",
		list:    longName(4),
		wantErr: "list d: the runtime's answer is larger than 1 MiB",
	}, {
		name:    "a trickle that breaks off",
		list:    func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `[{"name":"a","type":"fi`) },
		wantErr: "list d: decoding the runtime's answer: unexpected EOF",
	}, {
		name:    "a trickle that stalls",
		list:    stall(`[{"name":"a","type":"file"},`),
		stalls:  true,
		wantErr: "list d: decoding the runtime's answer: context canceled",
	}, {
		name: "an HTML page",
		list: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "<html>\n<body>Welcome</body>\n</html>\n")
		},
		wantErr: "list d: decoding the runtime's answer: invalid character '<' looking for beginning of value",
	}, {
		name:    "null",
		list:    func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "null") },
		wantErr: "list d: decoding the runtime's answer: not a JSON array",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rt, _ := newRuntime(t)
			rt.Write("d/x", "x")
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/list/d" {
					tc.list(w, r)
					return
				}
				rt.ServeHTTP(w, r)
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.stalls {
				cancelOnFirstRead(c, "/list/d", cancel)
			}
			parent := t.TempDir()
			dst := filepath.Join(parent, "dst")
			n, err := sandbox.DownloadTree(ctx, c, "d", dst, dst, nil)
			if n != 0 || err == nil || err.Error() != tc.wantErr {
				t.Errorf("got %d, %v\nwant 0, %s", n, err, tc.wantErr)
			}
			if got := tree(t, parent); len(got) != 0 {
				t.Errorf("wrote %q", got)
			}
		})
	}
}

// TestListOfAHugeAnswerStaysBounded: an entry larger than the bound of an
// answer (64 MiB) ends the listing with an error, after no more than a few
// times the bound of memory.
func TestListOfAHugeAnswerStaysBounded(t *testing.T) {
	c := serve(t, longName(80))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	entries, err := c.List(context.Background(), "d")
	runtime.ReadMemStats(&after)
	if want := "list d: the runtime's answer is larger than 64 MiB"; err == nil || err.Error() != want {
		t.Errorf("got %d entries, %v; want %s", len(entries), err, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 512<<20 {
		t.Errorf("allocated %d MiB", alloc>>20)
	}
}

// TestExecuteAnswerIsBounded: a command's answer beyond the bound is an
// error, not a client that buffers without end; the command is not sent
// again.
func TestExecuteAnswerIsBounded(t *testing.T) {
	withLimits(t, 1<<20, 1000)
	var calls atomic.Int32
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.WriteString(w, `{"exit_code":0,"stdout":"`)
		chunk := strings.Repeat("y\\n", 1<<14)
		for i := 0; i < 64; i++ { // 3 MiB
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, `"}`)
	})
	res, err := c.Execute(context.Background(), sandbox.Command{Argv: []string{"yes"}})
	if want := "execute: the runtime's answer is larger than 1 MiB"; err == nil || err.Error() != want || res != nil {
		t.Errorf("got %v, %v; want %s", res, err, want)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("execute sent %d times", n)
	}
}

// TestDownloadThatStallsLeavesNothing: a file whose body stops coming ends
// when the caller gives up, and leaves no file behind.
func TestDownloadThatStallsLeavesNothing(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		stall("only 10 by")(w, r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelOnFirstRead(c, "/download/f", cancel)
	dir := t.TempDir()
	err := sandbox.DownloadFile(ctx, c, "f", filepath.Join(dir, "f"), nil)
	if want := "downloading f: context canceled"; err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Errorf("left %q", got)
	}
}

// TestRouterThatNeverAnswers: a GET whose answer does not come within
// HeaderTimeout ends with an error that says so, and is not sent again.
func TestRouterThatNeverAnswers(t *testing.T) {
	var calls atomic.Int32
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-r.Context().Done()
	})
	if c.HeaderTimeout != 30*time.Second {
		t.Errorf("default HeaderTimeout %v, want 30s", c.HeaderTimeout)
	}
	c.HeaderTimeout = 20 * time.Millisecond
	// Only a safety net: without HeaderTimeout, the test fails here rather than hang.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		op   string
		call func() error
	}{
		{"list d", func() error { _, err := c.List(ctx, "d"); return err }},
		{"download d/f", func() error { _, _, err := c.Download(ctx, "d/f"); return err }},
		{"exists d", func() error { _, err := c.Exists(ctx, "d"); return err }},
	} {
		calls.Store(0)
		err := tc.call()
		var na *NoAnswerError
		if want := tc.op + ": the sandbox router did not answer within 20ms"; !errors.As(err, &na) || err.Error() != want {
			t.Errorf("error %v\nwant  %s", err, want)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%s: %d requests", tc.op, n)
		}
	}
}

// TestHeaderTimeoutLeavesTheBodyAlone: once the headers are in, a body may
// take longer than HeaderTimeout.
func TestHeaderTimeoutLeavesTheBodyAlone(t *testing.T) {
	release := make(chan struct{})
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello ")
		_ = http.NewResponseController(w).Flush()
		<-release
		_, _ = io.WriteString(w, "world")
	})
	c.HeaderTimeout = 5 * time.Millisecond
	body, _, err := c.Download(context.Background(), "f")
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer body.Close()
	first := make([]byte, 6)
	_, err = io.ReadFull(body, first)
	<-time.After(10 * c.HeaderTimeout) // well past the timeout, not waiting for anything
	close(release)
	rest, err2 := io.ReadAll(body)
	if err != nil || err2 != nil || string(first)+string(rest) != "hello world" {
		t.Errorf("got %q %q, %v, %v", first, rest, err, err2)
	}
}

// TestExecuteHasNoHeaderTimeout: a command may run longer than
// HeaderTimeout; only the caller's context bounds it.
func TestExecuteHasNoHeaderTimeout(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		<-time.After(50 * time.Millisecond) // the command runs
		answer(w, 200, map[string]any{"stdout": "done\n", "stderr": "", "exit_code": 0})
	})
	c.HeaderTimeout = time.Millisecond
	res, err := c.Execute(context.Background(), sandbox.Command{Argv: []string{"sleep", "0.05"}})
	if err != nil || res.Stdout != "done\n" {
		t.Errorf("got %+v, %v", res, err)
	}
}

// reset closes the connection with a TCP reset, before any answer.
func reset(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	if err := conn.(*net.TCPConn).SetLinger(0); err != nil {
		t.Error(err)
	}
	_ = conn.Close()
}

// TestRouterThatResets: a reset is a connection error that GETs retry,
// and that a command, which may have run, does not.
func TestRouterThatResets(t *testing.T) {
	var calls atomic.Int32
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		reset(t, w)
	})
	_, err := c.List(context.Background(), "d")
	var ce *ConnError
	if !errors.As(err, &ce) || !errors.Is(err, syscall.ECONNRESET) || !strings.HasPrefix(err.Error(), "list d: cannot reach the sandbox router: ") ||
		strings.ContainsAny(err.Error(), "\n\r") {
		t.Errorf("list: %v", err)
	}
	if n := calls.Load(); n != 4 {
		t.Errorf("list: %d requests, want 4", n)
	}
	calls.Store(0)
	_, err = c.Execute(context.Background(), sandbox.Command{Argv: []string{"true"}})
	var se *SentError
	if !errors.As(err, &se) || !errors.Is(err, syscall.ECONNRESET) || !strings.HasSuffix(err.Error(), ": the command may have run; it was not retried") ||
		strings.ContainsAny(err.Error(), "\n\r") {
		t.Errorf("execute: %v", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("execute: %d requests, want 1", n)
	}
}

// TestHostileErrorsAreOneLine: what a peer puts in an error's body or a
// redirect's Location reaches the user as one line, without control
// characters, and bounded.
func TestHostileErrorsAreOneLine(t *testing.T) {
	page := "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n" + strings.Repeat("<p>upstream unavailable</p>\n", 40000) + "</body></html>\n"
	for _, tc := range []struct {
		name     string
		status   int
		location string
		body     string
		want     string
	}{
		{"a large HTML page", 502, "", page,
			"list d: HTTP 502: " + strings.Join(strings.Fields(page), " ")[:200] + "..."},
		{"a message on many lines", 500, "", `{"message":"List files failed:\nTraceback (most recent call last):\r\n  File \"main.py\""}`,
			`list d: HTTP 500: List files failed: Traceback (most recent call last): File "main.py"`},
		{"terminal escapes", 500, "", `{"detail":"\u001b[2J\u001b]0;owned\u0007gone"}`,
			"list d: HTTP 500: \ufffd[2J\ufffd]0;owned\ufffdgone"},
		{"a redirect to a long address", 302, "https://elsewhere.example/" + strings.Repeat("x", 300), "",
			"list d: HTTP 302: redirected to https://elsewhere.example/" + strings.Repeat("x", 200-len("https://elsewhere.example/")) + "... (redirects are not followed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.location != "" {
					w.Header().Set("Location", tc.location)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			c.Retries = 0
			_, err := c.List(context.Background(), "d")
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v\nwant  %s", err, tc.want)
			}
		})
	}
}

// TestRedirectsToAnotherHostAreNotFollowed: neither a GET nor a command
// goes where a redirect points, whatever its status.
func TestRedirectsToAnotherHostAreNotFollowed(t *testing.T) {
	elsewhere := serve(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed: %s %s", r.Method, r.URL)
	})
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			to := elsewhere.base.String() + "/steal"
			c := serve(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, status) })
			_, err := c.List(context.Background(), "d")
			if want := fmt.Sprintf("list d: HTTP %d: redirected to %s (redirects are not followed)", status, to); err == nil || err.Error() != want {
				t.Errorf("list: %v\nwant %s", err, want)
			}
			_, err = c.Execute(context.Background(), sandbox.Command{Argv: []string{"true"}})
			if want := fmt.Sprintf("execute: HTTP %d: redirected to %s (redirects are not followed)", status, to); err == nil || err.Error() != want {
				t.Errorf("execute: %v\nwant %s", err, want)
			}
		})
	}
}
