package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var target = Target{SandboxID: "python-abcde", Namespace: "team-a", Port: 8888, PodIP: "10.0.0.7"}

// router is an httptest router that checks the routing headers of every
// request and fails the test on anything unexpected.
func router(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for h, want := range map[string]string{
			"X-Sandbox-ID": "python-abcde", "X-Sandbox-Namespace": "team-a",
			"X-Sandbox-Port": "8888", "X-Sandbox-Pod-IP": "10.0.0.7", "Authorization": "Bearer s3cret",
		} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s %s: header %s = %q, want %q", r.Method, r.URL.Path, h, got, want)
			}
		}
		handle(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c := NewClient(u, srv.Client().Transport, "s3cret", target)
	c.Backoff = time.Millisecond
	return c
}

func TestExecute(t *testing.T) {
	c := router(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/execute" || string(body) != `{"command":"echo 'a b'"}` || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("unexpected %s %s %q", r.Method, r.URL.Path, body)
		}
		_, _ = io.WriteString(w, `{"stdout":"a b\n","stderr":"","exit_code":3}`)
	})
	res, err := c.Execute(context.Background(), "echo 'a b'")
	if err != nil || *res != (Result{Stdout: "a b\n", ExitCode: 3}) {
		t.Fatalf("%+v %v", res, err)
	}
}

// TestExecuteIsNeverRetried: a command must not run twice, even on a 502.
func TestExecuteIsNeverRetried(t *testing.T) {
	var calls atomic.Int32
	c := router(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, `{"detail":"Could not connect to the backend sandbox: python-abcde"}`)
	})
	_, err := c.Execute(context.Background(), "true")
	want := "execute: HTTP 502: Could not connect to the backend sandbox: python-abcde: router could not reach sandbox python-abcde: is it Ready? does its NetworkPolicy admit the router?"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant %s", err, want)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("execute sent %d times", n)
	}
}

func TestGetsAreRetriedOnGatewayErrors(t *testing.T) {
	var calls atomic.Int32
	c := router(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"path":"x","exists":true}`)
	})
	ok, err := c.Exists(context.Background(), "x")
	if err != nil || !ok || calls.Load() != 3 {
		t.Fatalf("exists=%v err=%v calls=%d", ok, err, calls.Load())
	}
}

func TestGetsAreNotRetriedOnClientErrors(t *testing.T) {
	var calls atomic.Int32
	c := router(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"File not found"}`)
	})
	_, _, err := c.Download(context.Background(), "nope")
	if err == nil || err.Error() != "download nope: HTTP 404: File not found: no such file or directory in the sandbox" || calls.Load() != 1 {
		t.Fatalf("err %v calls %d", err, calls.Load())
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	c := router(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/list/" {
			t.Errorf("followed a redirect to %s", r.URL.Path)
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	_, err := c.List(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "HTTP 302: redirected to /elsewhere (redirects are not followed)") {
		t.Fatalf("err %v", err)
	}
}

// TestPathEncoding: paths are percent-encoded twice, since the runtime
// unquotes the already-decoded path once more.
func TestPathEncoding(t *testing.T) {
	for in, want := range map[string]string{
		"a.txt":          "a.txt",
		"dir/ü b%41.txt": "dir%252F%25C3%25BC%2520b%252541.txt",
		".":              ".",
		"":               "",
	} {
		if got := EncodePath(in); got != want {
			t.Errorf("EncodePath(%q) = %q, want %q", in, got, want)
		}
		dec, _ := url.PathUnescape(want)
		dec, _ = url.PathUnescape(dec)
		if dec != in {
			t.Errorf("double decoding %q gives %q", want, dec)
		}
	}
	c := router(t, func(w http.ResponseWriter, r *http.Request) {
		if r.RequestURI != "/download/dir%252Fx%2520y" {
			t.Errorf("request URI %q", r.RequestURI)
		}
	})
	body, _, err := c.Download(context.Background(), "dir/x y")
	if err != nil {
		t.Fatal(err)
	}
	body.Close()
}

// TestUploadStreamsMultipart: the body arrives as a multipart "file" part
// named after the destination, chunked (not buffered whole).
func TestUploadStreamsMultipart(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 100000)
	c := router(t, func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != -1 {
			t.Errorf("upload has a Content-Length (%d): the body was buffered", r.ContentLength)
		}
		mr, err := r.MultipartReader()
		if err != nil {
			t.Fatal(err)
		}
		part, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(part)
		// The raw header: Go's FileName() would strip the directory.
		if cd := part.Header.Get("Content-Disposition"); cd != `form-data; name="file"; filename="dir/data.bin"` || !bytes.Equal(got, content) {
			t.Errorf("content-disposition %q, %d bytes", cd, len(got))
		}
		_, _ = io.WriteString(w, `{"message":"ok"}`)
	})
	if err := c.Upload(context.Background(), "dir/data.bin", bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
}

func TestRouterErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{400, `{"detail":"Invalid target IP address."}`, "list x: HTTP 400: Invalid target IP address.: the router rejected the request"},
		{401, `{"detail":"Invalid token."}`, "list x: HTTP 401: Invalid token.: the router refused the request (set --router-token, --router-token-file or KUBECTL_SANDBOX_ROUTER_TOKEN)"},
		{403, `{"message":"Access denied"}`, "list x: HTTP 403: Access denied: the path is outside the sandbox's root directory"},
		{500, `oops <html>`, "list x: HTTP 500: oops <html>"},
	} {
		c := router(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			_, _ = io.WriteString(w, tc.body)
		})
		_, err := c.List(context.Background(), "x")
		var he *HTTPError
		if !errors.As(err, &he) || err.Error() != tc.want {
			t.Errorf("%d: %v\nwant %s", tc.status, err, tc.want)
		}
	}
}

func TestRemotePath(t *testing.T) {
	for in, want := range map[string]string{"": "", ".": "", "a/b/": "a/b", "/app": "", "/app/x/../y": "y", "../etc": "../etc"} {
		if got, err := RemotePath(in); err != nil || got != want {
			t.Errorf("RemotePath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := RemotePath("/etc/passwd"); err == nil || err.Error() != `sandbox path "/etc/passwd" is outside /app, the only directory the sandbox runtime serves` {
		t.Errorf("got %v", err)
	}
}
