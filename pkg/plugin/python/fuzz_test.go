package python

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// The fuzz targets of the encoders and decoders that meet users or the
// network. `go test` runs their seeds (f.Add and testdata/fuzz); `make
// fuzz` explores further.

// FuzzJoinArgvMatchesShlex: the runtime's real shlex.split, given the body
// that Execute sends, recovers exactly the argv that JoinArgv joined; an
// argv that cannot arrive exactly (a NUL byte, bytes that are not UTF-8)
// is refused, naming the reason. argv is the input split at sep.
func FuzzJoinArgvMatchesShlex(f *testing.F) {
	for _, argv := range hostileArgs {
		f.Add(strings.Join(argv, "\x1f"), byte(0x1f))
	}
	f.Add("echo\x00a\x00b", byte(0))
	f.Add("echo a\x00b", byte(' '))
	f.Add("cat caf\xe9", byte(' '))
	f.Add("printf\t'%s'\tnon-breaking\u00a0space\tnel\u0085", byte('\t'))
	f.Fuzz(func(t *testing.T, joined string, sep byte) {
		argv := strings.Split(joined, string([]byte{sep}))
		cmd, err := JoinArgv(argv)
		for _, a := range argv {
			switch {
			case strings.ContainsRune(a, 0):
				if err == nil || err.Error() != "an argument contains a NUL byte, which no process can receive" {
					t.Fatalf("JoinArgv(%q) = %q, %v; want the NUL byte refused", argv, cmd, err)
				}
				return
			case !utf8.ValidString(a):
				if want := "argument " + strconv.Quote(a) + " is not valid UTF-8, which the sandbox runtime cannot receive exactly"; err == nil || err.Error() != want {
					t.Fatalf("JoinArgv(%q) = %q, %v; want %s", argv, cmd, err, want)
				}
				return
			}
		}
		if err != nil {
			t.Fatalf("JoinArgv(%q): %v", argv, err)
		}
		if got := runtimeSplit(t, cmd); !reflect.DeepEqual(got, argv) {
			t.Fatalf("argv %q\njoined %q\nsplit  %q", argv, cmd, got)
		}
	})
}

// FuzzEncodePath: the encoded path holds only unreserved characters and
// %XX; decoded twice (the HTTP layer, then the runtime) it is the path
// again, byte for byte; and it survives the Go router, which re-encodes
// the path it decoded.
func FuzzEncodePath(f *testing.F) {
	for _, p := range []string{"", "a.txt", "dir/ü b%41.txt", "a?b#c;d+e", "~_-.", "%2F", "%", "%%zz", "\x00\xff", "../x", "日本/🎉"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		enc := EncodePath(p)
		for i := 0; i < len(enc); i++ {
			c := enc[i]
			switch {
			case c < utf8.RuneSelf && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || strings.IndexByte("-_.~", c) >= 0):
			case c == '%' && i+2 < len(enc) && isUpperHex(enc[i+1]) && isUpperHex(enc[i+2]):
				i += 2
			default:
				t.Fatalf("EncodePath(%q) = %q: byte %d (%q) is neither unreserved nor %%XX", p, enc, i, c)
			}
		}
		once, err := url.PathUnescape(enc)
		if err != nil {
			t.Fatalf("EncodePath(%q) = %q: %v", p, enc, err)
		}
		twice, err := url.PathUnescape(once)
		if err != nil || twice != p {
			t.Fatalf("EncodePath(%q) = %q decodes twice to %q, %v", p, enc, twice, err)
		}
		if again := (&url.URL{Path: once}).EscapedPath(); again != enc {
			t.Fatalf("EncodePath(%q) = %q: re-encoded after one decoding it is %q", p, enc, again)
		}
	})
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

// oneLineError fails the test unless err is one line of valid UTF-8.
func oneLineError(t *testing.T, err error) {
	t.Helper()
	if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || !utf8.ValidString(msg) {
		t.Fatalf("not one line of UTF-8: %q", msg)
	}
}

// FuzzDecodeListing: whatever the runtime answers a listing with, decoding
// does not panic; garbage (anything but a JSON array of entries, each name
// once) is a one-line error; and what is accepted is the array's entries,
// in order.
func FuzzDecodeListing(f *testing.F) {
	for _, s := range []string{
		`[{"name":"a b","size":3,"type":"file","mod_time":1700000000.25},{"name":"sub","size":4096,"type":"directory","mod_time":0}]`,
		`[]`, `null`, `{"message":"Path is not a directory"}`, `<html><body>502 Bad Gateway</body></html>`,
		`[{"name":"x"},{"name":"x"}]`, `[{"name":".."},{"name":"/etc"},{"name":"a\\b"}]`, `[{},{}]`, `[null]`, `[1]`,
		`[{"name":"f","size":"3"}]`, `[{"name":"f","mod_time":1e300}]`, `[{"name":"f","mod_time":-1.5}]`,
		`[{"name":"f"}`, `[{"name":"f"} {"name":"g"}]`, `[{"name":"f"}] trailing`, `[{"name":"\ud800"}]`, "[{\"name\":\"\xff\"}]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := decodeListing(bytes.NewReader(data))
		if err != nil {
			if entries != nil {
				t.Fatalf("entries %v with error %v", entries, err)
			}
			oneLineError(t, err)
			return
		}
		var raw []json.RawMessage
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil || raw == nil || len(raw) != len(entries) {
			t.Fatalf("accepted %q as %d entries; as JSON it is %d, %v", data, len(entries), len(raw), err)
		}
		seen := map[string]bool{}
		for i, e := range entries {
			var named struct{ Name string }
			_ = json.Unmarshal(raw[i], &named)
			if e.Name != named.Name || seen[e.Name] {
				t.Fatalf("entry %d of %q is %+v (seen: %v)", i, data, e, seen[e.Name])
			}
			seen[e.Name] = true
		}
	})
}

