package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// target is the sandbox every test client addresses.
var target = Target{SandboxID: "python-abcde", Namespace: "team-a", Port: 8888, PodIP: "10.0.0.7"}

const token = "s3cret"

// serve starts a router at which every request must carry the routing
// headers of target and the bearer token (a missing one fails the test),
// passes the request to handle, and returns a client for it. The server
// and its connections are closed when the test ends.
func serve(t *testing.T, handle http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for h, want := range map[string]string{
			"X-Sandbox-ID": "python-abcde", "X-Sandbox-Namespace": "team-a",
			"X-Sandbox-Port": "8888", "X-Sandbox-Pod-IP": "10.0.0.7", "Authorization": "Bearer " + token,
		} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s %s: header %s = %q, want %q", r.Method, r.URL.Path, h, got, want)
			}
		}
		handle(w, r)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := NewClient(u, srv.Client().Transport, token, target)
	c.Backoff = time.Millisecond
	return c
}

// answer writes a JSON body with a status.
func answer(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// pyRuntime behaves like the python runtime (upstream spec §2.1) over a
// local directory that stands for /app: upload does not create parents,
// download and list answer 404 with {"message"}, paths are decoded twice
// and confined to the root. Execute understands the mkdir and rm that
// MkdirAll and Remove send; it fails to run any other command.
type pyRuntime struct {
	t    *testing.T
	root string

	mu  sync.Mutex
	log []string
}

// newRuntime returns a python runtime over a fresh directory and a client
// for it through the router.
func newRuntime(t *testing.T) (*pyRuntime, *Client) {
	rt := &pyRuntime{t: t, root: t.TempDir()}
	return rt, serve(t, rt.ServeHTTP)
}

// requests returns what the runtime was asked, one line per request:
// "execute: COMMAND", "upload: PATH", "download: PATH", "list: PATH",
// "exists: PATH", with paths decoded.
func (rt *pyRuntime) requests() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]string(nil), rt.log...)
}

func (rt *pyRuntime) record(s string) {
	rt.mu.Lock()
	rt.log = append(rt.log, s)
	rt.mu.Unlock()
}

// safe is the runtime's get_safe_path.
func (rt *pyRuntime) safe(p string) (string, bool) {
	full := filepath.Join(rt.root, strings.TrimLeft(p, "/"))
	return full, full == rt.root || strings.HasPrefix(full, rt.root+"/")
}

// write puts a file under the runtime's root.
func (rt *pyRuntime) write(name, content string) {
	rt.t.Helper()
	full := filepath.Join(rt.root, name)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		rt.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		rt.t.Fatal(err)
	}
}

