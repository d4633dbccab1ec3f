//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
		{[]string{"__complete", "run", "--template", "py"}, "python\npython-gvisor\n"},
		{[]string{"__complete", "pools", ""}, "python\npython-cold\npython-gvisor\nsandboxd\nsandboxd-cold\nsandboxd-gvisor\nshadow-pool-python\n"},
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
