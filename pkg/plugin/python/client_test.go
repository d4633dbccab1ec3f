package python

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

func TestExecute(t *testing.T) {
	for _, tc := range []struct {
		name     string
		argv     []string
		status   int
		answer   string
		wantBody string
		want     *sandbox.Result
		wantErr  string
	}{{
		name: "quoted argv and the exit code", argv: []string{"echo", "a b"},
		status: 200, answer: `{"stdout":"a b\n","stderr":"","exit_code":3}`,
		wantBody: `{"command":"echo 'a b'"}`, want: &sandbox.Result{Stdout: "a b\n", ExitCode: 3},
	}, {
		name: "shell syntax stays one argument", argv: []string{"sh", "-c", "echo $HOME > x && true"},
		status: 200, answer: `{"stdout":"","stderr":"oops\n","exit_code":0}`,
		wantBody: `{"command":"sh -c 'echo $HOME \u003e x \u0026\u0026 true'"}`, want: &sandbox.Result{Stderr: "oops\n"},
	}, {
		name: "an answer without exit_code", argv: []string{"true"},
		status: 200, answer: `{"stdout":"","stderr":""}`,
		wantBody: `{"command":"true"}`, wantErr: "execute: the runtime's answer has no exit_code",
	}, {
		name: "an answer that is not JSON", argv: []string{"true"},
		status: 200, answer: `<html>`,
		wantBody: `{"command":"true"}`, wantErr: "execute: decoding the runtime's answer: invalid character '<' looking for beginning of value",
	}, {
		name: "a validation error", argv: []string{"true"},
		status: 422, answer: `{"detail":[{"type":"missing","loc":["body","command"],"msg":"Field required"}]}`,
		wantBody: `{"command":"true"}`, wantErr: `execute: HTTP 422: [{"loc":["body","command"],"msg":"Field required","type":"missing"}]`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if r.Method != http.MethodPost || r.URL.Path != "/execute" || r.Header.Get("Content-Type") != "application/json" || string(body) != tc.wantBody {
					t.Errorf("got %s %s (%s) %s, want POST /execute (application/json) %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"), body, tc.wantBody)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.answer)
			})
			res, err := c.Execute(context.Background(), sandbox.Command{Argv: tc.argv})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || res != nil {
					t.Fatalf("got %+v, %v; want error %s", res, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(res, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", res, err, tc.want)
			}
		})
	}
}

// TestExecuteRefusesArgvItCannotSend: nothing is sent for an argv that
// cannot reach a process exactly.
func TestExecuteRefusesArgvItCannotSend(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("unexpected %s %s", r.Method, r.URL) })
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"echo", "a\x00b"}, "an argument contains a NUL byte, which no process can receive"},
	} {
		if _, err := c.Execute(context.Background(), sandbox.Command{Argv: tc.argv}); err == nil || err.Error() != tc.want {
			t.Errorf("Execute(%q): %v, want %s", tc.argv, err, tc.want)
		}
	}
}

// TestExecuteIsNeverRetried: a command must not run twice, whatever the
// router answers and even when the connection drops.
func TestExecuteIsNeverRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int // 0: drop the connection
		want   string
	}{
		{"502", 502, "execute: HTTP 502: Could not connect to the backend sandbox: python-abcde"},
		{"503", 503, "execute: HTTP 503: Could not connect to the backend sandbox: python-abcde"},
		{"504", 504, "execute: HTTP 504: Timed out waiting for the backend sandbox: python-abcde"},
		{"dropped connection", 0, `execute: the connection to the sandbox router failed after the request was sent: Post "BASE/execute": EOF: the command may have run; it was not retried`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if tc.status == 0 {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err != nil {
						t.Error(err)
						return
					}
					_ = conn.Close()
					return
				}
				detail := "Could not connect to the backend sandbox: python-abcde"
				if tc.status == 504 {
					detail = "Timed out waiting for the backend sandbox: python-abcde"
				}
				answer(w, tc.status, map[string]string{"detail": detail})
			})
			_, err := c.Execute(context.Background(), sandbox.Command{Argv: []string{"true"}})
			want := strings.ReplaceAll(tc.want, "BASE", c.base.String())
			if err == nil || err.Error() != want {
				t.Fatalf("error %v\nwant  %s", err, want)
			}
			if n := calls.Load(); n != 1 {
				t.Fatalf("execute sent %d times", n)
			}
		})
	}
}

