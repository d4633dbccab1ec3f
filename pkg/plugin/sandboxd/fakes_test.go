package sandboxd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	processv1 "sigs.k8s.io/agent-sandbox/packages/sandboxd/spec/process/v1"
)

// The upstream servers (sigs.k8s.io/agent-sandbox/packages/sandboxd/pkg/server)
// need github.com/creack/pty, which this module does not require: the fakes
// below follow their code instead (process.go and filesystem.go of v0.5.6).

// guard bounds every wait of a fake, so that a client that never sends
// what a fake waits for fails the test instead of hanging it.
const guard = 5 * time.Second

// fakeProcesses is a process.v1.ProcessService that behaves like
// sandboxd's: Start checks the command, registers the process, sends the
// init event, runs the command (run), and forgets the process when the
// stream ends; WriteStdin, SendSignal and ResizeTTY answer NotFound for a
// process it does not know, WriteStdin after end of input fails,
// ResizeTTY without a terminal is FailedPrecondition, and an unspecified
// signal is InvalidArgument. What the client sends to a process is
// queued as events for run to read: "stdin DATA", "eof", "signal NAME"
// (SIGNAL_SIGINT...), "resize COLSxROWS" ("resize COLSxROWS refused"
// without a terminal).
type fakeProcesses struct {
	processv1.UnimplementedProcessServiceServer
	t *testing.T
	// run is the command; it sends its output with the process's methods
	// and returns p.exit(code), or an error that ends the stream. nil
	// exits 0.
	run func(p *fakeProc) error
	// refuse, when set, may fail Start before the process starts, as
	// sandboxd does for a command it cannot run.
	refuse func(req *processv1.StartRequest) error
	// noInit starts the stream with output instead of the init event.
	noInit bool

	quit chan struct{}
	mu   sync.Mutex
	next int32
	proc map[int32]*fakeProc
	log  []string
}

// fakeProc is one started command.
type fakeProc struct {
	f      *fakeProcesses
	id     int32
	req    *processv1.StartRequest
	stream processv1.ProcessService_StartServer
	events chan string
	// stdinClosed is set by end of input (under f.mu).
	stdinClosed bool
}

// calls returns every control call so far, in order, as "ID EVENT".
func (f *fakeProcesses) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *fakeProcesses) Start(req *processv1.StartRequest, stream processv1.ProcessService_StartServer) error {
	if len(req.GetConfig().GetCommand()) == 0 {
		return status.Error(codes.InvalidArgument, "command is required")
	}
	if f.refuse != nil {
		if err := f.refuse(req); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.next++
	p := &fakeProc{f: f, id: f.next, req: req, stream: stream, events: make(chan string, 1024)}
	f.proc[p.id] = p
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.proc, p.id)
		f.mu.Unlock()
	}()
	first := &processv1.StartResponse{Event: &processv1.StartResponse_Init{Init: &processv1.InitEvent{ProcessId: p.id}}}
	if f.noInit {
		first = &processv1.StartResponse{Event: &processv1.StartResponse_Stdout{Stdout: []byte("hello")}}
	}
	if err := stream.Send(first); err != nil {
		return status.Errorf(codes.Internal, "failed to send InitEvent: %v", err)
	}
	if f.run == nil {
		return p.exit(0)
	}
	return f.run(p)
}

// lookup logs a control call and finds its process.
func (f *fakeProcesses) lookup(id int32, event string) (*fakeProc, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fmt.Sprintf("%d %s", id, event))
	p, ok := f.proc[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "process %d not found", id)
	}
	return p, nil
}

