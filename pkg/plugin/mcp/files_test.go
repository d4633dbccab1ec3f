package mcp

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// filesEnv is a server with one Ready sandbox "box" (sandbox sb-box).
func filesEnv(t *testing.T, opts Options) (*cluster, *client) {
	t.Helper()
	c := newCluster(t)
	cl := connect(t, newServer(t, c, opts).MCP())
	cl.create(map[string]any{"name": "box"})
	return c, cl
}

// TestWriteReadUTF8: text goes in as is, parents created, and comes back
// as utf-8; absolute paths under the runtime's root name the same file.
func TestWriteReadUTF8(t *testing.T) {
	c, cl := filesEnv(t, Options{})
	w := callOK[WriteOut](cl, "sandbox_write_file", map[string]any{"name": "box", "path": "src/pkg/main.py", "content": "print('héllo')\n"})
	if want := (WriteOut{Path: "src/pkg/main.py", Bytes: len("print('héllo')\n")}); w != want {
		t.Errorf("write %+v, want %+v", w, want)
	}
	if got, _ := c.router.File("sb-box", "src/pkg/main.py"); string(got) != "print('héllo')\n" {
		t.Errorf("file %q", got)
	}
	for _, p := range []string{"src/pkg/main.py", "/app/src/pkg/main.py", "./src/../src/pkg/main.py"} {
		r := callOK[ReadOut](cl, "sandbox_read_file", map[string]any{"name": "box", "path": p})
		if want := (ReadOut{Path: p, Content: "print('héllo')\n", Encoding: "utf-8", Bytes: 16}); r != want {
			t.Errorf("read %q: %+v, want %+v", p, r, want)
		}
	}
	// An explicit utf-8 encoding, and an empty file.
	callOK[WriteOut](cl, "sandbox_write_file", map[string]any{"name": "box", "path": "empty", "content": "", "encoding": "utf-8"})
	if r := callOK[ReadOut](cl, "sandbox_read_file", map[string]any{"name": "box", "path": "empty"}); r != (ReadOut{Path: "empty", Encoding: "utf-8"}) {
		t.Errorf("read %+v", r)
	}
}

// TestWriteReadBase64: bytes go in as base64 and, not being UTF-8, come
// back as base64.
func TestWriteReadBase64(t *testing.T) {
	c, cl := filesEnv(t, Options{})
	data := []byte{0, 1, 2, 0xff, 0xfe, 'x'}
	enc := base64.StdEncoding.EncodeToString(data)
	w := callOK[WriteOut](cl, "sandbox_write_file", map[string]any{"name": "box", "path": "bin/data", "content": enc, "encoding": "base64"})
	if w.Bytes != len(data) {
		t.Errorf("write %+v", w)
	}
	if got, _ := c.router.File("sb-box", "bin/data"); string(got) != string(data) {
		t.Errorf("file %q", got)
	}
	r := callOK[ReadOut](cl, "sandbox_read_file", map[string]any{"name": "box", "path": "bin/data"})
	if want := (ReadOut{Path: "bin/data", Content: enc, Encoding: "base64", Bytes: len(data)}); r != want {
		t.Errorf("read %+v, want %+v", r, want)
	}
	// Text written as base64 reads back as text.
	callOK[WriteOut](cl, "sandbox_write_file", map[string]any{"name": "box", "path": "t", "content": base64.StdEncoding.EncodeToString([]byte("text")), "encoding": "base64"})
	if r := callOK[ReadOut](cl, "sandbox_read_file", map[string]any{"name": "box", "path": "t"}); r.Content != "text" || r.Encoding != "utf-8" {
		t.Errorf("read %+v", r)
	}
}

// TestReadTruncated: maxBytes caps a read, and so does the server's cap,
// which a larger maxBytes cannot lift.
func TestReadTruncated(t *testing.T) {
	c, cl := filesEnv(t, Options{MaxReadBytes: 6})
	c.router.WriteFile("sb-box", "f", []byte("0123456789"))
	c.router.WriteFile("sb-box", "small", []byte("0123"))
	for _, tc := range []struct {
		path     string
		maxBytes int
		want     ReadOut
	}{
		{"f", 4, ReadOut{Path: "f", Content: "0123", Encoding: "utf-8", Bytes: 4, Truncated: true}},
		{"f", 0, ReadOut{Path: "f", Content: "012345", Encoding: "utf-8", Bytes: 6, Truncated: true}},
		{"f", 100, ReadOut{Path: "f", Content: "012345", Encoding: "utf-8", Bytes: 6, Truncated: true}},
		{"small", 4, ReadOut{Path: "small", Content: "0123", Encoding: "utf-8", Bytes: 4}},
		{"small", 0, ReadOut{Path: "small", Content: "0123", Encoding: "utf-8", Bytes: 4}},
	} {
		args := map[string]any{"name": "box", "path": tc.path}
		if tc.maxBytes != 0 {
			args["maxBytes"] = tc.maxBytes
		}
		if r := callOK[ReadOut](cl, "sandbox_read_file", args); r != tc.want {
			t.Errorf("%s max %d: %+v, want %+v", tc.path, tc.maxBytes, r, tc.want)
		}
	}
}

