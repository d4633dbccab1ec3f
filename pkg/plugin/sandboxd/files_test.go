package sandboxd

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// readFile reads a file under the fake's root; "" when it is missing.
func (f *fakeFiles) read(t *testing.T, name string) (string, os.FileMode) {
	t.Helper()
	full := filepath.Join(f.root, name)
	b, err := os.ReadFile(full)
	if errors.Is(err, os.ErrNotExist) {
		return "", 0
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(full)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), info.Mode()
}

func TestUpload(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	if err := fx.Upload(ctx, "dir/sub/f.txt", strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	if got, mode := fx.files.read(t, "dir/sub/f.txt"); got != "hello" || mode != 0o644 {
		t.Errorf("file %q, mode %v; want hello, 0644", got, mode)
	}
	if err := fx.Upload(ctx, "dir/sub/f.txt", strings.NewReader("replaced")); err != nil {
		t.Fatal(err)
	}
	if got, _ := fx.files.read(t, "dir/sub/f.txt"); got != "replaced" {
		t.Errorf("file %q after a second upload", got)
	}
	if err := fx.Upload(ctx, "empty", strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	if got := fx.files.seen(); got[0] != "PUT /v1/files/dir/sub/f.txt?mode=0644" {
		t.Errorf("request %q", got[0])
	}

	err := fx.Upload(ctx, "dir", strings.NewReader("x"))
	var apiErr *sandbox.HTTPError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || apiErr.Code != "INVALID_ARGUMENT" {
		t.Fatalf("Upload onto a directory = %v, want a 400 *sandbox.HTTPError", err)
	}
	if want := "upload dir: sandboxd answered 400 INVALID_ARGUMENT: target path is a directory"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if errors.Is(err, sandbox.ErrNotFound) {
		t.Error("a 400 is ErrNotFound")
	}
}

// TestUploadStreams: the body is sent as it is read, not gathered first.
func TestUploadStreams(t *testing.T) {
	fx := newFixture(t, nil)
	reading := make(chan struct{})
	fx.files.onBody.Store(func() { close(reading) })
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- fx.Upload(context.Background(), "big", pr) }()
	if _, err := io.WriteString(pw, "part 1, "); err != nil {
		t.Fatal(err)
	}
	recv(t, reading) // sandboxd reads while the upload goes on
	if _, err := io.WriteString(pw, "part 2"); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := recv(t, done); err != nil {
		t.Fatal(err)
	}
	if got, _ := fx.files.read(t, "big"); got != "part 1, part 2" {
		t.Errorf("file %q", got)
	}
}

func TestDownload(t *testing.T) {
	fx := newFixture(t, nil)
	fx.files.write(t, "d/f", "content")
	body, size, err := fx.Download(context.Background(), "d/f")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(body)
	body.Close()
	if string(b) != "content" || err != nil || size != 7 {
		t.Errorf("Download = %q, %d, %v", b, size, err)
	}
	for _, p := range []string{"d", "", "missing", "d/missing"} {
		body, _, err := fx.Download(context.Background(), p)
		if body != nil {
			body.Close()
		}
		if !errors.Is(err, sandbox.ErrNotFound) {
			t.Errorf("Download(%q) = %v, want ErrNotFound", p, err)
		}
	}
	if _, _, err := fx.Download(context.Background(), "d"); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Download of a directory = %v", err)
	}
}

