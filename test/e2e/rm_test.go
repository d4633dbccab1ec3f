//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPythonRm: rm on the python runtime (an exact-argv rm through exec).
func TestPythonRm(t *testing.T) {
	c := readyClaim(t, "e2e-sd2-pyrm")
	src := t.TempDir()
	for name, data := range map[string]string{"f.txt": "f\n", "d/e/g.txt": "g\n", "d/h.txt": "h\n"} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	Sandbox(t, "cp", src, c+":rmt").RunOrFail()
	entries := func() string {
		return Sandbox(t, "exec", c, "--", "find", "rmt", "-mindepth", "1").RunOrFail().Stdout
	}
	if got := entries(); !strings.Contains(got, "rmt/f.txt\n") || !strings.Contains(got, "rmt/d/e/g.txt\n") {
		t.Fatalf("the copy is not there: %q", got)
	}
	Sandbox(t, "rm", c+":rmt/f.txt").RunOrFail()
	ls := Sandbox(t, "ls", c+":rmt").RunOrFail().Stdout
	if !regexp.MustCompile(`(?s)^NAME\s+TYPE\s+SIZE\s+MODIFIED\nd\s+directory\s+\d+\s+\S+\n$`).MatchString(ls) {
		t.Errorf("ls after rm of f.txt:\n%s", ls)
	}
	// A directory needs -r.
	if res := Sandbox(t, "rm", c+":rmt/d").Run(); res.ExitCode != 1 ||
		res.Stderr != "error: removing rmt/d in the sandbox: exit code 1: rm: cannot remove 'rmt/d': Is a directory\n" {
		t.Errorf("rm of a directory without -r: exit %d stderr %q", res.ExitCode, res.Stderr)
	}
	if got := entries(); !strings.Contains(got, "rmt/d/e/g.txt\n") {
		t.Errorf("a refused rm removed something: %q", got)
	}
	Sandbox(t, "rm", "-r", c+":rmt/d").RunOrFail()
	if ls := Sandbox(t, "ls", c+":rmt").RunOrFail().Stdout; !regexp.MustCompile(`^NAME\s+TYPE\s+SIZE\s+MODIFIED\n$`).MatchString(ls) {
		t.Errorf("ls after rm -r:\n%s", ls)
	}
	if got := entries(); got != "" {
		t.Errorf("left after rm -r: %q", got)
	}
	// A missing path; -f ignores it.
	if res := Sandbox(t, "rm", c+":rmt/d").Run(); res.ExitCode != 1 ||
		res.Stderr != "error: "+c+":rmt/d: no such file or directory in the sandbox\n" {
		t.Errorf("rm of a missing path: exit %d stderr %q", res.ExitCode, res.Stderr)
	}
	Sandbox(t, "rm", "-f", c+":rmt/d").RunOrFail()
	if res := Sandbox(t, "rm", "-r", c+":/app").Run(); res.ExitCode != 1 ||
		res.Stderr != fmt.Sprintf("error: refusing to remove %q, the sandbox's root directory\n", c+":/app") {
		t.Errorf("rm of the root: exit %d stderr %q", res.ExitCode, res.Stderr)
	}
}