func (f *fakeProcesses) WriteStdin(_ context.Context, req *processv1.WriteStdinRequest) (*processv1.WriteStdinResponse, error) {
	eof := req.GetEof() != nil
	event := "stdin " + string(req.GetInput())
	if eof {
		event = "eof"
	}
	p, err := f.lookup(req.GetProcessId(), event)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	closed := p.stdinClosed
	p.stdinClosed = p.stdinClosed || eof
	f.mu.Unlock()
	if closed {
		if eof {
			return nil, status.Errorf(codes.Internal, "failed to close stdin: %v", os.ErrClosed)
		}
		return nil, status.Errorf(codes.Internal, "failed to write stdin: %v", os.ErrClosed)
	}
	if eof || len(req.GetInput()) > 0 {
		p.events <- event
	}
	return &processv1.WriteStdinResponse{}, nil
}

func (f *fakeProcesses) SendSignal(_ context.Context, req *processv1.SendSignalRequest) (*processv1.SendSignalResponse, error) {
	p, err := f.lookup(req.GetProcessId(), "signal "+req.GetSignal().String())
	if err != nil {
		return nil, err
	}
	switch req.GetSignal() {
	case processv1.Signal_SIGNAL_SIGINT, processv1.Signal_SIGNAL_SIGTERM, processv1.Signal_SIGNAL_SIGKILL:
	default:
		return nil, status.Errorf(codes.InvalidArgument, "unsupported or unspecified signal: %v", req.GetSignal())
	}
	p.events <- "signal " + req.GetSignal().String()
	return &processv1.SendSignalResponse{}, nil
}

func (f *fakeProcesses) ResizeTTY(_ context.Context, req *processv1.ResizeTTYRequest) (*processv1.ResizeTTYResponse, error) {
	event := fmt.Sprintf("resize %dx%d", req.GetCols(), req.GetRows())
	p, err := f.lookup(req.GetProcessId(), event)
	if err != nil {
		return nil, err
	}
	if p.req.GetPty() == nil {
		p.events <- event + " refused"
		return nil, status.Errorf(codes.FailedPrecondition, "failed to resize TTY: process is completed or has no active PTY")
	}
	p.events <- event
	return &processv1.ResizeTTYResponse{}, nil
}

func (p *fakeProc) stdout(s string) {
	_ = p.stream.Send(&processv1.StartResponse{Event: &processv1.StartResponse_Stdout{Stdout: []byte(s)}})
}

func (p *fakeProc) stderr(s string) {
	_ = p.stream.Send(&processv1.StartResponse{Event: &processv1.StartResponse_Stderr{Stderr: []byte(s)}})
}

// exit ends the command with code (-1: a signal ended it).
func (p *fakeProc) exit(code int32) error {
	if err := p.stream.Send(&processv1.StartResponse{Event: &processv1.StartResponse_Exit{Exit: &processv1.ExitEvent{ExitCode: code}}}); err != nil {
		return status.Errorf(codes.Internal, "failed to send ExitEvent: %v", err)
	}
	return nil
}

// next returns the next event; false when the test ends or the guard
// expires (which fails the test).
func (p *fakeProc) next() (string, bool) {
	timer := time.NewTimer(guard)
	defer timer.Stop()
	select {
	case ev := <-p.events:
		return ev, true
	case <-p.f.quit:
		return "", false
	case <-timer.C:
		p.f.t.Errorf("process %d %q: no event within %s", p.id, p.req.GetConfig().GetCommand(), guard)
		return "", false
	}
}

// await skips events until want; false as for next.
func (p *fakeProc) await(want string) bool {
	for {
		ev, ok := p.next()
		if !ok || ev == want {
			return ok
		}
	}
}

// wait waits for ch to be closed or to send; false when the test ends.
func (p *fakeProc) wait(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-p.f.quit:
		return false
	}
}

// killedOrGone returns once the client sends SIGKILL or the stream ends
// (which makes sandboxd kill the command).
func (p *fakeProc) killedOrGone() {
	for {
		select {
		case ev := <-p.events:
			if ev == "signal SIGNAL_SIGKILL" {
				return
			}
		case <-p.stream.Context().Done():
			return
		case <-p.f.quit:
			return
		}
	}
}

