package mcp

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestSessionEndDeletesItsClaims: when a session ends, the claims it
// created are deleted, and not those of another session.
func TestSessionEndDeletesItsClaims(t *testing.T) {
	c := newCluster(t, pool("default", "python", "python-tmpl"), foreignClaim("foreign"))
	srv := newServer(t, c, Options{AllowNamespace: true})
	a, b := connect(t, srv.MCP()), connect(t, srv.MCP())
	a.create(map[string]any{"name": "a1"})
	a.create(map[string]any{"name": "a2"})
	a.create(map[string]any{"name": "a3", "namespace": "other"})
	b.create(map[string]any{"name": "b1"})

	a.close()
	c.waitDeleted("a1", "a2", "a3")
	c.noDeletes()
	for _, name := range []string{"a1", "a2"} {
		if c.claim("default", name) != nil {
			t.Errorf("%s is still there", name)
		}
	}
	if c.claim("other", "a3") != nil {
		t.Error("a3 is still there")
	}
	if c.claim("default", "b1") == nil || c.claim("default", "foreign") == nil {
		t.Error("claims of others were deleted")
	}
	// b goes on working.
	if got := names(callOK[ListOut](b, "sandbox_list", map[string]any{"mine": true}).Sandboxes); len(got) != 1 || got[0] != "b1" {
		t.Errorf("b's claims %q", got)
	}
	b.close()
	c.waitDeleted("b1")
	if err := srv.Cleanup(); err != nil {
		t.Fatal(err)
	}
	c.noDeletes()
	if c.claim("default", "foreign") == nil {
		t.Error("the foreign claim was deleted")
	}
}

// TestSessionEndNewProtocol: a client that speaks the SDK's newest
// protocol (server/discover, no initialize handshake) must have its claims
// deleted when its session ends, as a legacy client does.
func TestSessionEndNewProtocol(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{})
	m := srv.MCP()
	var mu sync.Mutex
	var methods []string
	m.AddReceivingMiddleware(func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			mu.Lock()
			methods = append(methods, method)
			mu.Unlock()
			return next(ctx, method, req)
		}
	})
	cl := connectVersion(t, m, "")
	newest := sdk.SupportedProtocolVersions()[0]
	if v := cl.cs.InitializeResult().ProtocolVersion; v != newest || v == legacyProtocol {
		t.Fatalf("negotiated protocol %s, want the SDK's newest, %s (not the legacy %s)", v, newest, legacyProtocol)
	}
	mu.Lock()
	handshake := slices.Clone(methods)
	mu.Unlock()
	if slices.Contains(handshake, "initialize") || !slices.Contains(handshake, "server/discover") {
		t.Fatalf("the server received %q: want server/discover and no initialize handshake", handshake)
	}
	cl.create(map[string]any{"name": "new"})
	cl.close()
	select {
	case name := <-c.deletes:
		if name != "new" {
			t.Errorf("deleted %q", name)
		}
	case <-time.After(3 * time.Second):
		t.Errorf("the claim of a session on protocol %s was not deleted when the session ended", cl.cs.InitializeResult().ProtocolVersion)
	}
	// Cleanup, at the latest, deletes it (once).
	if err := srv.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if c.claim("default", "new") != nil {
		t.Error("the claim is still there after Cleanup")
	}
}

// TestSessionEndKeep: with Keep, nothing is deleted, at a session's end or
// at Cleanup.
func TestSessionEndKeep(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{Keep: true})
	a, b := connect(t, srv.MCP()), connect(t, srv.MCP())
	a.create(map[string]any{"name": "a1"})
	b.create(map[string]any{"name": "b1"})
	a.close()
	if err := srv.Cleanup(); err != nil {
		t.Fatal(err)
	}
	b.close()
	if err := srv.Cleanup(); err != nil {
		t.Fatal(err)
	}
	c.noDeletes()
	if c.claim("default", "a1") == nil || c.claim("default", "b1") == nil {
		t.Error("kept claims were deleted")
	}
	if n := len(c.actions("delete")); n != 0 {
		t.Errorf("%d deletes", n)
	}
}

