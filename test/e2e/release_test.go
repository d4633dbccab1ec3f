//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReleaseAndKrewInstall builds the host platform's release, validates
// the rendered manifest with Krew's validator, and installs it offline with
// the real krew into a temporary KREW_ROOT, the way a user would.
func TestReleaseAndKrewInstall(t *testing.T) {
	dist := t.TempDir()
	const version = "v0.0.0-e2e.1"
	release := exec.Command("make", "release", "VERSION="+version, "PLATFORMS=linux/amd64")
	release.Dir, release.Env = repoRoot, append(os.Environ(), "DIST="+dist)
	if out, err := release.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}
	archive := filepath.Join(dist, "kubectl-sandbox_"+version+"_linux_amd64.tar.gz")
	list, err := exec.Command("tar", "tzf", archive).Output()
	if err != nil || string(list) != "./\n./kubectl-sandbox\n./LICENSE\n./kubectl_complete-sandbox\n" {
		t.Errorf("archive contents %q, %v", list, err)
	}
	check := exec.Command("sha256sum", "-c", "checksums.txt")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil || !strings.Contains(string(out), "linux_amd64.tar.gz: OK") {
		t.Errorf("checksums: %v\n%s", err, out)
	}

	kb, err := script("hack/build-krew.sh").Output()
	if err != nil {
		t.Fatalf("building krew: %v", err)
	}
	krewBin := strings.TrimSpace(string(kb))
	manifest := filepath.Join(dist, "krew", "sandbox.yaml")
	if out, err := exec.Command(filepath.Join(krewBin, "validate-krew-manifest"), "-manifest", manifest, "-skip-install").CombinedOutput(); err != nil {
		t.Fatalf("validate-krew-manifest: %v\n%s", err, out)
	}

	krewRoot := t.TempDir()
	kubectlPath, _ := exec.LookPath("kubectl")
	// Only krew's bin folder and kubectl's own: not this repo's bin/.
	path := strings.Join([]string{filepath.Join(krewRoot, "bin"), krewBin, filepath.Dir(kubectlPath), "/usr/bin", "/bin"}, ":")
	krew := func(args ...string) (string, error) {
		cmd := exec.Command("kubectl", args...)
		cmd.Env = []string{"KREW_ROOT=" + krewRoot, "PATH=" + path, "HOME=" + krewRoot}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := krew("krew", "install", "--manifest="+manifest, "--archive="+archive); err != nil {
		t.Fatalf("krew install: %v\n%s", err, out)
	}
	out, err := krew("sandbox", "version", "--client")
	if err != nil || out != "Client Version: "+version+"\n" {
		t.Fatalf("kubectl sandbox version through krew: %v: %q", err, out)
	}
	// krew uninstall insists on an initialized index; `krew update` needs the
	// network, so seed an empty local one.
	index := filepath.Join(krewRoot, "index", "default")
	if err := os.MkdirAll(filepath.Join(index, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := krew("krew", "uninstall", "sandbox"); err != nil {
		t.Fatalf("krew uninstall: %v\n%s", err, out)
	}
	if _, err := os.Lstat(filepath.Join(krewRoot, "bin", "kubectl-sandbox")); !os.IsNotExist(err) {
		t.Errorf("uninstall left the plugin link: %v", err)
	}
}

// TestCompletion completes claim, pool and template names through cobra's
// __complete and through kubectl's plugin completion helper.
func TestCompletion(t *testing.T) {
	readyClaim(t, "e2e-complete")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"__complete", "get", "e2e-comp"}, "e2e-complete\n"},
		{[]string{"__complete", "exec", "e2e-comp"}, "e2e-complete\n"},
		{[]string{"__complete", "create", "--pool", "python-c"}, "python-cold\n"},
		{[]string{"__complete", "run", "--template", "py"}, "python\n"},
		{[]string{"__complete", "pools", ""}, "python\npython-cold\n"},
	} {
		res := Sandbox(t, tc.args...).RunOrFail()
		if !strings.HasPrefix(res.Stdout, tc.want+":4\n") {
			t.Errorf("%v: %q, want %q", tc.args, res.Stdout, tc.want)
		}
	}
	// kubectl 1.26+ completes `kubectl sandbox ...` through kubectl_complete-sandbox.
	res := Kubectl(t, "__complete", "sandbox", "describe", "e2e-comp").
		WithEnv("PATH=" + filepath.Join(repoRoot, "plugins") + ":" + filepath.Join(repoRoot, "bin") + ":" + os.Getenv("PATH")).RunOrFail()
	if !strings.HasPrefix(res.Stdout, "e2e-complete\n") {
		t.Errorf("kubectl plugin completion: %q", res.Stdout)
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := Sandbox(t, "completion", shell).RunOrFail().Stdout; !strings.Contains(out, "kubectl-sandbox") {
			t.Errorf("completion %s: %.80q", shell, out)
		}
	}
}