// TestGetsAreRetried: idempotent GETs are retried on 502, 503 and 504, up
// to Retries times, and never on other answers.
func TestGetsAreRetried(t *testing.T) {
	for _, tc := range []struct {
		name      string
		statuses  []int // answered in turn; then 200
		wantCalls int32
		wantErr   string
	}{
		{"gateway errors then success", []int{502, 503, 504}, 4, ""},
		{"gateway errors beyond the retries", []int{502, 503, 504, 503}, 4, "exists x: HTTP 503: busy"},
		{"500", []int{500}, 1, "exists x: HTTP 500: busy"},
		{"403", []int{403}, 1, "exists x: HTTP 403: busy"},
		{"404", []int{404}, 1, "exists x: HTTP 404: busy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				n := int(calls.Add(1))
				if n <= len(tc.statuses) {
					answer(w, tc.statuses[n-1], map[string]string{"detail": "busy"})
					return
				}
				answer(w, 200, map[string]any{"path": "x", "exists": true})
			})
			ok, err := c.Exists(context.Background(), "x")
			if tc.wantErr == "" && (err != nil || !ok) || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Errorf("got %v, %v; want error %q", ok, err, tc.wantErr)
			}
			if n := calls.Load(); n != tc.wantCalls {
				t.Errorf("%d calls, want %d", n, tc.wantCalls)
			}
		})
	}
}

// TestReach: the health check is GET /, asked again while the router
// answers 502 (it cannot find the sandbox yet); a runtime's own refusal
// ends it with that refusal.
func TestReach(t *testing.T) {
	var calls atomic.Int32
	var uris []string
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		uris = append(uris, r.Method+" "+r.RequestURI)
		switch calls.Add(1) {
		case 1, 2:
			answer(w, 502, map[string]string{"detail": "Could not connect to the backend sandbox: s"})
		case 3:
			answer(w, 200, map[string]string{"status": "ok"})
		default:
			answer(w, 404, map[string]string{"detail": "Not Found"})
		}
	})
	c.Backoff = time.Millisecond
	if err := c.Reach(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"GET /", "GET /", "GET /"}; !reflect.DeepEqual(uris, want) {
		t.Errorf("requests %q, want %q", uris, want)
	}
	if err := c.Reach(context.Background()); err == nil || err.Error() != "health check: HTTP 404: Not Found" {
		t.Errorf("a 404: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestConnectionErrors: a router that cannot be reached is a *ConnError
// wrapping the cause, and GETs are retried on it.
func TestConnectionErrors(t *testing.T) {
	boom := errors.New("boom")
	var calls atomic.Int32
	base, _ := url.Parse("http://router.test/")
	c := NewClient(base, roundTripFunc(func(*http.Request) (*http.Response, error) {
		calls.Add(1)
		return nil, boom
	}), token, target)
	c.Backoff = time.Millisecond
	_, err := c.List(context.Background(), "a b")
	var ce *ConnError
	if want := `list a b: cannot reach the sandbox router: Get "http://router.test/list/a%2520b": boom`; err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
	if !errors.As(err, &ce) || ce.Op != "list a b" || !errors.Is(err, boom) {
		t.Errorf("%#v does not wrap boom in a *ConnError", err)
	}
	if n := calls.Load(); n != 4 {
		t.Errorf("%d attempts, want 4", n)
	}
}

// closeHook calls onClose once the body is closed.
type closeHook struct {
	io.ReadCloser
	onClose func()
}

func (c closeHook) Close() error {
	err := c.ReadCloser.Close()
	c.onClose()
	return err
}

// lateContext hides its end from Err, so that it ends, to the code that
// checks Err first, only during the wait that follows the check.
type lateContext struct{ context.Context }

func (lateContext) Err() error { return nil }

// TestRetriesStopWhenTheContextEnds: the caller's context ends once the
// first answer was read; the (hour-long) backoff gives way to it, whether
// the end is seen before the wait or during it.
func TestRetriesStopWhenTheContextEnds(t *testing.T) {
	for _, late := range []bool{false, true} {
		t.Run(fmt.Sprintf("late=%v", late), func(t *testing.T) { testRetriesStop(t, late) })
	}
}

func testRetriesStop(t *testing.T, late bool) {
	var calls atomic.Int32
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		answer(w, 503, map[string]string{"detail": "busy"})
	})
	c.Backoff = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	next := c.http.Transport
	c.http.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(r)
		if err == nil {
			resp.Body = closeHook{resp.Body, cancel}
		}
		return resp, err
	})
	if late {
		ctx = lateContext{ctx}
	}
	_, err := c.Exists(ctx, "x")
	if err == nil || err.Error() != "exists x: HTTP 503: busy" || calls.Load() != 1 {
		t.Fatalf("error %v after %d calls", err, calls.Load())
	}
}

