package python

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python/pythontest"
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

// newRuntime returns a python runtime over a fresh directory and a client
// for it through the router.
func newRuntime(t *testing.T) (*pythontest.Dir, *Client) {
	rt := pythontest.NewDir(t)
	return rt, serve(t, rt.ServeHTTP)
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

// readFunc is a reader made of a function.
type readFunc func([]byte) (int, error)

func (f readFunc) Read(b []byte) (int, error) { return f(b) }

// files lists the names in dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}
