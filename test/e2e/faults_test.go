//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Faults injected into the running local cluster while the plugin works.
// Each test says, in docs/reliability.md, what it does and what it shows.

// crashRouter kills the router's process outright (its container's PID 1,
// as a crash would, with no draining); the kubelet starts it again.
func crashRouter(t *testing.T) {
	t.Helper()
	pod := strings.TrimPrefix(Kubectl(t, "-n", "agent-sandbox-system", "get", "pod", "-l", "app.kubernetes.io/name=sandbox-router",
		"-o", "name").RunOrFail().Stdout, "pod/")
	pod = strings.TrimSpace(pod)
	id := Kubectl(t, "-n", "agent-sandbox-system", "get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].containerID}").RunOrFail().Stdout
	id = strings.TrimPrefix(id, "containerd://")
	if err := syscall.Kill(containerInit(t, id), syscall.SIGKILL); err != nil {
		t.Fatalf("killing the router of pod %s: %v", pod, err)
	}
}

// restartComponent restarts one process of the local cluster (flags:
// --crash kills it first).
func restartComponent(t *testing.T, name string, flags ...string) {
	t.Helper()
	if b, err := script("hack/cluster/restart.sh", append([]string{name}, flags...)...).CombinedOutput(); err != nil {
		t.Fatalf("restarting %s: %v\n%s", name, err, b)
	}
}

// background starts a command and returns a function that waits for it,
// at most limit, and returns its result.
func background(t *testing.T, c *Cmd, limit time.Duration) func() Result {
	t.Helper()
	cmd := c.command()
	var out, errOut bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, &out}, lockedWriter{&mu, &errOut}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return func() Result {
		t.Helper()
		select {
		case <-done:
		case <-time.After(limit):
			_ = cmd.Process.Signal(syscall.SIGQUIT) // a goroutine dump, to see where it hangs
			<-done
			t.Fatalf("kubectl %s still running after %s; stderr %q", strings.Join(c.args, " "), limit, errOut.String())
		}
		mu.Lock()
		defer mu.Unlock()
		return Result{Stdout: out.String(), Stderr: errOut.String(), ExitCode: cmd.ProcessState.ExitCode()}
	}
}

// podFiles counts the sandbox containers whose /app holds a file named
// name: on the node, each container's writes land in its own overlay upper
// directory, a snapshot under containerd's root (hack/lib/node.sh).
func podFiles(t *testing.T, name string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(repoRoot, "_output", "cluster", "containerd",
		"io.containerd.snapshotter.v1.overlayfs", "snapshots", "*", "fs", "app", name))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// manyClaims creates n Ready claims labelled label and deletes them after
// the test.
func manyClaims(t *testing.T, prefix, label string, n int) []string {
	t.Helper()
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s-%02d", prefix, i)
		cleanupClaim(t, name)
		Sandbox(t, "create", name, "--pool", "python", "--wait=false", "-l", label).RunOrFail()
		names = append(names, name)
	}
	Sandbox(t, append(append([]string{"wait"}, names...), "--for=condition=Ready", "--timeout=3m")...).RunOrFail()
	return names
}

// oneLineErrors checks that every line of stderr that reports an error is
// a single "error: ..." line (optionally behind a [claim] prefix).
func oneLineErrors(t *testing.T, stderr string) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if l == "" {
			continue
		}
		if _, rest, ok := strings.Cut(l, "] "); ok && strings.HasPrefix(l, "[") {
			l = rest
		}
		if !strings.HasPrefix(l, "error: ") && !strings.HasPrefix(l, "Warning: ") {
			t.Errorf("stderr line is not a one-line error: %q", l)
		}
	}
}

