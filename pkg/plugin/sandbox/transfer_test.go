package sandbox_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// progressLog records the names that a sandbox.Progress wrapped, and counts the
// bytes read through it.
type progressLog struct {
	mu    sync.Mutex
	names []string
	bytes int
}

func (p *progressLog) wrap(name string, r io.Reader) io.Reader {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.names = append(p.names, name)
	return readFunc(func(b []byte) (int, error) {
		n, err := r.Read(b)
		p.mu.Lock()
		p.bytes += n
		p.mu.Unlock()
		return n, err
	})
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(b []byte) (int, error) { return f(b) }

// TestUploadTree: directories first, in one mkdir, then one upload per
// file; the result in the sandbox is the local tree, byte for byte.
func TestUploadTree(t *testing.T) {
	local := t.TempDir()
	files := map[string]string{
		"top.txt":          "top\n",
		"a/b c/ü.bin":      "\x00\x01binary\xff",
		"a/b c/deep/x.txt": strings.Repeat("x", 3<<20), // several buffers
		"empty/":           "",
	}
	sandbox.WriteTree(t, local, files)
	for _, tc := range []struct {
		name, remote string
		want         []string
	}{{
		name: "into a new directory", remote: "dst",
		want: []string{
			"execute: mkdir -p -- dst dst/a 'dst/a/b c' 'dst/a/b c/deep' dst/empty",
			"upload: dst/a/b c/deep/x.txt", "upload: dst/a/b c/ü.bin", "upload: dst/top.txt",
		},
	}, {
		name: "into the root", remote: "",
		want: []string{
			"execute: mkdir -p -- a 'a/b c' 'a/b c/deep' empty",
			"upload: a/b c/deep/x.txt", "upload: a/b c/ü.bin", "upload: top.txt",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rt, c := newRuntime(t)
			var p progressLog
			n, err := sandbox.UploadTreeBy(context.Background(), c, local, tc.remote, p.wrap, sandbox.MethodFiles)
			if err != nil || n != 3 {
				t.Fatalf("sandbox.UploadTree: %d, %v", n, err)
			}
			if got := rt.Requests(); !reflect.DeepEqual(inPhases(got), inPhases(tc.want)) {
				t.Errorf("requests %q\nwant %q", got, tc.want)
			}
			if got := sandbox.Tree(t, filepath.Join(rt.Root, tc.remote)); !reflect.DeepEqual(got, withDirs(files)) {
				t.Errorf("the sandbox holds %d entries, want %d", len(got), len(withDirs(files)))
			}
			slices.Sort(p.names)
			var want []string
			for _, rel := range []string{"a/b c/deep/x.txt", "a/b c/ü.bin", "top.txt"} {
				want = append(want, path.Join(tc.remote, rel))
			}
			if !reflect.DeepEqual(p.names, want) || p.bytes != 4+len("\x00\x01binary\xff")+3<<20 {
				t.Errorf("progress saw %q, %d bytes", p.names, p.bytes)
			}
		})
	}
}

// withDirs adds the parent directories of files, as tree reports them.
func withDirs(files map[string]string) map[string]string {
	out := map[string]string{}
	for name, content := range files {
		out[name] = content
		for d := filepath.Dir(strings.TrimSuffix(name, "/")); d != "."; d = filepath.Dir(d) {
			out[d+"/"] = ""
		}
	}
	return out
}

// TestUploadTreeOfAnEmptyRoot: nothing to create, nothing to send.
func TestUploadTreeOfAnEmptyRoot(t *testing.T) {
	rt, c := newRuntime(t)
	if n, err := sandbox.UploadTree(context.Background(), c, t.TempDir(), "", nil); err != nil || n != 0 {
		t.Fatalf("%d, %v", n, err)
	}
	if got := rt.Requests(); len(got) != 0 {
		t.Errorf("requests %q", got)
	}
}

func TestUploadTreeOfAFile(t *testing.T) {
	local := filepath.Join(t.TempDir(), "f.txt")
	sandbox.WriteTree(t, filepath.Dir(local), map[string]string{"f.txt": "data"})
	for _, tc := range []struct {
		remote string
		want   []string
	}{
		{"g.txt", []string{"upload: g.txt"}},
		{"x/y z/g.txt", []string{"execute: mkdir -p -- 'x/y z'", "upload: x/y z/g.txt"}},
	} {
		t.Run(tc.remote, func(t *testing.T) {
			rt, c := newRuntime(t)
			var p progressLog
			if n, err := sandbox.UploadTree(context.Background(), c, local, tc.remote, p.wrap); err != nil || n != 1 {
				t.Fatalf("%d, %v", n, err)
			}
			if got := rt.Requests(); !reflect.DeepEqual(inPhases(got), inPhases(tc.want)) {
				t.Errorf("requests %q\nwant %q", got, tc.want)
			}
			if b, err := os.ReadFile(filepath.Join(rt.Root, tc.remote)); err != nil || string(b) != "data" {
				t.Errorf("%q, %v", b, err)
			}
			if !reflect.DeepEqual(p.names, []string{tc.remote}) || p.bytes != 4 {
				t.Errorf("progress saw %q, %d bytes", p.names, p.bytes)
			}
		})
	}
}

// TestUploadTreeRefuses: a tree with anything but files and directories is
// refused before anything is sent; errors of the runtime stop the copy.
func TestUploadTreeRefuses(t *testing.T) {
	withLink := t.TempDir()
	sandbox.WriteTree(t, withLink, map[string]string{"a/f": "x"})
	if err := os.Symlink("/etc/passwd", filepath.Join(withLink, "a", "link")); err != nil {
		t.Fatal(err)
	}
	rt, c := newRuntime(t)
	_, err := sandbox.UploadTree(context.Background(), c, withLink, "dst", nil)
	if want := filepath.Join(withLink, "a", "link") + ": only regular files and directories can be copied"; err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := sandbox.UploadTree(context.Background(), c, missing, "dst", nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing source: %v", err)
	}
	if got := rt.Requests(); len(got) != 0 {
		t.Errorf("requests %q", got)
	}

	rt.Write("file", "x") // so that mkdir fails
	plain := t.TempDir()
	sandbox.WriteTree(t, plain, map[string]string{"d/f": "x"})
	_, err = sandbox.UploadTree(context.Background(), c, plain, "file", nil)
	if want := "creating directories in the sandbox: exit code 1: mkdir: cannot create directory 'file': not a directory"; err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
	_, err = sandbox.UploadTree(context.Background(), c, filepath.Join(plain, "d", "f"), "file/f", nil)
	if want := "creating directories in the sandbox: exit code 1: mkdir: cannot create directory 'file': not a directory"; err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}

	refusing := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/upload" {
			answer(w, 500, map[string]string{"message": "File upload failed: [Errno 28] No space left on device"})
			return
		}
		rt.ServeHTTP(w, r)
	})
	_, err = sandbox.UploadTree(context.Background(), refusing, plain, "new", nil)
	if want := "upload new/d/f: HTTP 500: File upload failed: [Errno 28] No space left on device"; err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
}

