package python

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// TestExecuteThatBreaksAfterSendingSaysItMayHaveRun: a connection that
// breaks after the command was sent is not "cannot reach the router": the
// command may have run, and it is not sent again.
func TestExecuteThatBreaksAfterSendingSaysItMayHaveRun(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // the command arrived; the answer never leaves
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	c := NewClient(u, http.DefaultTransport.(*http.Transport).Clone(), "", Target{SandboxID: "sb", Namespace: "ns", Port: 8888})
	_, err := c.Execute(context.Background(), sandbox.Command{Argv: []string{"true"}})
	var sent *SentError
	var conn *ConnError
	if !errors.As(err, &sent) || errors.As(err, &conn) || calls.Load() != 1 || sandbox.NotSent(err) {
		t.Fatalf("got %T %v after %d calls (NotSent %v)", err, err, calls.Load(), sandbox.NotSent(err))
	}
	if want := "execute: the connection to the sandbox router failed after the request was sent: "; !strings.HasPrefix(err.Error(), want) ||
		!strings.HasSuffix(err.Error(), ": the command may have run; it was not retried") {
		t.Errorf("message %q", err)
	}
	if err := c.Upload(context.Background(), "f", strings.NewReader("x")); !errors.As(err, &sent) ||
		!strings.HasSuffix(err.Error(), ": the request may have reached the sandbox; it was not retried") {
		t.Errorf("upload: %T %v", err, err)
	}
}

// TestExecuteThatCannotConnectSaysSo: nothing was sent, so it is a
// connection error, not a "may have run".
func TestExecuteThatCannotConnectSaysSo(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := NewClient(&url.URL{Scheme: "http", Host: addr}, http.DefaultTransport.(*http.Transport).Clone(), "", Target{SandboxID: "sb"})
	_, err = c.Execute(context.Background(), sandbox.Command{Argv: []string{"true"}})
	var sent *SentError
	var conn *ConnError
	if !errors.As(err, &conn) || errors.As(err, &sent) || !sandbox.NotSent(err) {
		t.Fatalf("got %T %v (NotSent %v)", err, err, sandbox.NotSent(err))
	}
}

// TestAGetThatWasSentIsNotUnsent: a GET whose connection breaks after it
// was sent is a *ConnError (GETs are sent again) that does not claim it
// never left.
func TestAGetThatWasSentIsNotUnsent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	c := NewClient(u, http.DefaultTransport.(*http.Transport).Clone(), "", Target{SandboxID: "sb"})
	c.Retries = 0
	_, err := c.Exists(context.Background(), "f")
	var conn *ConnError
	if !errors.As(err, &conn) || sandbox.NotSent(err) {
		t.Fatalf("got %T %v (NotSent %v), want a *ConnError that was sent", err, err, sandbox.NotSent(err))
	}
}

// TestExecuteCancelledAfterSendingSaysItMayHaveRun: a command whose context
// ends (another sandbox's failure, an interrupt) after it was sent may have
// run too: it is not "cannot reach the router".
func TestExecuteCancelledAfterSendingSaysItMayHaveRun(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
	}))
	defer srv.Close()
	defer close(release)
	u, _ := url.Parse(srv.URL)
	c := NewClient(u, http.DefaultTransport.(*http.Transport).Clone(), "", Target{SandboxID: "sb", Namespace: "ns", Port: 8888})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.Execute(ctx, sandbox.Command{Argv: []string{"true"}})
	var sent *SentError
	if !errors.As(err, &sent) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %T %v", err, err)
	}
}