// TestFaultAPIServerRestartDuringExecAll: `exec -l` runs a command in 20
// sandboxes through the default port-forward to the router (which passes
// through the API server) when the API server restarts. Every sandbox ends
// with its output or a one-line error, and the command ends.
func TestFaultAPIServerRestartDuringExecAll(t *testing.T) {
	names := manyClaims(t, "e2e-fault-exec", "e2e-fault=exec", 20)
	marker := "fault-exec-started"
	wait := background(t, Sandbox(t, "exec", "-l", "e2e-fault=exec", "--max-parallel", "20", "--",
		"sh", "-c", "touch "+marker+"; sleep 4; echo done"), 3*time.Minute)
	eventually(t, 60*time.Second, "all 20 commands to start", func() bool { return podFiles(t, marker) == 20 })
	restartComponent(t, "kube-apiserver")
	res := wait()
	oneLineErrors(t, res.Stderr)
	failed := 0
	for _, n := range names {
		switch {
		case strings.Join(prefixed(res.Stdout, n), "|") == "done":
		case len(prefixed(res.Stderr, n)) == 1 && strings.HasPrefix(prefixed(res.Stderr, n)[0], "error: "):
			failed++
		default:
			t.Errorf("%s: neither its output nor one error: stdout %q stderr %q", n, prefixed(res.Stdout, n), prefixed(res.Stderr, n))
		}
	}
	if (failed == 0) != (res.ExitCode == 0) {
		t.Errorf("exit %d with %d failed sandboxes", res.ExitCode, failed)
	}
	t.Logf("RESULT %d of 20 sandboxes finished, %d reported an error; exit %d; stderr %q", 20-failed, failed, res.ExitCode, res.Stderr)
}

// TestFaultAPIServerRestartDuringDeleteAll: `delete --all` waits for 20
// claims held by a finalizer when the API server restarts; once the
// finalizers go, the same wait sees them gone and the command succeeds.
func TestFaultAPIServerRestartDuringDeleteAll(t *testing.T) {
	const ns = "e2e-fault-delete"
	Kubectl(t, "create", "namespace", ns).Run()
	t.Cleanup(func() { Kubectl(t, "delete", "namespace", ns, "--wait=false").Run() })
	var names []string
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("held-%02d", i)
		Sandbox(t, "create", name, "-n", ns, "--pool", "none", "--wait=false").RunOrFail()
		Kubectl(t, "patch", "sandboxclaim", name, "-n", ns, "--type=merge", "-p", `{"metadata":{"finalizers":["e2e.kubectl-sandbox/hold"]}}`).RunOrFail()
		names = append(names, name)
	}
	wait := background(t, Sandbox(t, "delete", "--all", "-n", ns, "--timeout", "2m"), 3*time.Minute)
	eventually(t, 30*time.Second, "all 20 deletions to be accepted", func() bool {
		out := Kubectl(t, "get", "sandboxclaims", "-n", ns, "-o", "jsonpath={.items[*].metadata.deletionTimestamp}").Run().Stdout
		return len(strings.Fields(out)) == 20
	})
	restartComponent(t, "kube-apiserver")
	for _, n := range names {
		Kubectl(t, "patch", "sandboxclaim", n, "-n", ns, "--type=merge", "-p", `{"metadata":{"finalizers":null}}`).RunOrFail()
	}
	res := wait()
	if res.ExitCode != 0 || strings.Count(res.Stdout, " deleted\n") != 20 || res.Stderr != "" {
		t.Errorf("exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	if left := Kubectl(t, "get", "sandboxclaims", "-n", ns, "-o", "name").RunOrFail().Stdout; left != "" {
		t.Errorf("left: %s", left)
	}
	t.Logf("RESULT exit %d, 20 deleted, none left", res.ExitCode)
}

// TestFaultRouterRestartDuringDownload: the router crashes (SIGKILL; a
// graceful stop would drain the download) and is started again while a
// large file is downloaded. The copy fails with one line, and neither the
// file nor a partial file is left behind.
func TestFaultRouterRestartDuringDownload(t *testing.T) {
	c := readyClaim(t, "e2e-fault-copy")
	Sandbox(t, "exec", c, "--", "sh", "-c", "head -c 1500000000 /dev/zero > big.bin").RunOrFail()
	dest := t.TempDir()
	wait := background(t, Sandbox(t, "cp", c+":big.bin", filepath.Join(dest, "big.bin"), "--router-url", routerURL), 3*time.Minute)
	eventually(t, 60*time.Second, "the download to start", func() bool {
		m, _ := filepath.Glob(filepath.Join(dest, ".big.bin.partial-*"))
		return len(m) > 0
	})
	crashRouter(t)
	res := wait()
	entries, _ := os.ReadDir(dest)
	switch {
	case res.ExitCode == 0:
		t.Fatalf("the download outran the restart (stderr %q): nothing was tested", res.Stderr)
	case len(entries) != 0:
		t.Errorf("a failed download left %v", entries)
	case strings.Count(res.Stderr, "\n") != 1 || !strings.HasPrefix(res.Stderr, "error: downloading big.bin: "):
		t.Errorf("stderr %q", res.Stderr)
	}
	t.Logf("RESULT exit %d; stderr %q; destination empty", res.ExitCode, res.Stderr)
}