// files lists the names in dir, to show that nothing else (a temporary
// file, say) was left there.
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

func TestDownloadFile(t *testing.T) {
	rt, c := newRuntime(t)
	content := strings.Repeat("0123456789", 300000) // several buffers
	rt.Write("d/big.bin", content)
	dir := t.TempDir()
	sandbox.WriteTree(t, dir, map[string]string{"old": "old content"})
	for _, dst := range []string{"new", "old"} {
		var p progressLog
		if err := sandbox.DownloadFile(context.Background(), c, "d/big.bin", filepath.Join(dir, dst), p.wrap); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, dst)); err != nil || string(b) != content {
			t.Errorf("%s: %d bytes, %v", dst, len(b), err)
		}
		if !reflect.DeepEqual(p.names, []string{"d/big.bin"}) || p.bytes != len(content) {
			t.Errorf("progress saw %q, %d bytes", p.names, p.bytes)
		}
	}
	if got := files(t, dir); !reflect.DeepEqual(got, []string{"new", "old"}) {
		t.Errorf("left %q", got)
	}
}

// TestDownloadFileFailures: a failed download leaves no file and no
// temporary file, and an existing file untouched.
func TestDownloadFileFailures(t *testing.T) {
	rt, c := newRuntime(t)
	rt.Write("f", "content")
	short := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100") // announced, never sent
		_, _ = io.WriteString(w, "only 10 by")
	})
	announced := downloadOf{c, func(context.Context, string) (io.ReadCloser, int64, error) {
		return io.NopCloser(strings.NewReader("short")), 100, nil // a body that ends early without an error
	}}
	for _, tc := range []struct {
		name string
		rt   sandbox.Runtime
		dst  string
		want string
	}{
		{"the connection ends early", short, "new", "downloading f: unexpected EOF"},
		{"over an existing file", short, "old", "downloading f: unexpected EOF"},
		{"a body shorter than announced", announced, "new", "downloading f: got 5 of 100 bytes"},
		{"no such file", c, "new", "download gone: HTTP 404: File not found"},
		{"no such directory here", c, "nodir/new", "writing DIR/nodir/new: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sandbox.WriteTree(t, dir, map[string]string{"old": "old content"})
			remote := "f"
			if tc.name == "no such file" {
				remote = "gone"
			}
			err := sandbox.DownloadFile(context.Background(), tc.rt, remote, filepath.Join(dir, tc.dst), nil)
			if want := strings.ReplaceAll(tc.want, "DIR", dir); err == nil || err.Error() != want {
				t.Errorf("error %v\nwant  %s", err, want)
			}
			if got := files(t, dir); !reflect.DeepEqual(got, []string{"old"}) {
				t.Errorf("left %q", got)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "old")); string(b) != "old content" {
				t.Errorf("the existing file now holds %q", b)
			}
		})
	}
}

