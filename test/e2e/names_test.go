//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// hostileNames are file names POSIX allows (anything but NUL and "/").
var hostileNames = []string{
	"new\nline dir/f", `back\sl`, "tab\tname", `quote"s`, "it's", "-leading", ".hidden", "ünïcødé", "emoji 🎉",
	"%41", "#?*;&[]", "a b/c d/e f", "..dots..", "cr\rx",
}

func writeNames(t *testing.T, root string) map[string]string {
	t.Helper()
	for i, n := range hostileNames {
		p := filepath.Join(root, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat("x", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return sums(t, root)
}

// TestCpAnyFileName: every name round-trips byte-exact through a tree copy
// (one archive), on both runtimes; file by file, the python runtime's
// upload cannot carry CR or LF, and such a copy is refused before anything
// is sent, naming the paths.
func TestCpAnyFileName(t *testing.T) {
	src := t.TempDir()
	want := writeNames(t, src)
	for _, pool := range []string{"python", "sandboxd"} {
		c := readyClaim(t, "e2e-names-"+pool)
		if pool == "sandboxd" {
			c = sandboxdClaim(t, "e2e-names-"+pool)
		}
		dst := filepath.Join(t.TempDir(), "back")
		Sandbox(t, "cp", src, c+":names").RunOrFail()
		Sandbox(t, "cp", c+":names", dst).RunOrFail()
		if got := sums(t, dst); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: names differ after a round trip\n got %q\nwant %q", pool, keys(got), keys(want))
		}
		// File by file, down: every name.
		dst2 := filepath.Join(t.TempDir(), "back")
		Sandbox(t, "cp", c+":names", dst2, "--method", "files").RunOrFail()
		if got := sums(t, dst2); !reflect.DeepEqual(got, want) {
			t.Errorf("%s, file by file down: got %q", pool, keys(got))
		}
		res := Sandbox(t, "cp", src, c+":names2", "--method", "files").Run()
		if pool == "sandboxd" {
			if res.ExitCode != 0 {
				t.Errorf("sandboxd, file by file up: exit %d %s", res.ExitCode, res.Stderr)
			}
			continue
		}
		if res.ExitCode != 1 || !strings.HasPrefix(res.Stderr, `error: nothing was copied: the runtime's upload cannot carry these names file by file: "cr\rx", "new\nline dir", "new\nline dir/f" (`) ||
			!strings.HasSuffix(res.Stderr, "(copy the tree as one archive: --method auto or archive)\n") {
			t.Errorf("python, file by file up: exit %d stderr %q", res.ExitCode, res.Stderr)
		}
		if ls := Sandbox(t, "exec", c, "--", "ls", "-a").RunOrFail().Stdout; strings.Contains(ls, "names2") {
			t.Errorf("a refused copy sent something: %q", ls)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