// TestFaultRuntimeKilledMidExec: the sandbox's runtime process (its
// container's PID 1) is killed while a command runs. exec ends with one
// line; the kubelet restarts the container and the sandbox serves the next
// command.
func TestFaultRuntimeKilledMidExec(t *testing.T) {
	c := readyClaim(t, "e2e-fault-kill")
	id := containerID(t, jsonpath(t, c, "{.status.sandbox.name}"))
	// The test before kills the router; its replacement may not serve yet,
	// and a command it refuses never starts (seen once in CI: "timed out
	// waiting for the command to start").
	eventually(t, 60*time.Second, "the router to serve", func() bool {
		return Sandbox(t, "exec", c, "--router-url", routerURL, "--", "true").Run().ExitCode == 0
	})
	marker := "fault-kill-started"
	wait := background(t, Sandbox(t, "exec", c, "--router-url", routerURL, "--", "sh", "-c", "touch "+marker+"; sleep 30"), 2*time.Minute)
	eventually(t, 30*time.Second, "the command to start", func() bool { return podFiles(t, marker) >= 1 })
	if err := syscall.Kill(containerInit(t, id), syscall.SIGKILL); err != nil {
		t.Fatalf("killing the runtime of container %s: %v", id, err)
	}
	res := wait()
	if res.ExitCode != 1 || strings.Count(res.Stderr, "\n") != 1 || !strings.HasPrefix(res.Stderr, "error: execute: ") {
		t.Errorf("exit %d stderr %q", res.ExitCode, res.Stderr)
	}
	eventually(t, 60*time.Second, "the runtime to serve again", func() bool {
		return Sandbox(t, "exec", c, "--router-url", routerURL, "--", "true").Run().ExitCode == 0
	})
	t.Logf("RESULT exit %d; stderr %q; the next exec works", res.ExitCode, res.Stderr)
}

// TestFaultControllerRestartDuringCreateWait: `create` waits for a claim
// when the agent-sandbox controller restarts; the claim becomes Ready once
// the restarted controller sees its pod Ready, and the same wait ends.
func TestFaultControllerRestartDuringCreateWait(t *testing.T) {
	// The pool first, then a claim that becomes Ready: after the API server
	// restarts of the tests before, the controller may take a while to
	// watch again. A claim made before its cache holds the new pool reads
	// WarmPoolNotFound until the controller looks again (every minute);
	// create waits through that, since the pool exists (a CI run once saw
	// it). Then the restart below is the only fault in play.
	pool := neverReadyPool(t)
	readyClaim(t, "e2e-fault-ctl-probe")
	cleanupClaim(t, "e2e-fault-ctl")
	wait := background(t, Sandbox(t, "create", "e2e-fault-ctl", "--pool", pool, "--timeout", "4m"), 4*time.Minute)
	deadline := time.Now().Add(150 * time.Second) // a controller catching up, and its look again a minute later
	for Kubectl(t, "get", "pod", "e2e-fault-ctl", "-o", "jsonpath={.status.podIP}").Run().Stdout == "" {
		if time.Now().After(deadline) {
			_ = Kubectl(t, "get", "sandboxclaim,sandbox,pod", "-o", "wide").Run()
			res := wait()
			t.Fatalf("no pod for the claim after 150s; create: exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	restartComponent(t, "agent-sandbox-controller")
	// The pod passes its readiness probe once /tmp/ready exists.
	eventually(t, 60*time.Second, "the pod's container to run", func() bool {
		return Kubectl(t, "exec", "e2e-fault-ctl", "--", "touch", "/tmp/ready").Run().ExitCode == 0
	})
	res := wait()
	if res.ExitCode != 0 || !strings.HasSuffix(res.Stdout, claimRes+"/e2e-fault-ctl ready (sandbox e2e-fault-ctl)\n") {
		t.Errorf("exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	t.Logf("RESULT exit %d; %q", res.ExitCode, res.Stdout)
}