// input reads standard input up to its end.
func (p *fakeProc) input() (string, bool) {
	var b strings.Builder
	for {
		ev, ok := p.next()
		switch {
		case !ok:
			return b.String(), false
		case ev == "eof":
			return b.String(), true
		case strings.HasPrefix(ev, "stdin "):
			b.WriteString(strings.TrimPrefix(ev, "stdin "))
		}
	}
}

// fakeFiles is sandboxd's REST file API over a local directory that
// stands for the sandbox's root, as filesystem.go serves it (without its
// symlink resolution): a directory's GET is a JSON listing, a file's GET
// its bytes as application/octet-stream (HEAD for both), PUT writes
// atomically with ?mode= and creates parents (204), DELETE removes with
// ?recursive= (204; 404; 409 for a directory that is not empty), and
// errors are {"code","message"}. ready false makes /v1/health answer 503.
type fakeFiles struct {
	root  string
	ready atomic.Bool
	// onBody, when set, is called once a PUT's first bytes are read.
	onBody atomic.Value // func()

	mu       sync.Mutex
	requests []string
}

var modePattern = regexp.MustCompile(`^0[0-7]{3}$`)

func newFakeFiles(t *testing.T) *fakeFiles {
	f := &fakeFiles{root: t.TempDir()}
	f.ready.Store(true)
	return f
}

// seen returns the requests so far as "METHOD REQUEST-URI".
func (f *fakeFiles) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func (f *fakeFiles) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/files/{path...}", f.get)
	mux.HandleFunc("PUT /v1/files/{path...}", f.put)
	mux.HandleFunc("DELETE /v1/files/{path...}", f.delete)
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, _ *http.Request) {
		if !f.ready.Load() {
			writeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "sandboxd is shutting down")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "uptime_seconds": 1})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.RequestURI)
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]string{"code": code, "message": message})
}

// resolve is pathutil.SanitizePath without symlinks.
func (f *fakeFiles) resolve(w http.ResponseWriter, r *http.Request) (string, bool) {
	target := filepath.Join(f.root, filepath.Clean(r.PathValue("path")))
	if target != f.root && !strings.HasPrefix(target, f.root+string(os.PathSeparator)) {
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "path traversal outside sandbox root is forbidden")
		return "", false
	}
	return target, true
}

func (f *fakeFiles) get(w http.ResponseWriter, r *http.Request) {
	target, ok := f.resolve(w, r)
	if !ok {
		return
	}
	info, err := os.Stat(target)
	if err != nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "path does not exist within the sandbox")
		return
	}
	if info.IsDir() {
		des, err := os.ReadDir(target)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
			return
		}
		entries := []map[string]any{}
		for _, de := range des {
			info, err := de.Info()
			if err != nil {
				continue
			}
			typ := "file"
			if info.IsDir() {
				typ = "directory"
			}
			entries = append(entries, map[string]any{
				"name": de.Name(), "size": info.Size(), "type": typ,
				"modified_at": info.ModTime().UTC().Format(time.RFC3339),
				"mode":        fmt.Sprintf("%04o", info.Mode().Perm()),
			})
		}
		writeJSON(w, http.StatusOK, map[string]any{"path": "/" + r.PathValue("path"), "entries": entries})
		return
	}
	file, err := os.Open(target)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
		return
	}
	defer file.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", info.ModTime(), file)
}

func (f *fakeFiles) put(w http.ResponseWriter, r *http.Request) {
	mode := os.FileMode(0o644)
	if m := r.URL.Query().Get("mode"); m != "" {
		if !modePattern.MatchString(m) {
			writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("mode %q must match ^0[0-7]{3}$", m))
			return
		}
		parsed, _ := strconv.ParseUint(m, 8, 32)
		mode = os.FileMode(parsed)
	}
	target, ok := f.resolve(w, r)
	if !ok {
		return
	}
	if info, err := os.Stat(target); err == nil && info.IsDir() {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "target path is a directory")
		return
	}
	var body io.Reader = r.Body
	if hook, ok := f.onBody.Load().(func()); ok {
		body = &notifyingReader{r: body, first: hook}
	}
	if err := atomicWrite(target, body, mode); err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// notifyingReader calls first once it has read something.