// TestCleanup: Cleanup deletes what every live session created, in every
// namespace, and what was deleted is not deleted again when the sessions
// end.
func TestCleanup(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{AllowNamespace: true})
	a, b := connect(t, srv.MCP()), connect(t, srv.MCP())
	a.create(map[string]any{"name": "a1"})
	a.create(map[string]any{"name": "a2", "namespace": "other"})
	b.create(map[string]any{"name": "b1"})
	if err := srv.Cleanup(); err != nil {
		t.Fatal(err)
	}
	c.waitDeleted("a1", "a2", "b1")
	if c.claim("default", "a1") != nil || c.claim("other", "a2") != nil || c.claim("default", "b1") != nil {
		t.Error("claims left")
	}
	a.close()
	b.close()
	if err := srv.Cleanup(); err != nil {
		t.Fatal(err)
	}
	c.noDeletes()
}

// TestCleanupWaitsForSessionCleanup: Cleanup returns only once the cleanup
// of a session that ended before it is over.
func TestCleanupWaitsForSessionCleanup(t *testing.T) {
	c := newCluster(t)
	release := c.holdDeletes()
	defer release()
	srv := newServer(t, c, Options{})
	a := connect(t, srv.MCP())
	a.create(map[string]any{"name": "a1"})
	a.close()
	select {
	case name := <-c.entered: // the session's cleanup is deleting a1
		if name != "a1" {
			t.Errorf("deleting %q", name)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the session's end deleted nothing")
	}
	done := make(chan error, 1)
	go func() { done <- srv.Cleanup() }()
	select {
	case err := <-done:
		t.Fatalf("Cleanup returned (%v) while a session's cleanup was under way", err)
	case <-time.After(200 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.waitDeleted("a1")
	if c.claim("default", "a1") != nil {
		t.Error("a1 is still there after Cleanup")
	}
	c.noDeletes()
}

// TestCleanupError: a deletion that fails is Cleanup's error, naming the
// claims and the namespace.
func TestCleanupError(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{})
	a := connect(t, srv.MCP())
	a.create(map[string]any{"name": "a1"})
	c.failDeletes(errors.New("etcd is down"))
	err := srv.Cleanup()
	if err == nil || !strings.Contains(err.Error(), "deleting sandboxclaims [a1] in namespace default") || !strings.Contains(err.Error(), "etcd is down") {
		t.Errorf("error %v", err)
	}
	c.waitDeleted("a1")
}

// TestSessionEndDuringCreate: a client that goes away (its end of the
// stream closed) while a sandbox is being created leaves nothing behind.
func TestSessionEndDuringCreate(t *testing.T) {
	c := newCluster(t)
	c.setNotReady()
	srv := newServer(t, c, Options{ReadyTimeout: time.Minute})
	// The client and the server over two pipes, so that the client's
	// stream can end abruptly (the Go client's Close waits for its calls).
	c2sR, c2sW := io.Pipe()
	s2cR, s2cW := io.Pipe()
	ctx := context.Background()
	ss, err := srv.MCP().Connect(ctx, &sdk.IOTransport{Reader: c2sR, Writer: s2cW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "v0"}, nil).Connect(ctx, &sdk.IOTransport{Reader: s2cR, Writer: c2sW}, &sdk.ClientSessionOptions{ProtocolVersion: legacyProtocol})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "sandbox_create", Arguments: map[string]any{"pool": "python", "name": "slow"}})
		if err == nil && !res.IsError {
			err = errors.New("the call succeeded")
		}
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for len(c.actions("watch")) == 0 { // created, and waiting for Ready
		if time.Now().After(deadline) {
			t.Fatal("the claim was not created")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = c2sW.Close() // the client is gone
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the call went on after the client left")
	}
	_ = ss.Wait()
	_ = cs.Close()
	c.waitDeleted("slow")
	if err := srv.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if c.claim("default", "slow") != nil {
		t.Error("the claim is still there")
	}
}

// TestSessionEndAfterCleanup: a claim a session creates after Cleanup ran
// (a call that was still in flight when a server shut down) is deleted when
// the session ends, or by the next Cleanup.
func TestSessionEndAfterCleanup(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{})
	a := connect(t, srv.MCP())
	a.create(map[string]any{"name": "a1"})
	if err := srv.Cleanup(); err != nil {
		t.Fatal(err)
	}
	c.waitDeleted("a1")
	a.create(map[string]any{"name": "a2"})
	a.close()
	if err := srv.Cleanup(); err != nil {
		t.Fatal(err)
	}
	select {
	case name := <-c.deletes:
		if name != "a2" {
			t.Errorf("deleted %q", name)
		}
	case <-time.After(3 * time.Second):
		t.Error("a2, created after Cleanup, was deleted neither when its session ended nor by a second Cleanup")
	}
}