// TestRequestHeaders: the routing headers follow the target, the bearer
// token is sent only when set, and a deadline becomes X-Sandbox-Timeout.
func TestRequestHeaders(t *testing.T) {
	for _, tc := range []struct {
		name     string
		target   Target
		token    string
		deadline bool
		want     http.Header
	}{{
		name: "all", target: target, token: "t0k", deadline: true,
		want: http.Header{"X-Sandbox-Id": {"python-abcde"}, "X-Sandbox-Namespace": {"team-a"}, "X-Sandbox-Port": {"8888"},
			"X-Sandbox-Pod-Ip": {"10.0.0.7"}, "Authorization": {"Bearer t0k"}, "X-Sandbox-Timeout": {"SET"}},
	}, {
		name: "no pod IP, no token, no deadline", target: Target{SandboxID: "s", Namespace: "default", Port: 9000},
		want: http.Header{"X-Sandbox-Id": {"s"}, "X-Sandbox-Namespace": {"default"}, "X-Sandbox-Port": {"9000"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var got http.Header
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = http.Header{}
				for k, v := range r.Header {
					if k == "Authorization" || strings.HasPrefix(k, "X-Sandbox-") {
						got[k] = v
					}
				}
				answer(w, 200, map[string]any{"exists": true})
			}))
			defer srv.Close()
			base, _ := url.Parse(srv.URL)
			ctx := context.Background()
			if tc.deadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Minute)
				defer cancel()
			}
			if _, err := NewClient(base, srv.Client().Transport, tc.token, tc.target).Exists(ctx, "x"); err != nil {
				t.Fatal(err)
			}
			if v := got.Get("X-Sandbox-Timeout"); v != "" {
				if secs, err := strconv.ParseFloat(v, 64); err != nil || secs <= 0 || secs > 60 {
					t.Errorf("X-Sandbox-Timeout %q, want the seconds left, at most 60", v)
				}
				got.Set("X-Sandbox-Timeout", "SET")
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("headers %v\nwant    %v", got, tc.want)
			}
		})
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var calls atomic.Int32
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	_, err := c.List(context.Background(), "")
	if want := "list : HTTP 302: redirected to /elsewhere (redirects are not followed)"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d requests: a redirect was followed", n)
	}
}