func TestDownloadTree(t *testing.T) {
	sandboxFiles := map[string]string{
		"f.txt":            "file\n",
		"d/a.txt":          "a",
		"d/sub dir/ü.bin":  "\x00\xff",
		"d/sub dir/empty/": "",
	}
	for _, tc := range []struct {
		name      string
		remote    string
		wantN     int
		wantErr   string
		wantReqs  []string
		wantLocal map[string]string // under the test's directory
	}{{
		name: "a file", remote: "f.txt", wantN: 1,
		wantReqs:  []string{"download: f.txt"},
		wantLocal: map[string]string{"file": "file\n"},
	}, {
		name: "a directory", remote: "d", wantN: 2,
		wantReqs: []string{"download: d", "list: d", "list: d/sub dir", "list: d/sub dir/empty", "download: d/a.txt", "download: d/sub dir/ü.bin"},
		wantLocal: map[string]string{"dir/": "", "dir/a.txt": "a", "dir/sub dir/": "", "dir/sub dir/ü.bin": "\x00\xff",
			"dir/sub dir/empty/": ""},
	}, {
		name: "the root", remote: "", wantN: 3,
		wantReqs: []string{"list: ", "list: d", "list: d/sub dir", "list: d/sub dir/empty", "download: d/a.txt", "download: d/sub dir/ü.bin", "download: f.txt"},
		wantLocal: map[string]string{"dir/": "", "dir/d/": "", "dir/d/a.txt": "a", "dir/d/sub dir/": "", "dir/d/sub dir/ü.bin": "\x00\xff",
			"dir/d/sub dir/empty/": "", "dir/f.txt": "file\n"},
	}, {
		name: "neither", remote: "nope", wantErr: "download nope: HTTP 404: File not found",
		wantReqs:  []string{"download: nope", "list: nope"},
		wantLocal: map[string]string{},
	}, {
		name: "refused", remote: "../etc/passwd", wantErr: "download ../etc/passwd: HTTP 403: Access denied",
		wantReqs:  []string{"download: ../etc/passwd"},
		wantLocal: map[string]string{},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rt, c := newRuntime(t)
			sandbox.WriteTree(t, rt.Root, sandboxFiles)
			local := t.TempDir()
			n, err := sandbox.DownloadTreeBy(context.Background(), c, tc.remote, filepath.Join(local, "file"), filepath.Join(local, "dir"), nil, sandbox.MethodFiles)
			if n != tc.wantN || tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Errorf("got %d, %v; want %d, %q", n, err, tc.wantN, tc.wantErr)
			}
			if got := rt.Requests(); !reflect.DeepEqual(inPhases(got), inPhases(tc.wantReqs)) {
				t.Errorf("requests %q\nwant %q", got, tc.wantReqs)
			}
			if got := sandbox.Tree(t, local); !reflect.DeepEqual(got, tc.wantLocal) {
				t.Errorf("local tree %q\nwant %q", got, tc.wantLocal)
			}
		})
	}
}

// TestDownloadTreeReportsTheFileThatFailed: a 404 inside the tree (a
// dangling symlink, which the runtime lists as a file) is that file's
// error, not "no such file" for the directory that was copied.
func TestDownloadTreeReportsTheFileThatFailed(t *testing.T) {
	rt, c := newRuntime(t)
	sandbox.WriteTree(t, rt.Root, map[string]string{"d/": ""})
	if err := os.Symlink("gone", filepath.Join(rt.Root, "d", "dangling")); err != nil {
		t.Fatal(err)
	}
	local := t.TempDir()
	n, err := sandbox.DownloadTree(context.Background(), c, "d", filepath.Join(local, "x"), filepath.Join(local, "x"), nil)
	if want := "download d/dangling: HTTP 404: File not found"; n != 0 || err == nil || err.Error() != want {
		t.Errorf("got %d, %v; want 0, %s", n, err, want)
	}
}