type notifyingReader struct {
	r     io.Reader
	first func()
}

func (n *notifyingReader) Read(b []byte) (int, error) {
	c, err := n.r.Read(b)
	if c > 0 && n.first != nil {
		n.first()
		n.first = nil
	}
	return c, err
}

func atomicWrite(target string, src io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), ".sandboxd-tmp-*")
	if err != nil {
		return err
	}
	err = tmp.Chmod(mode)
	if err == nil {
		_, err = io.Copy(tmp, src)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), target)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

func (f *fakeFiles) delete(w http.ResponseWriter, r *http.Request) {
	target, ok := f.resolve(w, r)
	if !ok {
		return
	}
	if _, err := os.Lstat(target); err != nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "path does not exist within the sandbox")
		return
	}
	recursive := false
	if p := r.URL.Query().Get("recursive"); p != "" {
		var err error
		if recursive, err = strconv.ParseBool(p); err != nil {
			writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("recursive %q must be a boolean", p))
			return
		}
	}
	if target == f.root {
		writeError(w, http.StatusConflict, "CONFLICT", "cannot delete the sandbox root; pass recursive=true to clear its contents")
		return
	}
	rm := os.Remove
	if recursive {
		rm = os.RemoveAll
	}
	if err := rm(target); err != nil {
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			writeError(w, http.StatusConflict, "CONFLICT", "directory is not empty; pass recursive=true to remove it")
			return
		}
		writeError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// write puts a file under the fake's root.
func (f *fakeFiles) write(t *testing.T, name, content string) {
	t.Helper()
	full := filepath.Join(f.root, name)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// serveProcesses serves procs on lis until the test ends.
func serveProcesses(t *testing.T, procs *fakeProcesses, lis net.Listener) {
	if procs.t == nil {
		procs.t = t
	}
	procs.quit = make(chan struct{})
	procs.proc = map[int32]*fakeProc{}
	srv := grpc.NewServer(grpc.WaitForHandlers(true))
	processv1.RegisterProcessServiceServer(srv, procs)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		close(procs.quit)
		srv.Stop()
		<-served
	})
}

// fixture is a Client of a fake sandboxd: procs behind a gRPC
// connection, files behind HTTP.
type fixture struct {
	*Client
	procs *fakeProcesses
	files *fakeFiles

	mu    sync.Mutex
	conns []net.Conn
}

// newFixture serves procs (nil: commands that exit 0) and a fresh file
// API; everything is closed when the test ends. opts are added to the
// gRPC client's.
func newFixture(t *testing.T, procs *fakeProcesses, opts ...grpc.DialOption) *fixture {
	t.Helper()
	if procs == nil {
		procs = &fakeProcesses{}
	}
	fx := &fixture{procs: procs, files: newFakeFiles(t)}
	lis := bufconn.Listen(1 << 20)
	serveProcesses(t, procs, lis)
	conn, err := grpc.NewClient("passthrough:///sandboxd", append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			c, err := lis.DialContext(ctx)
			if err == nil {
				fx.mu.Lock()
				fx.conns = append(fx.conns, c)
				fx.mu.Unlock()
			}
			return c, err
		}),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	srv := httptest.NewServer(fx.files.handler())
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	fx.Client = New(conn, u, srv.Client(), "team/box")
	return fx
}

// dropConnections breaks the gRPC connections, as a port-forward that
// dies does.
func (fx *fixture) dropConnections() {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	for _, c := range fx.conns {
		_ = c.Close()
	}
}

// chanWriter hands each write to a channel.
type chanWriter chan string

func (w chanWriter) Write(b []byte) (int, error) {
	w <- string(b)
	return len(b), nil
}

// recv receives from ch within the guard.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	timer := time.NewTimer(guard)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		var zero T
		t.Fatalf("nothing received within %s", guard)
		return zero
	}
}