// TestEncodePath: paths are percent-encoded twice, since the runtime
// unquotes the already-decoded path once more.
func TestEncodePath(t *testing.T) {
	for in, want := range map[string]string{
		"a.txt":          "a.txt",
		"dir/ü b%41.txt": "dir%252F%25C3%25BC%2520b%252541.txt",
		"a?b#c;d+e":      "a%253Fb%2523c%253Bd%252Be",
		"~_-.":           "~_-.",
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
}

// TestGetPaths: each GET reaches its endpoint with the path encoded twice.
func TestGetPaths(t *testing.T) {
	var uris []string
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		uris = append(uris, r.RequestURI)
		switch {
		case strings.HasPrefix(r.URL.Path, "/list/"):
			_, _ = io.WriteString(w, `[]`)
		case strings.HasPrefix(r.URL.Path, "/exists/"):
			_, _ = io.WriteString(w, `{"exists":false}`)
		}
	})
	ctx := context.Background()
	body, _, err := c.Download(ctx, "dir/x y")
	if err != nil {
		t.Fatal(err)
	}
	_ = body.Close()
	if _, err := c.List(ctx, "d/ü"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exists(ctx, "50%"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/download/dir%252Fx%2520y", "/list/d%252F%25C3%25BC", "/exists/50%2525"}; !reflect.DeepEqual(uris, want) {
		t.Errorf("request URIs %q\nwant %q", uris, want)
	}
}

// TestUploadStreamsMultipart: the body arrives as a multipart "file" part
// whose filename is the destination path, chunked (not buffered whole).
func TestUploadStreamsMultipart(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 300000)
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/upload" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		if r.ContentLength != -1 {
			t.Errorf("upload has a Content-Length (%d): the body was buffered", r.ContentLength)
		}
		mr, err := r.MultipartReader()
		if err != nil {
			t.Error(err)
			return
		}
		part, err := mr.NextPart()
		if err != nil {
			t.Error(err)
			return
		}
		got, _ := io.ReadAll(part)
		// The raw header: Go's FileName() would strip the directory.
		if cd := part.Header.Get("Content-Disposition"); cd != `form-data; name="file"; filename="dir/data.bin"` || !bytes.Equal(got, content) {
			t.Errorf("content-disposition %q, %d bytes", cd, len(got))
		}
		if _, err := mr.NextPart(); !errors.Is(err, io.EOF) {
			t.Errorf("more than one part: %v", err)
		}
		_, _ = io.WriteString(w, `{"message":"File 'dir/data.bin' uploaded successfully."}`)
	})
	if err := c.Upload(context.Background(), "dir/data.bin", bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
}

// endless is an endless reader of zeros.
type endless struct{}

func (endless) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestUploadErrors: the runtime's refusal is returned; an early answer
// stops the streaming (without it, Upload would never return: the content
// is endless); a local read error ends the upload.
func TestUploadErrors(t *testing.T) {
	rt, c := newRuntime(t)
	if err := c.Upload(context.Background(), "no/such/dir/f", bytes.NewReader([]byte("x"))); err == nil ||
		err.Error() != "upload no/such/dir/f: HTTP 500: File upload failed: no such file or directory" {
		t.Errorf("missing parent: %v", err)
	}
	if err := c.Upload(context.Background(), "../x", bytes.NewReader([]byte("x"))); err == nil || err.Error() != "upload ../x: HTTP 403: Access denied" {
		t.Errorf("outside the root: %v", err)
	}
	if got := rt.Requests(); !reflect.DeepEqual(got, []string{"upload: no/such/dir/f", "upload: ../x"}) {
		t.Errorf("requests %q", got)
	}

	early := serve(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusUnauthorized, map[string]string{"detail": "Invalid token."})
	})
	if err := early.Upload(context.Background(), "big", endless{}); err == nil || err.Error() != "upload big: HTTP 401: Invalid token." {
		t.Errorf("early answer: %v", err)
	}

	broken := errors.New("disk on fire")
	err := c.Upload(context.Background(), "f", io.MultiReader(bytes.NewReader([]byte("partial")), iotest.ErrReader(broken)))
	var ce *ConnError
	var se *SentError
	if errors.As(err, &ce) || errors.As(err, &se) || !errors.Is(err, broken) || err.Error() != "upload f: reading what to send: disk on fire" {
		t.Errorf("read error: %v", err)
	}
}

