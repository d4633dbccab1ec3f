//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// eventually polls cond every 100ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// claimsLabelled lists the claim names carrying label.
func claimsLabelled(t *testing.T, label string) []string {
	t.Helper()
	out := Kubectl(t, "get", "sandboxclaims", "-l", label, "-o", "jsonpath={.items[*].metadata.name}").RunOrFail().Stdout
	return strings.Fields(out)
}

// neverReadyPool is a pool whose sandboxes pass their readiness probe only
// once a test makes their /tmp/ready (kubectl exec POD -- touch /tmp/ready).
func neverReadyPool(t *testing.T) string {
	manifest := `apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxTemplate
metadata: {name: e2e-never-ready, namespace: default}
spec:
  podTemplate:
    spec:
      containers:
      - name: runtime
        image: ` + pythonImage + `
        ports: [{containerPort: 8888}]
        readinessProbe: {exec: {command: [test, -e, /tmp/ready]}, periodSeconds: 1}
---
apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxWarmPool
metadata: {name: e2e-never-ready, namespace: default}
spec: {replicas: 0, sandboxTemplateRef: {name: e2e-never-ready}}
`
	Kubectl(t, "apply", "-f", "-").WithStdin(bytes.NewBufferString(manifest)).RunOrFail()
	t.Cleanup(func() {
		Kubectl(t, "delete", "sandboxwarmpool,sandboxtemplate", "e2e-never-ready", "--ignore-not-found").Run()
	})
	return "e2e-never-ready"
}

func TestRunExitCodes(t *testing.T) {
	for _, code := range []int{0, 1, 42} {
		res := Sandbox(t, "run", "--pool", "python", "-l", "e2e-run=codes", "--", "sh", "-c", fmt.Sprintf("echo out; echo err >&2; exit %d", code)).Run()
		if res.ExitCode != code || res.Stdout != "out\n" || res.Stderr != "err\n" {
			t.Errorf("exit %d: got exit %d stdout %q stderr %q", code, res.ExitCode, res.Stdout, res.Stderr)
		}
	}
	if left := claimsLabelled(t, "e2e-run=codes"); len(left) != 0 {
		t.Errorf("run left claims %v", left)
	}
}

func TestRunCopiesInAndOut(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 1<<20)
	_, _ = rand.Read(data)
	in := filepath.Join(dir, "in.bin")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "job.sh")
	if err := os.WriteFile(script, []byte("cp work/in.bin work/out.bin && echo done\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "results")
	res := Sandbox(t, "run", "--template", "python", "-l", "e2e-run=cp",
		"--cp-in", in+":work/in.bin", "--cp-in", script+":job.sh", "--cp-out", "work:"+out, "--", "sh", "job.sh").RunOrFail()
	if res.Stdout != "done\n" {
		t.Errorf("stdout %q", res.Stdout)
	}
	for _, name := range []string{"in.bin", "out.bin"} {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %v, %d bytes, equal=%v", name, err, len(got), bytes.Equal(got, data))
		}
	}
	if left := claimsLabelled(t, "e2e-run=cp"); len(left) != 0 {
		t.Errorf("run left claims %v", left)
	}
}

func TestRunFailingCreateLeavesNothing(t *testing.T) {
	res := Sandbox(t, "run", "--pool", "no-such-pool", "-l", "e2e-run=fail", "--", "true").Run()
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, "WarmPoolNotFound") {
		t.Errorf("exit %d stderr %q", res.ExitCode, res.Stderr)
	}
	if left := claimsLabelled(t, "e2e-run=fail"); len(left) != 0 {
		t.Errorf("a failed run left claims %v", left)
	}
}

// startRun starts `kubectl sandbox run` in the background.
func startRun(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := Sandbox(t, append([]string{"run"}, args...)...).command()
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, &errOut
}