func (rt *pyRuntime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/execute" {
		rt.execute(w, r)
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/upload" {
		rt.upload(w, r)
		return
	}
	op, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	p, err := url.PathUnescape(rest) // the runtime unquotes once more
	if r.Method != http.MethodGet || err != nil {
		rt.t.Errorf("unexpected request %s %s", r.Method, r.RequestURI)
		answer(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
		return
	}
	rt.record(op + ": " + p)
	full, ok := rt.safe(p)
	if !ok {
		answer(w, http.StatusForbidden, map[string]string{"message": "Access denied"})
		return
	}
	info, statErr := os.Stat(full)
	switch op {
	case "download":
		if statErr != nil || !info.Mode().IsRegular() {
			answer(w, http.StatusNotFound, map[string]string{"message": "File not found"})
			return
		}
		b, err := os.ReadFile(full)
		if err != nil {
			rt.t.Error(err)
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	case "list":
		if statErr != nil || !info.IsDir() {
			answer(w, http.StatusNotFound, map[string]string{"message": "Path is not a directory"})
			return
		}
		rt.list(w, full)
	case "exists":
		answer(w, http.StatusOK, map[string]any{"path": p, "exists": statErr == nil})
	default:
		rt.t.Errorf("unexpected request %s %s", r.Method, r.RequestURI)
		answer(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
	}
}

// cause is an OS error without the operation and path, as Python prints
// an errno.
func cause(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func (rt *pyRuntime) list(w http.ResponseWriter, full string) {
	des, err := os.ReadDir(full)
	if err != nil {
		answer(w, http.StatusInternalServerError, map[string]string{"message": "List files failed: " + err.Error()})
		return
	}
	out := []map[string]any{}
	for _, de := range des {
		info, err := de.Info()
		if err != nil {
			rt.t.Error(err)
			continue
		}
		typ := "file"
		if de.IsDir() {
			typ = "directory"
		}
		out = append(out, map[string]any{"name": de.Name(), "size": info.Size(), "type": typ,
			"mod_time": float64(info.ModTime().UnixNano()) / 1e9})
	}
	answer(w, http.StatusOK, out)
}

func (rt *pyRuntime) upload(w http.ResponseWriter, r *http.Request) {
	mr, err := r.MultipartReader()
	if err != nil {
		answer(w, http.StatusUnprocessableEntity, map[string]any{"detail": err.Error()})
		return
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "file" {
		answer(w, http.StatusUnprocessableEntity, map[string]any{"detail": "file part missing"})
		return
	}
	// The raw parameter: Go's part.FileName() would drop the directory.
	_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
	name := params["filename"]
	rt.record("upload: " + name)
	full, ok := rt.safe(name)
	if !ok {
		answer(w, http.StatusForbidden, map[string]string{"message": "Access denied"})
		return
	}
	f, err := os.Create(full) // parents are not created
	if err == nil {
		_, err = io.Copy(f, part)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		answer(w, http.StatusInternalServerError, map[string]string{"message": "File upload failed: " + cause(err)})
		return
	}
	answer(w, http.StatusOK, map[string]string{"message": "File '" + name + "' uploaded successfully."})
}

func (rt *pyRuntime) execute(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Command string `json:"command"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || r.Header.Get("Content-Type") != "application/json" {
		answer(w, http.StatusUnprocessableEntity, map[string]string{"detail": "invalid body"})
		return
	}
	rt.record("execute: " + in.Command)
	argv := splitCommand(in.Command)
	stdout, stderr, code := "", "", 0
	switch {
	case len(argv) > 3 && argv[0] == "mkdir" && argv[1] == "-p" && argv[2] == "--":
		for _, d := range argv[3:] {
			full, ok := rt.safe(d)
			if !ok {
				rt.t.Errorf("mkdir outside the root: %q", d)
				continue
			}
			if err := os.MkdirAll(full, 0o755); err != nil {
				stderr, code = stderr+"mkdir: cannot create directory '"+d+"': "+cause(err)+"\n", 1
			}
		}
	case argv[0] == "rm" && (len(argv) == 3 && argv[1] == "--" || len(argv) == 4 && argv[1] == "-r" && argv[2] == "--"):
		target := argv[len(argv)-1]
		full, ok := rt.safe(target)
		if !ok || full == rt.root {
			rt.t.Errorf("rm of %q", target)
			break
		}
		var err error
		if info, serr := os.Stat(full); serr != nil {
			err = serr
		} else if len(argv) == 4 {
			err = os.RemoveAll(full)
		} else if info.IsDir() {
			err = errors.New("is a directory")
		} else {
			err = os.Remove(full)
		}
		if err != nil {
			stderr, code = "rm: cannot remove '"+target+"': "+cause(err)+"\n", 1
		}
	default:
		stderr, code = "Failed to execute command: [Errno 2] No such file or directory: '"+argv[0]+"'", 1
	}
	answer(w, http.StatusOK, map[string]any{"stdout": stdout, "stderr": stderr, "exit_code": code})
}

// splitCommand undoes JoinArgv for the fake runtime. It knows only the
// quoting that Quote produces (bare words, '...' and "'"); quote_test.go
// proves that against the real shlex.split.
func splitCommand(s string) []string {
	var argv []string
	var cur strings.Builder
	word := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ':
			if word {
				argv = append(argv, cur.String())
				cur.Reset()
				word = false
			}
		case '\'', '"':
			end := strings.IndexByte(s[i+1:], c)
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			word = true
		default:
			cur.WriteByte(c)
			word = true
		}
	}
	if word {
		argv = append(argv, cur.String())
	}
	return argv
}

// fakeRuntime is an in-memory Runtime for logic that does not depend on
// HTTP; a method without its func fails the test.
type fakeRuntime struct {
	t        *testing.T
	execute  func(ctx context.Context, cmd Command) (*Result, error)
	download func(ctx context.Context, path string) (io.ReadCloser, int64, error)
	list     func(ctx context.Context, path string) ([]Entry, error)
}

var _ Runtime = (*fakeRuntime)(nil)

func (f *fakeRuntime) Execute(ctx context.Context, cmd Command) (*Result, error) {
	if f.execute == nil {
		f.t.Errorf("unexpected Execute(%q)", cmd.Argv)
		return nil, errors.New("unexpected")
	}
	return f.execute(ctx, cmd)
}

func (f *fakeRuntime) Download(ctx context.Context, path string) (io.ReadCloser, int64, error) {
	if f.download == nil {
		f.t.Errorf("unexpected Download(%q)", path)
		return nil, 0, errors.New("unexpected")
	}
	return f.download(ctx, path)
}

func (f *fakeRuntime) List(ctx context.Context, path string) ([]Entry, error) {
	if f.list == nil {
		f.t.Errorf("unexpected List(%q)", path)
		return nil, errors.New("unexpected")
	}
	return f.list(ctx, path)
}

func (f *fakeRuntime) Upload(_ context.Context, path string, _ io.Reader) error {
	f.t.Errorf("unexpected Upload(%q)", path)
	return errors.New("unexpected")
}

func (f *fakeRuntime) Exists(_ context.Context, path string) (bool, error) {
	f.t.Errorf("unexpected Exists(%q)", path)
	return false, errors.New("unexpected")
}

func (f *fakeRuntime) Remove(_ context.Context, path string, _ bool) error {
	f.t.Errorf("unexpected Remove(%q)", path)
	return errors.New("unexpected")
}

func (f *fakeRuntime) MkdirAll(_ context.Context, dirs ...string) error {
	f.t.Errorf("unexpected MkdirAll(%q)", dirs)
	return errors.New("unexpected")
}

// tree returns the files under dir as path -> content, and directories as
// path/ -> "".
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeTree creates files (path -> content; a path ending in "/" is an
// empty directory) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// inPhases sorts each run of consecutive uploads or downloads: the files
// of a tree go a few at a time, in any order; what comes before and after
// a run keeps its place.
func inPhases(reqs []string) []string {
	out := append([]string(nil), reqs...)
	transfer := func(s string) bool { return strings.HasPrefix(s, "upload: ") || strings.HasPrefix(s, "download: ") }
	for i := 0; i < len(out); i++ {
		j := i
		for j < len(out) && transfer(out[j]) {
			j++
		}
		sort.Strings(out[i:j])
		i = max(i, j-1)
	}
	return out
}
