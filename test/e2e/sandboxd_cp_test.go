//go:build e2e

package e2e

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestSandboxdCpFilesUpRoundTrip: a tree sent up file by file to sandboxd
// arrives whole: every file's sha256 matches after a round trip (down as
// one archive and file by file), hostile names included.
func TestSandboxdCpFilesUpRoundTrip(t *testing.T) {
	c := sandboxdClaim(t, "e2e-sd2-cpfiles")
	src := t.TempDir()
	writeTree(t, src)
	writeNames(t, filepath.Join(src, "names"))
	want := sums(t, src)
	Sandbox(t, "cp", src, c+":up/tree", "--method", "files").RunOrFail()
	// Counted in the sandbox, so that a download cannot make up for a file
	// the upload missed.
	if res := Sandbox(t, "exec", c, "--", "find", "up/tree", "-type", "f", "-printf", "x").RunOrFail(); len(res.Stdout) != len(want) {
		t.Errorf("%d files in the sandbox, want %d", len(res.Stdout), len(want))
	}
	if res := Sandbox(t, "exec", c, "--", "sha256sum", "up/tree/bin/random.dat").RunOrFail(); !strings.HasPrefix(res.Stdout, want["bin/random.dat"]+" ") {
		t.Errorf("sha256sum in the sandbox: %q, want %s", res.Stdout, want["bin/random.dat"])
	}
	for _, method := range []string{"archive", "files"} {
		dst := filepath.Join(t.TempDir(), "back")
		Sandbox(t, "cp", c+":up/tree", dst, "--method", method).RunOrFail()
		if got := sums(t, dst); !reflect.DeepEqual(got, want) {
			t.Errorf("down as %s: the tree differs\n got %q\nwant %q", method, got, want)
		}
	}
}
