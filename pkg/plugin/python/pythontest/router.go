// Package pythontest holds fakes of the python runtime for tests: Router,
// a fake sandbox router with the runtime behind it, an httptest server that
// keeps files in memory and answers /execute, /upload, /download, /list and
// /exists as the v0.5.6 runtime does, behind the router's X-Sandbox-*
// headers; and Dir, the runtime over a local directory, as a handler.
package pythontest

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// Request is one request the router saw.
type Request struct {
	Method, Path string
	// Header holds the X-Sandbox-* headers and Authorization.
	Header http.Header
}

// Router is the fake router. Its fields may be set before the first request.
type Router struct {
	*httptest.Server
	// Exec answers a command (argv as the runtime splits it) that is not
	// mkdir -p or rm; nil answers exit code 0 with no output.
	Exec func(sandboxID string, argv []string) (stdout, stderr string, code int)
	// Authz, when set, judges each request for a sandbox as the Go
	// router's --authz-mode does (see RequireTokens, ScopedTokens).
	Authz Authz

	mu       sync.Mutex
	files    map[string][]byte // sandboxID + "/" + path
	dirs     map[string]bool
	requests []Request
}

// NewRouter starts a fake router; it is closed when the test ends.
func NewRouter(t testing.TB) *Router {
	r := &Router{files: map[string][]byte{}, dirs: map[string]bool{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	r.cleanup(t)
	return r
}

// NewTLSRouter starts a fake router that serves https with the test
// certificate of httptest (see CAPEM); it is closed when the test ends.
func NewTLSRouter(t testing.TB) *Router {
	r := &Router{files: map[string][]byte{}, dirs: map[string]bool{}}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	// Handshakes that the client's verification ends are the tests' point.
	r.Config.ErrorLog = log.New(io.Discard, "", 0)
	r.StartTLS()
	r.cleanup(t)
	return r
}

func (r *Router) cleanup(t testing.TB) {
	t.Cleanup(func() {
		r.CloseClientConnections()
		r.Close()
	})
}

// WriteFile puts a file in a sandbox, creating its parent directories.
func (r *Router) WriteFile(sandboxID, p string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mkdirAll(sandboxID, path.Dir(p))
	r.files[sandboxID+"/"+p] = data
}

// File returns a sandbox file's content.
func (r *Router) File(sandboxID, p string) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.files[sandboxID+"/"+p]
	return b, ok
}

// Requests returns the requests seen so far.
func (r *Router) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

func (r *Router) mkdirAll(id, dir string) {
	for dir != "." && dir != "/" && dir != "" {
		r.dirs[id+"/"+dir] = true
		dir = path.Dir(dir)
	}
}

func (r *Router) serve(w http.ResponseWriter, req *http.Request) {
	id := req.Header.Get("X-Sandbox-ID")
	h := http.Header{}
	for k, v := range req.Header {
		if strings.HasPrefix(k, "X-Sandbox-") || k == "Authorization" {
			h[k] = v
		}
	}
	r.mu.Lock()
	r.requests = append(r.requests, Request{Method: req.Method, Path: req.URL.EscapedPath(), Header: h})
	r.mu.Unlock()
	if id == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "X-Sandbox-ID header is required."})
		return
	}
	if r.Authz != nil {
		switch r.Authz(req.Header) {
		case http.StatusUnauthorized:
			writeJSON(w, http.StatusUnauthorized, map[string]string{"detail": "unauthenticated"})
			return
		case http.StatusForbidden:
			writeJSON(w, http.StatusForbidden, map[string]string{"detail": "forbidden"})
			return
		}
	}
	endpoint, rest, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	p, _ := url.PathUnescape(rest) // the runtime decodes once more
	switch {
	case req.Method == http.MethodPost && endpoint == "execute":
		r.execute(w, req, id)
	case req.Method == http.MethodPost && endpoint == "upload":
		r.upload(w, req, id)
	case req.Method == http.MethodGet && endpoint == "download":
		r.mu.Lock()
		b, ok := r.files[id+"/"+p]
		r.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "File not found"})
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	case req.Method == http.MethodGet && endpoint == "list":
		r.list(w, id, p)
	case req.Method == http.MethodGet && endpoint == "exists":
		r.mu.Lock()
		_, file := r.files[id+"/"+p]
		ok := file || r.dirs[id+"/"+p] || p == ""
		r.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"path": p, "exists": ok})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
	}
}

func (r *Router) execute(w http.ResponseWriter, req *http.Request, id string) {
	var body struct {
		Command string `json:"command"`
	}
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"detail": err.Error()})
		return
	}
	argv, err := Split(body.Command)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"stdout": "", "stderr": "Failed to execute command: " + err.Error(), "exit_code": 1})
		return
	}
	stdout, stderr, code := "", "", 0
	switch {
	case len(argv) > 3 && argv[0] == "mkdir" && argv[1] == "-p" && argv[2] == "--":
		r.mu.Lock()
		for _, d := range argv[3:] {
			r.mkdirAll(id, d)
		}
		r.mu.Unlock()
	case argv[0] == "rm" && (len(argv) == 3 && argv[1] == "--" || len(argv) == 4 && argv[1] == "-r" && argv[2] == "--"):
		// rm [-r] -- PATH: a missing path fails, as rm does.
		target, recursive := argv[len(argv)-1], len(argv) == 4
		found := false
		r.mu.Lock()
		for k := range r.files {
			if k == id+"/"+target || (recursive && strings.HasPrefix(k, id+"/"+target+"/")) {
				delete(r.files, k)
				found = true
			}
		}
		for k := range r.dirs {
			if recursive && (k == id+"/"+target || strings.HasPrefix(k, id+"/"+target+"/")) {
				delete(r.dirs, k)
				found = true
			}
		}
		r.mu.Unlock()
		if !found {
			stderr, code = "rm: cannot remove '"+target+"': No such file or directory\n", 1
		}
	case len(argv) >= 3 && argv[0] == "sh" && argv[1] == "-c" && argv[2] == sandbox.ProbeScript:
		// It has tar: tree copies go through archives.
	case len(argv) == 5 && argv[0] == "sh" && argv[1] == "-c" && argv[2] == sandbox.UnpackScript:
		r.mu.Lock()
		stderr, code = r.unpack(id, argv[3], argv[4])
		r.mu.Unlock()
	case len(argv) == 5 && argv[0] == "sh" && argv[1] == "-c" && argv[2] == sandbox.PackScript:
		r.mu.Lock()
		stderr, code = r.pack(id, argv[3], argv[4])
		r.mu.Unlock()
	case r.Exec != nil:
		stdout, stderr, code = r.Exec(id, argv)
	}
	writeJSON(w, http.StatusOK, map[string]any{"stdout": stdout, "stderr": stderr, "exit_code": code})
}