// TestDownloadTreeRefusesUnsafeNames: a hostile runtime cannot make a
// download write outside its destination, with a file or a directory. (A
// backslash is an ordinary character of a Linux file name: see
// TestDownloadTreeKeepsBackslashes.)
func TestDownloadTreeRefusesUnsafeNames(t *testing.T) {
	for _, tc := range [][2]string{
		{"", "file"}, {".", "file"}, {"..", "file"}, {"../escape", "file"}, {"a/b", "file"}, {"/etc", "file"},
		{".", "directory"}, {"..", "directory"}, {"/etc", "directory"}, {"../..", "directory"},
	} {
		name, typ := tc[0], tc[1]
		t.Run(typ+" "+name, func(t *testing.T) {
			rt, _ := newRuntime(t)
			rt.Write("d/sub/ok", "ok")
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/list/d%2Fsub":
					answer(w, 200, []map[string]any{{"name": name, "size": 1, "type": typ, "mod_time": 0}})
				case urlPath("download", "d/sub/"+name):
					_, _ = io.WriteString(w, "pwned")
				default:
					rt.ServeHTTP(w, r)
				}
			})
			parent := t.TempDir()
			dst := filepath.Join(parent, "dst")
			_, err := sandbox.DownloadTree(context.Background(), c, "d", dst, dst, nil)
			if want := `the sandbox listed an unsafe name "` + strings.ReplaceAll(name, `\`, `\\`) + `" in d/sub`; err == nil || err.Error() != want {
				t.Errorf("error %v\nwant  %s", err, want)
			}
			if got := sandbox.Tree(t, parent); !reflect.DeepEqual(got, map[string]string{"dst/": "", "dst/sub/": ""}) {
				t.Errorf("wrote %q", got)
			}
		})
	}
}

// TestDownloadTreeListErrors: a listing that fails for another reason than
// "not a directory" is that error, at the top and inside the tree.
func TestDownloadTreeListErrors(t *testing.T) {
	rt, _ := newRuntime(t)
	rt.Write("d/sub/f", "x")
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/list/top" || r.URL.Path == "/list/d%2Fsub" {
			answer(w, 500, map[string]string{"message": "List files failed: [Errno 13] Permission denied"})
			return
		}
		rt.ServeHTTP(w, r)
	})
	local := t.TempDir()
	for remote, want := range map[string]string{
		"top": "list top: HTTP 500: List files failed: [Errno 13] Permission denied",
		"d":   "list d/sub: HTTP 500: List files failed: [Errno 13] Permission denied",
	} {
		n, err := sandbox.DownloadTree(context.Background(), c, remote, filepath.Join(local, remote), filepath.Join(local, remote), nil)
		if n != 0 || err == nil || err.Error() != want {
			t.Errorf("%s: got %d, %v; want 0, %s", remote, n, err, want)
		}
	}
}

// TestDownloadTreeKeepsBackslashes: a name with a backslash is downloaded
// under that very name.
func TestDownloadTreeKeepsBackslashes(t *testing.T) {
	rt, c := newRuntime(t)
	rt.Write(`d/back\sl`, "x")
	rt.Write(`d/..\..`, "y")
	dst := filepath.Join(t.TempDir(), "dst")
	if n, err := sandbox.DownloadTree(context.Background(), c, "d", dst, dst, nil); err != nil || n != 2 {
		t.Fatalf("sandbox.DownloadTree = %d, %v", n, err)
	}
	if got := sandbox.Tree(t, dst); !reflect.DeepEqual(got, map[string]string{`back\sl`: "x", `..\..`: "y"}) {
		t.Errorf("wrote %q", got)
	}
}

// TestUploadFileByFileRefusesNamesItCannotCarry: nothing is sent.
func TestUploadFileByFileRefusesNamesItCannotCarry(t *testing.T) {
	rt, c := newRuntime(t)
	local := t.TempDir()
	sandbox.WriteTree(t, local, map[string]string{"ok": "1", "new\nline/f": "2"})
	_, err := sandbox.UploadTreeBy(context.Background(), c, local, "dst", nil, sandbox.MethodFiles)
	var ue *sandbox.UnrepresentableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `"new\nline", "new\nline/f"`) {
		t.Fatalf("error %v", err)
	}
	if got := rt.Requests(); len(got) != 0 {
		t.Errorf("requests %q", got)
	}
}

// TestArchiveNeedsTar: --method archive on a sandbox without tar (the fake
// runtime has no sh) is an error; auto falls back to file by file.
func TestArchiveNeedsTar(t *testing.T) {
	_, c := newRuntime(t)
	local := t.TempDir()
	sandbox.WriteTree(t, local, map[string]string{"f": "1"})
	if _, err := sandbox.UploadTreeBy(context.Background(), c, local, "dst", nil, sandbox.MethodArchive); !errors.Is(err, sandbox.ErrNoTar) {
		t.Errorf("archive up: %v", err)
	}
	if _, err := sandbox.DownloadTreeBy(context.Background(), c, "", filepath.Join(t.TempDir(), "x"), filepath.Join(t.TempDir(), "x"), nil, sandbox.MethodArchive); !errors.Is(err, sandbox.ErrNoTar) {
		t.Errorf("archive down: %v", err)
	}
	if n, err := sandbox.UploadTreeBy(context.Background(), c, local, "dst", nil, sandbox.MethodAuto); err != nil || n != 1 {
		t.Errorf("auto up: %d, %v", n, err)
	}
	_ = os.Remove(local)
}
