//go:build unix

// Package jobstest runs the commands of fake sandboxes on this machine, in
// a directory per sandbox, as the python runtime runs them (the directory
// as working directory, a session of their own, output buffered until
// every holder of its pipes closed them), so that tests of the front-ends
// start, follow and kill real background jobs. The jobs left are killed
// when the test ends.
package jobstest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Local runs commands of sandboxes under a test directory.
type Local struct {
	t    testing.TB
	root string
	mu   sync.Mutex
	dirs map[string]bool
}

// NewLocal returns a Local; a test on a machine without sh, setsid or
// base64 is skipped.
func NewLocal(t testing.TB) *Local {
	t.Helper()
	for _, tool := range []string{"sh", "setsid", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s here: %v", tool, err)
		}
	}
	l := &Local{t: t, root: t.TempDir(), dirs: map[string]bool{}}
	t.Cleanup(l.killAll)
	return l
}

// Dir is the directory of a sandbox.
func (l *Local) Dir(sandbox string) string {
	d := filepath.Join(l.root, sandbox)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.dirs[d] {
		if err := os.MkdirAll(d, 0o755); err != nil {
			l.t.Fatal(err)
		}
		l.dirs[d] = true
	}
	return d
}

// Exec runs argv in the sandbox's directory (the shape of
// pythontest.Router's Exec).
func (l *Local) Exec(sandbox string, argv []string) (stdout, stderr string, code int) {
	c := exec.Command(argv[0], argv[1:]...)
	c.Dir = l.Dir(sandbox)
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	c.WaitDelay = 20 * time.Second
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		return out.String(), errOut.String(), exitErr.ExitCode()
	case err != nil:
		return "", err.Error(), 127
	}
	return out.String(), errOut.String(), 0
}

// Touch makes an empty file in a sandbox.
func (l *Local) Touch(sandbox, name string) {
	l.t.Helper()
	if err := os.WriteFile(filepath.Join(l.Dir(sandbox), name), nil, 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// killAll kills the process group of every job, and its monitor.
func (l *Local) killAll() {
	files, _ := filepath.Glob(filepath.Join(l.root, "*", ".kubectl-sandbox", "jobs", "*", "*"))
	for _, f := range files {
		if base := filepath.Base(f); base != "pid" && base != "monitor" {
			continue
		}
		b, _ := os.ReadFile(f)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