// FuzzDecodeExecuteResult: whatever the runtime answers a command with,
// decoding does not panic; an answer without an exit_code, or that is not
// JSON, is a one-line error; and what is accepted reads back the same.
func FuzzDecodeExecuteResult(f *testing.F) {
	for _, s := range []string{
		`{"stdout":"a b\n","stderr":"","exit_code":3}`, `{"stdout":"","stderr":"Failed to execute command: [Errno 2] No such file or directory: 'nope'","exit_code":1}`,
		`{"stdout":"","stderr":""}`, `{"exit_code":null}`, `{"exit_code":1.5}`, `{"exit_code":1e100}`, `{"exit_code":"0"}`,
		`{"detail":[{"type":"missing","loc":["body","command"],"msg":"Field required"}]}`, `null`, `[]`, `<html>`, ``,
		`{"stdout":"\u0000\ud83c\udf89","exit_code":0}`, `{"EXIT_CODE":2}`, `{"exit_code":0} {"exit_code":1}`, "{\"stdout\":\"\xff\",\"exit_code\":0}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := decodeResult(bytes.NewReader(data))
		if err != nil {
			if res != nil {
				t.Fatalf("result %+v with error %v", res, err)
			}
			oneLineError(t, err)
			return
		}
		var fields map[string]json.RawMessage
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&fields); err != nil || !hasExitCode(fields) {
			t.Fatalf("accepted %q, which has no exit_code (%v)", data, err)
		}
		again, _ := json.Marshal(map[string]any{"stdout": res.Stdout, "stderr": res.Stderr, "exit_code": res.ExitCode})
		if back, err := decodeResult(bytes.NewReader(again)); err != nil || *back != *res {
			t.Fatalf("%q decodes to %+v, which reads back as %+v, %v", data, res, back, err)
		}
	})
}

// hasExitCode says whether an answer has an exit_code that is not null,
// under any case of its name (encoding/json ignores it).
func hasExitCode(fields map[string]json.RawMessage) bool {
	for k, v := range fields {
		if strings.EqualFold(k, "exit_code") && string(v) != "null" {
			return true
		}
	}
	return false
}

// FuzzHTTPErrorBody: whatever the router or the runtime answers with an
// error, it becomes one line of bounded length, in the form "OP: HTTP
// STATUS[: DETAIL]", and only the runtime's 404 is sandbox.ErrNotFound.
func FuzzHTTPErrorBody(f *testing.F) {
	for _, tc := range []struct {
		status   int
		location string
		body     string
	}{
		{400, "", `{"detail":"Invalid target IP address."}`},
		{403, "", `{"message":"Access denied"}`},
		{404, "", `{"message":"File not found"}`},
		{404, "", `{"detail":"Not Found"}`},
		{422, "", `{"detail":[{"type":"missing","loc":["body","command"],"msg":"Field required"}]}`},
		{500, "", "<html>\n  <head><title>500 Internal Server Error</title></head>\n<body>oops</body>\n</html>\n"},
		{500, "", `{"message":"line one\nline two\r\n\u001b[31mred\u001b[0m"}`},
		{502, "", strings.Repeat("é", 300)},
		{302, "https://elsewhere.example/x\n\x1b[2J", `{"detail":"moved"}`},
		{307, "/elsewhere", ""},
		{500, "", "\xff\xfe\x00binary"},
	} {
		f.Add(tc.status, tc.location, []byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, status int, location string, body []byte) {
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
		if location != "" {
			resp.Header.Set("Location", location)
		}
		e := newHTTPError("download f", target, resp)
		msg := e.Error()
		for _, r := range msg {
			if unicode.IsControl(r) {
				t.Fatalf("control character %q in %q", r, msg)
			}
		}
		oneLineError(t, e)
		if len(e.Detail) > maxErrorBody+len("...") {
			t.Fatalf("a detail of %d bytes", len(e.Detail))
		}
		want := "download f: HTTP " + strconv.Itoa(status)
		if e.Detail != "" {
			want += ": " + e.Detail
		}
		if msg != want || e.Status != status || e.Sandbox != target.SandboxID {
			t.Fatalf("%q, %+v", msg, e)
		}
		if errors.Is(e, sandbox.ErrNotFound) != (status == http.StatusNotFound && e.FromRuntime) {
			t.Fatalf("errors.Is(%+v, sandbox.ErrNotFound) = %v", e, errors.Is(e, sandbox.ErrNotFound))
		}
	})
}
