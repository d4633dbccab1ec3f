package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python/pythontest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// The copies of files and trees are tested through the python runtime (its
// client and a fake of it over a local directory, pythontest.Dir), whose
// every request they log: the runtime whose file API does the least.

// serve starts a router that passes every request to handle, and returns
// a python runtime client for it. The server and its connections are
// closed when the test ends.
func serve(t *testing.T, handle http.HandlerFunc) *python.Client {
	t.Helper()
	srv := httptest.NewServer(handle)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := python.NewClient(u, srv.Client().Transport, "", python.Target{SandboxID: "python-abcde", Namespace: "team-a", Port: 8888})
	c.Backoff = time.Millisecond
	return c
}

// newRuntime returns a python runtime over a fresh directory and a client
// for it through the router.
func newRuntime(t *testing.T) (*pythontest.Dir, *python.Client) {
	rt := pythontest.NewDir(t)
	return rt, serve(t, rt.ServeHTTP)
}

// answer writes a JSON body with a status.
func answer(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// urlPath is the path that the runtime's handler sees for a request about
// the runtime path p at endpoint: the client encodes p twice, and the
// HTTP layer decodes it once.
func urlPath(endpoint, p string) string {
	once, _ := url.PathUnescape(python.EncodePath(p))
	return "/" + endpoint + "/" + once
}

// downloadOf is rt whose Download is download.
type downloadOf struct {
	sandbox.Runtime
	download func(ctx context.Context, path string) (io.ReadCloser, int64, error)
}

func (d downloadOf) Download(ctx context.Context, path string) (io.ReadCloser, int64, error) {
	return d.download(ctx, path)
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
