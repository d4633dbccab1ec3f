package sandbox

import (
	"errors"
	"path"
	"strings"
	"testing"
)

// The fuzz targets of the parsers that meet users. `go test` runs their
// seeds (f.Add and testdata/fuzz); `make fuzz` explores further.

// FuzzRemotePath: a runtime path never leaves its root: it is clean,
// relative, never ".." or under it, and RemotePath leaves it as it is; it
// names the place the user's path names (absolute paths under a root, /app
// or /workspace, become relative ones). Exactly the paths that leave every
// root are refused, with a *PathError that quotes them as given.
func FuzzRemotePath(f *testing.F) {
	for _, p := range []string{"", ".", "./x", "a/b/", "a/../b", "/app", "/app/", "//app//x", "/app/x/../y", "..x",
		"..", "../etc", "a/../../x", "/etc", "/app/../etc", "/appx", "/", "../app/x", "a/./b//c/", "/app/ü b", "\x00/\xff",
		"/workspace", "/workspace/x/../y", "/workspacex", "/workspace/../app/x"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		abs := strings.HasPrefix(p, "/")
		root := testRoots[0].Dir // where a relative path lies
		escapes := true
		for _, r := range testRoots {
			if path.Clean(p) == r.Dir || strings.HasPrefix(path.Clean(p), r.Dir+"/") {
				root, escapes = r.Dir, false
				break
			}
		}
		if !abs {
			clean := path.Clean(p)
			escapes = clean == ".." || strings.HasPrefix(clean, "../")
		}
		r, err := testRoots.RemotePath(p)
		if err != nil {
			var pe *PathError
			if !errors.As(err, &pe) || pe.Path != p || !escapes {
				t.Fatalf("RemotePath(%q): %#v", p, err)
			}
			return
		}
		if escapes {
			t.Fatalf("RemotePath(%q) = %q: accepted a path outside %s", p, r, testRoots)
		}
		if r == ".." || strings.HasPrefix(r, "../") || strings.HasPrefix(r, "/") || r != "" && path.Clean(r) != r {
			t.Fatalf("RemotePath(%q) = %q: not a clean path under the root", p, r)
		}
		if again, err := testRoots.RemotePath(r); again != r || err != nil {
			t.Fatalf("RemotePath(%q) = %q, but RemotePath(%q) = %q, %v", p, r, r, again, err)
		}
		want := path.Join(root, p)
		if abs {
			want = path.Clean(p)
		}
		if got := path.Join(root, r); got != want {
			t.Fatalf("RemotePath(%q) = %q names %s, want %s", p, r, got, want)
		}
	})
}