// TestRunSIGINTLeavesNoClaim interrupts run while it waits for Ready, while
// the command runs, and while a download is under way.
func TestRunSIGINTLeavesNoClaim(t *testing.T) {
	pool := neverReadyPool(t)
	dest := t.TempDir()
	execStarted := func(label string) bool {
		names := claimsLabelled(t, label)
		return len(names) == 1 && Sandbox(t, "exec", names[0], "--", "test", "-f", "started").Run().ExitCode == 0
	}
	for _, tc := range []struct {
		name  string
		sig   syscall.Signal
		args  []string
		ready func(label string) bool
	}{
		{"while waiting for Ready", syscall.SIGINT, []string{"--pool", pool, "--", "true"}, func(label string) bool {
			return len(claimsLabelled(t, label)) == 1
		}},
		{"during exec", syscall.SIGINT, []string{"--pool", "python", "--", "sh", "-c", "touch started; sleep 60"}, execStarted},
		{"SIGTERM during exec", syscall.SIGTERM, []string{"--pool", "python", "--", "sh", "-c", "touch started; sleep 60"}, execStarted},
		{"during download", syscall.SIGINT, []string{"--pool", "python", "--router-url", routerURL, "--cp-out", "big.bin:" + filepath.Join(dest, "big.bin"),
			"--", "sh", "-c", "head -c 1500000000 /dev/zero > big.bin"}, func(string) bool {
			m, _ := filepath.Glob(filepath.Join(dest, ".big.bin.partial-*"))
			return len(m) > 0
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label := "e2e-sigint=" + strings.ReplaceAll(tc.name, " ", "-")
			cmd, errOut := startRun(t, append([]string{"-l", label}, tc.args...)...)
			eventually(t, 60*time.Second, "the point to interrupt at", func() bool { return tc.ready(label) })
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			// A shell's code for the signal, after the cleanup.
			if code := cmd.ProcessState.ExitCode(); code != 128+int(tc.sig) {
				t.Errorf("exit %d (%v), stderr %q", code, err, errOut.String())
			}
			if left := claimsLabelled(t, label); len(left) != 0 {
				t.Errorf("SIGINT %s left claims %v (stderr %q)", tc.name, left, errOut.String())
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dest, "big.bin")); !os.IsNotExist(err) {
		t.Errorf("an interrupted download left big.bin: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dest, ".big.bin.partial-*")); len(m) != 0 {
		t.Errorf("an interrupted download left %v", m)
	}
}

// TestRunSIGKILLIsReapedByTTL: a killed CLI cannot clean up, but its claim
// carries shutdownTime and Delete, and the controller removes it.
func TestRunSIGKILLIsReapedByTTL(t *testing.T) {
	pool := neverReadyPool(t)
	label := "e2e-sigkill=yes"
	cmd, _ := startRun(t, "-l", label, "--pool", pool, "--ttl", "6s", "--", "true")
	eventually(t, 30*time.Second, "the claim", func() bool { return len(claimsLabelled(t, label)) == 1 })
	name := claimsLabelled(t, label)[0]
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if got := jsonpath(t, name, "{.spec.lifecycle.shutdownPolicy}"); got != "Delete" {
		t.Errorf("shutdownPolicy %q", got)
	}
	if got := jsonpath(t, name, "{.spec.lifecycle.shutdownTime}"); got == "" {
		t.Error("no shutdownTime")
	}
	Sandbox(t, "wait", name, "--for=delete", "--timeout=60s").RunOrFail()
}

func TestRunKeep(t *testing.T) {
	res := Sandbox(t, "run", "--pool", "python", "--keep", "-l", "e2e-run=keep", "--", "sh", "-c", "echo kept > note.txt").RunOrFail()
	m := regexp.MustCompile(`^` + regexp.QuoteMeta(claimRes) + `/(sandbox-claim-[a-z0-9]{5}) kept: use it with: kubectl sandbox exec (\S+) -- COMMAND\n$`).FindStringSubmatch(res.Stderr)
	if m == nil || m[1] != m[2] {
		t.Fatalf("stderr %q", res.Stderr)
	}
	cleanupClaim(t, m[1])
	if out := Sandbox(t, "exec", m[1], "--", "cat", "note.txt").RunOrFail().Stdout; out != "kept\n" {
		t.Errorf("exec into the kept sandbox: %q", out)
	}
	if got := jsonpath(t, m[1], "{.spec.lifecycle.shutdownPolicy}"); got != "Delete" {
		t.Errorf("a kept sandbox still expires: shutdownPolicy %q", got)
	}
	// A command that fails keeps its sandbox too (to look into it), and
	// its exit code is ours.
	res = Sandbox(t, "run", "--pool", "python", "--keep", "-l", "e2e-run=keep", "--", "sh", "-c", "echo failed > note.txt; exit 5").Run()
	m = regexp.MustCompile(`(sandbox-claim-[a-z0-9]{5}) kept`).FindStringSubmatch(res.Stderr)
	if res.ExitCode != 5 || m == nil {
		t.Fatalf("exit %d stderr %q", res.ExitCode, res.Stderr)
	}
	cleanupClaim(t, m[1])
	if out := Sandbox(t, "exec", m[1], "--", "cat", "note.txt").RunOrFail().Stdout; out != "failed\n" {
		t.Errorf("exec into the sandbox kept after a failure: %q", out)
	}
}
