package pythontest

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Dir is the python runtime (upstream spec §2.1) over a local directory
// that stands for /app, as an http.Handler for the requests the router
// passes on: upload does not create parents, download and list answer 404
// with {"message"}, paths are decoded twice and confined to the root.
// Execute understands the mkdir -p and rm [-r] that sandbox.MkdirAll and
// Client.Remove send; it fails to run any other command. A request that
// the runtime would not serve fails the test.
type Dir struct {
	// Root is the directory that stands for /app.
	Root string
	t    testing.TB

	mu  sync.Mutex
	log []string
}

// NewDir returns a python runtime over a fresh directory.
func NewDir(t testing.TB) *Dir {
	return &Dir{t: t, Root: t.TempDir()}
}

// Requests returns what the runtime was asked, one line per request:
// "execute: COMMAND", "upload: PATH", "download: PATH", "list: PATH",
// "exists: PATH", with paths decoded.
func (rt *Dir) Requests() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]string(nil), rt.log...)
}

func (rt *Dir) record(s string) {
	rt.mu.Lock()
	rt.log = append(rt.log, s)
	rt.mu.Unlock()
}

// safe is the runtime's get_safe_path.
func (rt *Dir) safe(p string) (string, bool) {
	full := filepath.Join(rt.Root, strings.TrimLeft(p, "/"))
	return full, full == rt.Root || strings.HasPrefix(full, rt.Root+"/")
}

// Write puts a file under the runtime's root, creating its parents.
func (rt *Dir) Write(name, content string) {
	rt.t.Helper()
	full := filepath.Join(rt.Root, name)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		rt.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		rt.t.Fatal(err)
	}
}

func (rt *Dir) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
		return
	}
	rt.record(op + ": " + p)
	full, ok := rt.safe(p)
	if !ok {
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Access denied"})
		return
	}
	info, statErr := os.Stat(full)
	switch op {
	case "download":
		if statErr != nil || !info.Mode().IsRegular() {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "File not found"})
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
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Path is not a directory"})
			return
		}
		rt.list(w, full)
	case "exists":
		writeJSON(w, http.StatusOK, map[string]any{"path": p, "exists": statErr == nil})
	default:
		rt.t.Errorf("unexpected request %s %s", r.Method, r.RequestURI)
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
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

func (rt *Dir) list(w http.ResponseWriter, full string) {
	des, err := os.ReadDir(full)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "List files failed: " + err.Error()})
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
	writeJSON(w, http.StatusOK, out)
}

func (rt *Dir) upload(w http.ResponseWriter, r *http.Request) {
	mr, err := r.MultipartReader()
	if err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": err.Error()})
		return
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != "file" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": "file part missing"})
		return
	}
	// The raw parameter: Go's part.FileName() would drop the directory.
	_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
	name := params["filename"]
	rt.record("upload: " + name)
	full, ok := rt.safe(name)
	if !ok {
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Access denied"})
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
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "File upload failed: " + cause(err)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "File '" + name + "' uploaded successfully."})
}

func (rt *Dir) execute(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Command string `json:"command"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || r.Header.Get("Content-Type") != "application/json" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"detail": "invalid body"})
		return
	}
	rt.record("execute: " + in.Command)
	argv, err := Split(in.Command)
	stdout, stderr, code := "", "", 0
	switch {
	case err != nil:
		stderr, code = "Failed to execute command: "+err.Error(), 1
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
		if !ok || full == rt.Root {
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
	writeJSON(w, http.StatusOK, map[string]any{"stdout": stdout, "stderr": stderr, "exit_code": code})
}