// unpack does what UnpackScript does with tar; r.mu is held.
func (r *Router) unpack(id, archive, dest string) (string, int) {
	data, ok := r.files[id+"/"+archive]
	delete(r.files, id+"/"+archive)
	if !ok {
		return "tar: " + archive + ": Cannot open: No such file or directory\n", 2
	}
	dest = path.Clean(dest)
	if dest == "." {
		dest = ""
	}
	join := func(name string) string { return strings.TrimPrefix(path.Join(dest, name), "/") }
	if dest != "" {
		r.mkdirAll(id, dest)
	}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", 0
		}
		if err != nil {
			return "tar: " + err.Error() + "\n", 2
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		switch h.Typeflag {
		case tar.TypeDir:
			r.mkdirAll(id, join(name))
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				return "tar: " + err.Error() + "\n", 2
			}
			r.mkdirAll(id, path.Dir(join(name)))
			r.files[id+"/"+join(name)] = b
		}
	}
}

// pack does what PackScript does with tar; r.mu is held.
func (r *Router) pack(id, tmp, src string) (string, int) {
	src = path.Clean(src)
	prefix := id + "/"
	if src != "." {
		if !r.dirs[id+"/"+src] {
			return "tar: " + src + ": Cannot open: No such file or directory\n", 2
		}
		prefix += src + "/"
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var dirs, files []string
	for k := range r.dirs {
		if rel, ok := strings.CutPrefix(k, prefix); ok && rel != tmp && !strings.HasPrefix(rel, tmp+"/") {
			dirs = append(dirs, rel)
		}
	}
	for k := range r.files {
		if rel, ok := strings.CutPrefix(k, prefix); ok && !strings.HasPrefix(rel, tmp+"/") {
			files = append(files, rel)
		}
	}
	sort.Strings(dirs)
	sort.Strings(files)
	for _, d := range dirs {
		_ = tw.WriteHeader(&tar.Header{Name: "./" + d + "/", Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatPAX})
	}
	for _, f := range files {
		b := r.files[prefix+f]
		_ = tw.WriteHeader(&tar.Header{Name: "./" + f, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(b)), Format: tar.FormatPAX})
		_, _ = tw.Write(b)
	}
	_ = tw.Close()
	r.mkdirAll(id, tmp)
	r.files[id+"/"+tmp+"/archive.tar"] = buf.Bytes()
	return "", 0
}

func (r *Router) upload(w http.ResponseWriter, req *http.Request, id string) {
	f, hdr, err := req.FormFile("file")
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"detail": err.Error()})
		return
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
		return
	}
	// The runtime takes the filename as sent; Go's FileName() would keep
	// only its base.
	_, params, _ := mime.ParseMediaType(hdr.Header.Get("Content-Disposition"))
	p := strings.TrimPrefix(params["filename"], "/")
	r.mu.Lock()
	defer r.mu.Unlock()
	if dir := path.Dir(p); dir != "." && !r.dirs[id+"/"+dir] {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "File upload failed: [Errno 2] No such file or directory"})
		return
	}
	r.files[id+"/"+p] = b
	writeJSON(w, http.StatusOK, map[string]string{"message": fmt.Sprintf("File '%s' uploaded successfully.", p)})
}

func (r *Router) list(w http.ResponseWriter, id, dir string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if dir != "" && !r.dirs[id+"/"+dir] {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Path is not a directory"})
		return
	}
	prefix := id + "/"
	if dir != "" {
		prefix += dir + "/"
	}
	type entry struct {
		Name    string  `json:"name"`
		Size    int     `json:"size"`
		Type    string  `json:"type"`
		ModTime float64 `json:"mod_time"`
	}
	mod := float64(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).Unix())
	entries := []entry{}
	for k, b := range r.files {
		if name, ok := strings.CutPrefix(k, prefix); ok && !strings.Contains(name, "/") {
			entries = append(entries, entry{Name: name, Size: len(b), Type: "file", ModTime: mod})
		}
	}
	for k := range r.dirs {
		if name, ok := strings.CutPrefix(k, prefix); ok && !strings.Contains(name, "/") {
			entries = append(entries, entry{Name: name, Type: "directory", ModTime: mod})
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	writeJSON(w, http.StatusOK, entries)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Split splits a command string as Python's shlex.split (POSIX mode) does
// for what python.JoinArgv produces: bare words, single quotes and double
// quotes (quote_test.go in package python holds it to the real shlex).
func Split(s string) ([]string, error) {
	var argv []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n':
			if inWord {
				argv = append(argv, cur.String())
				cur.Reset()
				inWord = false
			}
		case '\'', '"':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, fmt.Errorf("no closing quotation")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		argv = append(argv, cur.String())
	}
	return argv, nil
}