func TestDownload(t *testing.T) {
	for _, tc := range []struct {
		name     string
		chunked  bool
		wantSize int64
	}{
		{"with a length", false, 11},
		{"chunked", true, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if !tc.chunked {
					w.Header().Set("Content-Length", "11")
				}
				_, _ = io.WriteString(w, "hello ")
				_ = http.NewResponseController(w).Flush() // chunked without a length
				_, _ = io.WriteString(w, "world")
			})
			body, size, err := c.Download(context.Background(), "f")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(body)
			_ = body.Close()
			if err != nil || string(got) != "hello world" || size != tc.wantSize {
				t.Errorf("got %q (size %d), %v; want hello world, size %d", got, size, err, tc.wantSize)
			}
		})
	}
}

func TestList(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/list/d":
			_, _ = io.WriteString(w, `[{"name":"a b","size":3,"type":"file","mod_time":1700000000.25},`+
				`{"name":"sub","size":4096,"type":"directory","mod_time":0}]`)
		case "/list/bad":
			_, _ = io.WriteString(w, `{"message":"not a list"}`)
		default:
			answer(w, 404, map[string]string{"message": "Path is not a directory"})
		}
	})
	got, err := c.List(context.Background(), "d")
	want := []sandbox.Entry{
		{Name: "a b", Size: 3, Type: "file", ModTime: time.Date(2023, 11, 14, 22, 13, 20, 250000000, time.UTC)},
		{Name: "sub", Size: 4096, Type: "directory", ModTime: time.Unix(0, 0).UTC()},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, %v\nwant %+v", got, err, want)
	}
	if got[0].IsDir() || !got[1].IsDir() {
		t.Errorf("IsDir: %v %v", got[0].IsDir(), got[1].IsDir())
	}
	if _, err := c.List(context.Background(), "bad"); err == nil ||
		err.Error() != "list bad: decoding the runtime's answer: not a JSON array" {
		t.Errorf("not a list: %v", err)
	}
	if _, err := c.List(context.Background(), "f"); !errors.Is(err, sandbox.ErrNotFound) || err.Error() != "list f: HTTP 404: Path is not a directory" {
		t.Errorf("not a directory: %v", err)
	}
}

func TestExists(t *testing.T) {
	rt, c := newRuntime(t)
	rt.Write("here/f", "x")
	for _, tc := range []struct {
		path    string
		want    bool
		wantErr string
	}{
		{"here/f", true, ""},
		{"here", true, ""},
		{"gone", false, ""},
		{"../etc", false, "exists ../etc: HTTP 403: Access denied"},
	} {
		got, err := c.Exists(context.Background(), tc.path)
		if got != tc.want || tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
			t.Errorf("Exists(%q) = %v, %v; want %v, %q", tc.path, got, err, tc.want, tc.wantErr)
		}
	}
	bad := serve(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "yes") })
	if _, err := bad.Exists(context.Background(), "x"); err == nil ||
		err.Error() != "exists x: decoding the runtime's answer: invalid character 'y' looking for beginning of value" {
		t.Errorf("bad answer: %v", err)
	}
}

// TestRemove: an exact argv with "--", so that no path is an option, never
// the root, and a missing path is sandbox.ErrNotFound.
func TestRemove(t *testing.T) {
	rt, c := newRuntime(t)
	rt.Write("-f", "x")
	rt.Write("my dir/sub/f", "x")
	ctx := context.Background()
	if err := c.Remove(ctx, "-f", false); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, "my dir", true); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, "my dir2", false); !errors.Is(err, sandbox.ErrNotFound) || err.Error() != "removing my dir2: not found" {
		t.Errorf("rm of a missing file: %v", err)
	}
	if got := tree(t, rt.Root); len(got) != 0 {
		t.Errorf("left %v", got)
	}
	want := []string{"execute: rm -- -f", "execute: rm -r -- 'my dir'", "execute: rm -- 'my dir2'", "exists: my dir2"}
	if got := rt.Requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests %q\nwant %q", got, want)
	}
	rt.Write("d/f", "x")
	if err := c.Remove(ctx, "d", false); err == nil || err.Error() != "removing d in the sandbox: exit code 1: rm: cannot remove 'd': is a directory" {
		t.Errorf("rm of a directory: %v", err)
	}
}

