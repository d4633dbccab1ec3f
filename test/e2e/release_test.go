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
		{[]string{"__complete", "pools", ""}, "python\npython-cold\nsandboxd\nsandboxd-cold\nshadow-pool-python\n"},
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
	// Each shell's script, loaded into that shell, completes verbs and the
	// names of claims (through the plugin's __complete). Outside a real
	// completion, bash's compopt complains: its stderr is dropped.
	sh := Kubectl(t)
	bash := sh.runScript("bash", "-c", `source /usr/share/bash-completion/bash_completion
source <(kubectl-sandbox completion bash)
complete_line() { COMP_LINE="$1"; read -ra COMP_WORDS <<<"$1"; [[ "$1" == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMP_POINT=${#COMP_LINE}; COMPREPLY=(); __start_kubectl-sandbox 2>/dev/null; printf '%s\n' "${COMPREPLY[@]}"; }
complete_line "kubectl-sandbox cr"; echo SEP; complete_line "kubectl-sandbox describe e2e-comp"`)
	if bash != "create\nSEP\ne2e-complete\n" {
		t.Errorf("bash completion: %q", bash)
	}
	fish := sh.runScript("fish", "-c", `kubectl-sandbox completion fish | source
complete -C "kubectl-sandbox cr"; echo SEP; complete -C "kubectl-sandbox describe e2e-comp"`)
	if !strings.HasPrefix(fish, "create\tCreate a sandbox claim and wait until its sandbox is ready\nSEP\ne2e-complete") {
		t.Errorf("fish completion: %q", fish)
	}
	// zsh: the script parses (driving zsh's completion system needs a
	// terminal); powershell is not on the machine: its script names the
	// command.
	zsh := filepath.Join(t.TempDir(), "_kubectl-sandbox")
	if err := os.WriteFile(zsh, []byte(Sandbox(t, "completion", "zsh").RunOrFail().Stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	sh.runScript("zsh", "-n", zsh)
	if out := Sandbox(t, "completion", "powershell").RunOrFail().Stdout; !strings.Contains(out, "Register-ArgumentCompleter -CommandName 'kubectl-sandbox'") {
		t.Errorf("completion powershell: %.200q", out)
	}
}