// TestFilePathsRefused: the root is not a file, nothing climbs out of it,
// and bad encodings or base64 are refused, all before the runtime is asked.
func TestFilePathsRefused(t *testing.T) {
	c, cl := filesEnv(t, Options{})
	before := len(c.router.Requests())
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"sandbox_write_file", map[string]any{"path": "", "content": "x"}, `path "" is the sandbox's root directory, not a file`},
		{"sandbox_write_file", map[string]any{"path": "/app", "content": "x"}, `path "/app" is the sandbox's root directory, not a file`},
		{"sandbox_write_file", map[string]any{"path": ".", "content": "x"}, `path "." is the sandbox's root directory, not a file`},
		{"sandbox_write_file", map[string]any{"path": "../x", "content": "x"}, `sandbox path "../x" is outside the runtime's root`},
		{"sandbox_write_file", map[string]any{"path": "a/../../x", "content": "x"}, `sandbox path "a/../../x" is outside the runtime's root`},
		{"sandbox_write_file", map[string]any{"path": "/etc/passwd", "content": "x"}, `sandbox path "/etc/passwd" is outside the runtime's root`},
		{"sandbox_write_file", map[string]any{"path": "f", "content": "x", "encoding": "latin1"}, `invalid encoding "latin1": use utf-8 or base64`},
		{"sandbox_write_file", map[string]any{"path": "f", "content": "%%%", "encoding": "base64"}, `content is not valid base64: `},
		{"sandbox_read_file", map[string]any{"path": ""}, `path "" is the sandbox's root directory, not a file`},
		{"sandbox_read_file", map[string]any{"path": "/workspace/"}, `path "/workspace/" is the sandbox's root directory, not a file`},
		{"sandbox_read_file", map[string]any{"path": "../../etc/passwd"}, `sandbox path "../../etc/passwd" is outside the runtime's root`},
		{"sandbox_list_files", map[string]any{"path": "../"}, `sandbox path "../" is outside the runtime's root`},
	} {
		tc.args["name"] = "box"
		if msg := callErr(cl, tc.tool, tc.args); !strings.HasPrefix(msg, tc.want) {
			t.Errorf("%s %v: error %q\nwant %q", tc.tool, tc.args, msg, tc.want)
		}
	}
	if reqs := c.router.Requests()[before:]; len(reqs) != 0 {
		t.Errorf("refused paths reached the runtime: %+v", reqs)
	}
}

// TestReadMissing: a missing file is a tool error.
func TestReadMissing(t *testing.T) {
	_, cl := filesEnv(t, Options{})
	if msg := callErr(cl, "sandbox_read_file", map[string]any{"name": "box", "path": "nope.txt"}); !strings.Contains(msg, "File not found") {
		t.Errorf("error %q", msg)
	}
}

// TestListFiles: the root by default, or a directory, with types, sizes
// and times.
func TestListFiles(t *testing.T) {
	c, cl := filesEnv(t, Options{})
	c.router.WriteFile("sb-box", "src/main.py", []byte("print(1)\n"))
	c.router.WriteFile("sb-box", "README", []byte("hi"))
	root := callOK[FilesOut](cl, "sandbox_list_files", map[string]any{"name": "box"})
	want := FilesOut{Entries: []FileOut{
		{Name: "README", Type: "file", Size: 2, Modified: "2026-11-25T12:00:00Z"},
		{Name: "src", Type: "directory", Modified: "2026-11-25T12:00:00Z"},
	}}
	if !reflect.DeepEqual(root, want) {
		t.Errorf("root %+v\nwant %+v", root, want)
	}
	for _, p := range []string{"src", "/app/src/"} {
		got := callOK[FilesOut](cl, "sandbox_list_files", map[string]any{"name": "box", "path": p})
		if want := (FilesOut{Entries: []FileOut{{Name: "main.py", Type: "file", Size: 9, Modified: "2026-11-25T12:00:00Z"}}}); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v\nwant %+v", p, got, want)
		}
	}
	if msg := callErr(cl, "sandbox_list_files", map[string]any{"name": "box", "path": "nodir"}); !strings.Contains(msg, "not a directory") {
		t.Errorf("error %q", msg)
	}
	// An empty directory is an empty list, not null.
	callOK[ExecOut](cl, "sandbox_exec", map[string]any{"name": "box", "command": []string{"mkdir", "-p", "--", "emptydir"}})
	res := cl.call("sandbox_list_files", map[string]any{"name": "box", "path": "emptydir"})
	if b, _ := json.Marshal(res.StructuredContent); res.IsError || string(b) != `{"entries":[]}` {
		t.Errorf("empty directory: %s (%s)", b, text(res))
	}
}
