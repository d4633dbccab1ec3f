//go:build e2e

// Package release tests what users install, with no cluster: the release
// archives (the same bytes from the same source), their checksums and
// SBOMs, the Krew manifest and our custom Krew index through the real krew
// (install, upgrade, uninstall), and go install of the module at a version.
package release

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// module is the plugin's module path.
const module = "github.com/kubectl-sandbox/kubectl-sandbox"

var repoRoot string

func TestMain(m *testing.M) {
	wd, _ := os.Getwd()
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	os.Exit(m.Run())
}

// releaseRun is one `make release`.
type releaseRun struct {
	version   string
	dist      string
	platforms []string // all of the manifest's when empty
	env       []string // more KEY=VALUE
	umask     string   // the umask it runs under; 022 when empty
}

// run makes the release, failing the test if it fails.
func (r releaseRun) run(t *testing.T) {
	t.Helper()
	args := []string{"release", "VERSION=" + r.version}
	if len(r.platforms) > 0 {
		args = append(args, "PLATFORMS="+strings.Join(r.platforms, " "))
	}
	umask := r.umask
	if umask == "" {
		umask = "022"
	}
	cmd := exec.Command("sh", append([]string{"-c", `umask "$0" && exec make "$@"`, umask}, args...)...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), append([]string{"DIST=" + r.dist}, r.env...)...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("make %s: %s", strings.Join(args, " "), time.Since(start).Round(time.Second))
}

// manifestPlatforms are the platforms of the Krew manifest template.
func manifestPlatforms(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command(filepath.Join(repoRoot, "hack", "platforms.sh")).Output()
	if err != nil {
		t.Fatalf("hack/platforms.sh: %v", err)
	}
	return strings.Fields(string(out))
}

// buildKrew builds krew and validate-krew-manifest (once; cached) and
// returns their folder.
func buildKrew(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot, "hack", "build-krew.sh"))
	cmd.Dir = repoRoot
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hack/build-krew.sh: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// krewUser is a user with krew and an empty KREW_ROOT of their own, who
// runs kubectl with nothing of the caller's environment: PATH holds krew's
// bin folder, krew, kubectl and the system's tools (git); no proxy.
type krewUser struct {
	t    *testing.T
	root string
	env  []string
}

func newKrewUser(t *testing.T, krewBin string) *krewUser {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal("kubectl is not on PATH")
	}
	root := t.TempDir()
	path := strings.Join([]string{filepath.Join(root, "bin"), krewBin, filepath.Dir(kubectl), "/usr/bin", "/bin"}, ":")
	return &krewUser{t: t, root: root, env: []string{
		"KREW_ROOT=" + root, "HOME=" + root, "PATH=" + path, "KREW_NO_UPGRADE_CHECK=1",
	}}
}

// kubectl runs kubectl with args and returns its combined output.
func (u *krewUser) kubectl(args ...string) (string, error) {
	cmd := exec.Command("kubectl", args...)
	cmd.Env = u.env
	cmd.Dir = u.root
	out, err := cmd.CombinedOutput()
	u.t.Logf("kubectl %s -> %v", strings.Join(args, " "), err)
	return string(out), err
}

// must runs kubectl with args and fails the test unless it succeeds.
func (u *krewUser) must(args ...string) string {
	u.t.Helper()
	out, err := u.kubectl(args...)
	if err != nil {
		u.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// clientVersion is what `kubectl sandbox version --client` prints.
func clientVersion(v string) string { return "Client Version: " + v + "\n" }