func TestList(t *testing.T) {
	fx := newFixture(t, nil)
	fx.files.write(t, "f", "12345")
	fx.files.write(t, "d/inner", "x")
	mod := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, p := range []string{"f", "d"} {
		if err := os.Chtimes(filepath.Join(fx.files.root, p), mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	dirInfo, err := os.Stat(filepath.Join(fx.files.root, "d"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := fx.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []sandbox.Entry{
		{Name: "d", Size: dirInfo.Size(), Type: "directory", ModTime: mod},
		{Name: "f", Size: 5, Type: "file", ModTime: mod},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List = %+v, want %+v", got, want)
	}
	if !got[0].IsDir() || got[1].IsDir() {
		t.Error("IsDir")
	}
	if got, err := fx.List(context.Background(), "d"); err != nil || len(got) != 1 || got[0].Name != "inner" {
		t.Errorf("List(d) = %+v, %v", got, err)
	}
	if err := os.Mkdir(filepath.Join(fx.files.root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := fx.List(context.Background(), "empty"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("List(empty) = %#v, %v", got, err)
	}
	for _, p := range []string{"f", "missing"} {
		if _, err := fx.List(context.Background(), p); !errors.Is(err, sandbox.ErrNotFound) {
			t.Errorf("List(%q) = %v, want ErrNotFound", p, err)
		}
	}
	if _, err := fx.List(context.Background(), "f"); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("List of a file = %v", err)
	}
}

func TestExists(t *testing.T) {
	fx := newFixture(t, nil)
	fx.files.write(t, "d/f", "x")
	for p, want := range map[string]bool{"d/f": true, "d": true, "": true, "missing": false, "d/missing": false} {
		if got, err := fx.Exists(context.Background(), p); got != want || err != nil {
			t.Errorf("Exists(%q) = %v, %v; want %v", p, got, err, want)
		}
	}
	var apiErr *sandbox.HTTPError
	forbidden := answering(http.StatusForbidden, "application/json", `{"code":"PERMISSION_DENIED","message":"permission denied"}`)
	if got, err := forbidden.Exists(context.Background(), "x"); got || !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden {
		t.Errorf("Exists answered 403 = %v, %v; want a 403 *sandbox.HTTPError", got, err)
	}
	for _, r := range fx.files.seen() {
		if !strings.HasPrefix(r, "HEAD ") {
			t.Errorf("request %q, want HEAD", r)
		}
	}
}

func TestRemove(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	fx.files.write(t, "f", "x")
	fx.files.write(t, "tree/a/b", "x")
	if err := os.Mkdir(filepath.Join(fx.files.root, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	exists := func(p string) bool {
		_, err := os.Lstat(filepath.Join(fx.files.root, p))
		return err == nil
	}
	if err := fx.Remove(ctx, "f", false); err != nil || exists("f") {
		t.Errorf("Remove(f) = %v", err)
	}
	if err := fx.Remove(ctx, "empty", false); err != nil || exists("empty") {
		t.Errorf("Remove(empty) = %v", err)
	}
	err := fx.Remove(ctx, "tree", false)
	var apiErr *sandbox.HTTPError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict || apiErr.Code != "CONFLICT" || !exists("tree/a/b") {
		t.Errorf("Remove(tree) = %v, want a 409 *sandbox.HTTPError", err)
	}
	if err := fx.Remove(ctx, "tree", true); err != nil || exists("tree") {
		t.Errorf("Remove(tree, recursive) = %v", err)
	}
	if err := fx.Remove(ctx, "missing", true); !errors.Is(err, sandbox.ErrNotFound) {
		t.Errorf("Remove(missing) = %v, want ErrNotFound", err)
	}
	before := len(fx.files.seen())
	if err := sandbox.Remove(ctx, fx, "", true); !errors.Is(err, sandbox.ErrRemoveRoot) {
		t.Error("Remove of the root was not refused")
	}
	if len(fx.files.seen()) != before {
		t.Error("Remove of the root reached sandboxd")
	}
	want := []string{
		"DELETE /v1/files/f?recursive=false", "DELETE /v1/files/empty?recursive=false",
		"DELETE /v1/files/tree?recursive=false", "DELETE /v1/files/tree?recursive=true",
		"DELETE /v1/files/missing?recursive=true",
	}
	if got := fx.files.seen(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}

func TestHealth(t *testing.T) {
	fx := newFixture(t, nil)
	if err := fx.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	fx.files.ready.Store(false)
	err := fx.Health(context.Background())
	var notReady *NotReadyError
	var apiErr *sandbox.HTTPError
	if !errors.As(err, &notReady) || notReady.Sandbox != "team/box" || !errors.As(err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable {
		t.Fatalf("Health = %v, want a *NotReadyError of a 503", err)
	}
	if want := "sandboxd in sandbox team/box is not ready: health: sandboxd answered 503 UNAVAILABLE: sandboxd is shutting down"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}

	// Nobody listens.
	srv := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(srv.URL)
	srv.Close()
	err = New(nil, u, &http.Client{}, "team/box").Health(context.Background())
	if !errors.As(err, &notReady) || errors.As(err, &apiErr) {
		t.Errorf("Health of nobody = %v, want a *NotReadyError without an answer", err)
	}
}

// TestHostileNames: names that URLs treat specially reach sandboxd, and
// come back, as they are.
func TestHostileNames(t *testing.T) {
	fx := newFixture(t, nil)
	ctx := context.Background()
	for _, tc := range []struct{ name, uri string }{
		{"a b", "/v1/files/a%20b"},
		{"50%", "/v1/files/50%25"},
		{"q?x", "/v1/files/q%3Fx"},
		{"h#x", "/v1/files/h%23x"},
		{"ü", "/v1/files/%C3%BC"},
		{"-rf", "/v1/files/-rf"},
		{"..x", "/v1/files/..x"},
		{"new\nline", "/v1/files/new%0Aline"},
		{"semi;colon,comma", ""},
		{"+plus&amp=eq", ""},
		{"%2F", "/v1/files/%252F"},
		{"d?/50%/a b", "/v1/files/d%3F/50%25/a%20b"},
	} {
		before := len(fx.files.seen())
		content := "content of " + tc.name
		if err := fx.Upload(ctx, tc.name, strings.NewReader(content)); err != nil {
			t.Errorf("Upload(%q) = %v", tc.name, err)
			continue
		}
		if tc.uri != "" {
			if got := fx.files.seen()[before]; got != "PUT "+tc.uri+"?mode=0644" {
				t.Errorf("%q: request %q, want PUT %s?mode=0644", tc.name, got, tc.uri)
			}
		}
		if got, _ := fx.files.read(t, tc.name); got != content {
			t.Errorf("%q: sandboxd wrote %q", tc.name, got)
		}
		if ok, err := fx.Exists(ctx, tc.name); !ok || err != nil {
			t.Errorf("Exists(%q) = %v, %v", tc.name, ok, err)
		}
		dir, base := "", tc.name
		if i := strings.LastIndex(tc.name, "/"); i >= 0 {
			dir, base = tc.name[:i], tc.name[i+1:]
		}
		entries, err := fx.List(ctx, dir)
		found := false
		for _, e := range entries {
			found = found || e.Name == base && e.Type == "file"
		}
		if err != nil || !found {
			t.Errorf("List(%q) = %+v, %v; want %q in it", dir, entries, err, base)
		}
		body, _, err := fx.Download(ctx, tc.name)
		if err != nil {
			t.Errorf("Download(%q) = %v", tc.name, err)
		} else {
			b, _ := io.ReadAll(body)
			body.Close()
			if string(b) != content {
				t.Errorf("Download(%q) = %q", tc.name, b)
			}
		}
		if err := fx.Remove(ctx, tc.name, false); err != nil {
			t.Errorf("Remove(%q) = %v", tc.name, err)
		}
		if ok, err := fx.Exists(ctx, tc.name); ok || err != nil {
			t.Errorf("Exists(%q) after Remove = %v, %v", tc.name, ok, err)
		}
	}
}

// roundTripFunc answers requests without a server.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// answering is a client whose file API answers every request with status,
// content type and body.
func answering(status int, contentType, body string) *Client {
	u := &url.URL{Scheme: "http", Host: "sandboxd.invalid"}
	return New(nil, u, &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		if contentType != "" {
			h.Set("Content-Type", contentType)
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})}, "team/box")
}

func TestAPIErrors(t *testing.T) {
	for _, tc := range []struct {
		status      int
		contentType string
		body        string
		want        string
	}{
		{502, "text/html", "<html>bad gateway</html>", "list d: sandboxd answered 502 : Bad Gateway"},
		{500, "application/json", `{"code":"INTERNAL","message":"disk on fire"}`, "list d: sandboxd answered 500 INTERNAL: disk on fire"},
		{404, "application/json", `{"code":"NOT_FOUND"}`, "list d: sandboxd answered 404 NOT_FOUND: Not Found"},
	} {
		_, err := answering(tc.status, tc.contentType, tc.body).List(context.Background(), "d")
		var apiErr *sandbox.HTTPError
		if !errors.As(err, &apiErr) || apiErr.Status != tc.status || err.Error() != tc.want {
			t.Errorf("%d %s: List = %v, want %q", tc.status, tc.body, err, tc.want)
		}
		if errors.Is(err, sandbox.ErrNotFound) != (tc.status == 404) {
			t.Errorf("%d: errors.Is(ErrNotFound) = %v", tc.status, tc.status != 404)
		}
	}
	if _, err := answering(200, "application/json; charset=utf-8", "{").List(context.Background(), "d"); err == nil || !strings.Contains(err.Error(), "decoding sandboxd's answer") {
		t.Errorf("List of broken JSON = %v", err)
	}
	if got, err := answering(200, "application/json; charset=utf-8", `{"entries":[{"name":"x","type":"file","modified_at":"not a time"}]}`).List(context.Background(), "d"); err != nil || len(got) != 1 || !got[0].ModTime.IsZero() {
		t.Errorf("List with a bad time = %+v, %v", got, err)
	}
	for _, body := range []string{
		`{"entries":[{"name":"","type":"file"}]}`,
		`{"entries":[{"name":".","type":"directory"}]}`,
		`{"entries":[{"name":"..","type":"directory"}]}`,
		`{"entries":[{"name":"a/b","type":"file"}]}`,
		`{"entries":[{"name":"l","type":"symlink"}]}`,
	} {
		if got, err := answering(200, "application/json", body).List(context.Background(), "d"); err == nil {
			t.Errorf("List of %s = %+v, want an error", body, got)
		}
	}
}
