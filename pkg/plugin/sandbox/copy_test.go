package sandbox_test

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

func TestWriteFile(t *testing.T) {
	for _, tc := range []struct {
		remote   string
		wantErr  string
		wantReqs []string
	}{
		{"f.txt", "", []string{"upload: f.txt"}},
		{"a/b c/f.txt", "", []string{"execute: mkdir -p -- 'a/b c'", "upload: a/b c/f.txt"}},
		{"", "writing needs a file name in the sandbox, not a directory", nil},
		{"dir/", "writing needs a file name in the sandbox, not a directory", nil},
	} {
		t.Run(tc.remote, func(t *testing.T) {
			rt, c := newRuntime(t)
			err := sandbox.WriteFile(context.Background(), c, tc.remote, strings.NewReader("from stdin"))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if got := rt.Requests(); !reflect.DeepEqual(inPhases(got), inPhases(tc.wantReqs)) {
				t.Errorf("requests %q\nwant %q", got, tc.wantReqs)
			}
			want := map[string]string{}
			if tc.wantErr == "" {
				want = withDirs(map[string]string{tc.remote: "from stdin"})
			}
			if got := sandbox.Tree(t, rt.Root); !reflect.DeepEqual(got, want) {
				t.Errorf("the sandbox holds %q, want %q", got, want)
			}
		})
	}
	rt, c := newRuntime(t)
	rt.Write("a/dir/f", "x")
	err := sandbox.WriteFile(context.Background(), c, "a/dir", strings.NewReader("x"))
	if want := "upload a/dir: HTTP 500: File upload failed: is a directory"; err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
	rt.Write("file", "x")
	err = sandbox.WriteFile(context.Background(), c, "file/f", strings.NewReader("x"))
	if want := "creating directories in the sandbox: exit code 1: mkdir: cannot create directory 'file': not a directory"; err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
}

// TestCopyTo: cp's rules: a file copied to a directory (a path that ends
// in "/", the root, or an existing directory) lands in it under its own
// name; a directory's contents go to the destination.
func TestCopyTo(t *testing.T) {
	local := t.TempDir()
	sandbox.WriteTree(t, local, map[string]string{"f.txt": "file", "tree/a": "a", "tree/b/c": "c"})
	for _, tc := range []struct {
		name, local, remote string
		wantN               int
		wantErr             string
		wantReqs            []string
		want                map[string]string // the sandbox afterwards
	}{{
		name: "a file to a new name", local: "f.txt", remote: "g.txt", wantN: 1,
		wantReqs: []string{"list: g.txt", "upload: g.txt"},
		want:     map[string]string{"existing/": "", "g.txt": "file"},
	}, {
		name: "a file to a directory named with a slash", local: "f.txt", remote: "new/", wantN: 1,
		wantReqs: []string{"execute: mkdir -p -- new", "upload: new/f.txt"},
		want:     map[string]string{"existing/": "", "new/": "", "new/f.txt": "file"},
	}, {
		name: "a file to an existing directory", local: "f.txt", remote: "existing", wantN: 1,
		wantReqs: []string{"list: existing", "execute: mkdir -p -- existing", "upload: existing/f.txt"},
		want:     map[string]string{"existing/": "", "existing/f.txt": "file"},
	}, {
		name: "a file to the root", local: "f.txt", remote: "", wantN: 1,
		wantReqs: []string{"upload: f.txt"},
		want:     map[string]string{"existing/": "", "f.txt": "file"},
	}, {
		name: "a directory", local: "tree", remote: "dst", wantN: 2,
		wantReqs: []string{probeRequest, "execute: mkdir -p -- dst dst/b", "upload: dst/a", "upload: dst/b/c"},
		want:     map[string]string{"existing/": "", "dst/": "", "dst/a": "a", "dst/b/": "", "dst/b/c": "c"},
	}, {
		name: "a directory to a directory named with a slash", local: "tree", remote: "existing/", wantN: 2,
		wantReqs: []string{probeRequest, "execute: mkdir -p -- existing existing/b", "upload: existing/a", "upload: existing/b/c"},
		want:     map[string]string{"existing/": "", "existing/a": "a", "existing/b/": "", "existing/b/c": "c"},
	}, {
		name: "a missing source", local: "missing", remote: "x",
		wantErr: "cannot read LOCAL/missing: no such file or directory",
		want:    map[string]string{"existing/": ""},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rt, c := newRuntime(t)
			sandbox.WriteTree(t, rt.Root, map[string]string{"existing/": ""})
			n, err := sandbox.CopyTo(context.Background(), c, filepath.Join(local, tc.local), tc.remote, nil)
			wantErr := strings.ReplaceAll(tc.wantErr, "LOCAL", local)
			if n != tc.wantN || wantErr == "" && err != nil || wantErr != "" && (err == nil || err.Error() != wantErr) {
				t.Fatalf("got %d, %v; want %d, %q", n, err, tc.wantN, wantErr)
			}
			if got := rt.Requests(); !reflect.DeepEqual(inPhases(got), inPhases(tc.wantReqs)) {
				t.Errorf("requests %q\nwant %q", got, tc.wantReqs)
			}
			if got := sandbox.Tree(t, rt.Root); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("the sandbox holds %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestCopyFrom: a file lands in an existing local directory under its own
// name; a directory's contents go to the destination.
func TestCopyFrom(t *testing.T) {
	for _, tc := range []struct {
		name, remote, local string
		wantN               int
		want                map[string]string // the local directory afterwards
	}{{
		name: "a file to a new name", remote: "d/f.txt", local: "g.txt", wantN: 1,
		want: map[string]string{"existing/": "", "g.txt": "file"},
	}, {
		name: "a file into an existing directory", remote: "d/f.txt", local: "existing", wantN: 1,
		want: map[string]string{"existing/": "", "existing/f.txt": "file"},
	}, {
		name: "a directory to a new name", remote: "d", local: "new", wantN: 2,
		want: map[string]string{"existing/": "", "new/": "", "new/f.txt": "file", "new/sub/": "", "new/sub/g": "g"},
	}, {
		name: "a directory into an existing directory", remote: "d", local: "existing", wantN: 2,
		want: map[string]string{"existing/": "", "existing/f.txt": "file", "existing/sub/": "", "existing/sub/g": "g"},
	}, {
		name: "the root into an existing directory", remote: "", local: "existing", wantN: 2,
		want: map[string]string{"existing/": "", "existing/d/": "", "existing/d/f.txt": "file", "existing/d/sub/": "", "existing/d/sub/g": "g"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rt, c := newRuntime(t)
			sandbox.WriteTree(t, rt.Root, map[string]string{"d/f.txt": "file", "d/sub/g": "g"})
			local := t.TempDir()
			sandbox.WriteTree(t, local, map[string]string{"existing/": ""})
			n, err := sandbox.CopyFrom(context.Background(), c, tc.remote, filepath.Join(local, tc.local), nil)
			if n != tc.wantN || err != nil {
				t.Fatalf("got %d, %v; want %d", n, err, tc.wantN)
			}
			if got := sandbox.Tree(t, local); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("local tree %q\nwant %q", got, tc.want)
			}
		})
	}
}

// probeRequest is the command that asks a sandbox whether it has tar (the
// fake runtime has no sh: copies then go file by file).
const probeRequest = "execute: sh -c 'command -v tar >/dev/null 2>&1'"