// TestHTTPErrors: the router's {"detail"} and the runtime's {"message"}
// bodies, anything else shortened to one line, redirects named; only the
// runtime's 404 is sandbox.ErrNotFound.
func TestHTTPErrors(t *testing.T) {
	long := strings.Repeat("x", 250)
	for _, tc := range []struct {
		name        string
		status      int
		header      string // Location
		body        string
		want        string
		fromRuntime bool
		notFound    bool
	}{
		{"router detail", 400, "", `{"detail":"Invalid target IP address."}`, "download f: HTTP 400: Invalid target IP address.", false, false},
		{"router token", 401, "", `{"detail":"Invalid token."}`, "download f: HTTP 401: Invalid token.", false, false},
		{"runtime message", 403, "", `{"message":"Access denied"}`, "download f: HTTP 403: Access denied", true, false},
		{"runtime 404", 404, "", `{"message":"File not found"}`, "download f: HTTP 404: File not found", true, true},
		{"router 404", 404, "", `{"detail":"Not Found"}`, "download f: HTTP 404: Not Found", false, false},
		{"plain 404", 404, "", `404 page not found`, "download f: HTTP 404: 404 page not found", false, false},
		{"structured detail", 422, "", `{"detail":{"loc":["path"]}}`, `download f: HTTP 422: {"loc":["path"]}`, false, false},
		{"html", 500, "", "<html>\n  <body>oops</body>\n</html>\n", "download f: HTTP 500: <html> <body>oops</body> </html>", false, false},
		{"long", 500, "", long, "download f: HTTP 500: " + long[:200] + "...", false, false},
		{"empty", 500, "", "", "download f: HTTP 500", false, false},
		{"redirect", 307, "https://elsewhere/x", `{"detail":"moved"}`, "download f: HTTP 307: redirected to https://elsewhere/x (redirects are not followed)", false, false},
		{"location without a redirect", 500, "https://elsewhere/x", `{"detail":"broken"}`, "download f: HTTP 500: broken", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("Location", tc.header)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			_, _, err := c.Download(context.Background(), "f")
			var he *sandbox.HTTPError
			if !errors.As(err, &he) || err.Error() != tc.want {
				t.Fatalf("error %v\nwant  %s", err, tc.want)
			}
			if he.Status != tc.status || he.Sandbox != "python-abcde" || he.FromRuntime != tc.fromRuntime {
				t.Errorf("%+v", he)
			}
			if errors.Is(err, sandbox.ErrNotFound) != tc.notFound {
				t.Errorf("errors.Is(sandbox.ErrNotFound) = %v", !tc.notFound)
			}
		})
	}
}

// TestCommandTimeout: a command that outlives the timeout is a
// *sandbox.CommandTimeoutError: the request is cancelled.
func TestCommandTimeout(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then the server sees the client go
		<-r.Context().Done()               // the command runs until the client gives up
	})
	// The timeout is what is under test.
	res, err := sandbox.Run(context.Background(), c, sandbox.Command{Argv: []string{"sleep", "infinity"}}, sandbox.IO{Timeout: 50 * time.Millisecond})
	var te *sandbox.CommandTimeoutError
	if !errors.As(err, &te) || te.After != 50*time.Millisecond || res != nil {
		t.Fatalf("got %+v, %v", res, err)
	}
	if want := "the command did not finish within 50ms; it may still be running in the sandbox"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}
