//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// timedLine is one line of a command's stdout and when it reached us.
type timedLine struct {
	text string
	at   time.Duration
}

// timedLines runs cmd, reading its stdout line by line as it comes, and
// returns the lines with the time each arrived and the time the command
// ended (both since its start); a failure to run or an exit other than 0
// fails the test, with its stderr.
func timedLines(t *testing.T, cmd *exec.Cmd) ([]timedLine, time.Duration) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []timedLine
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lines = append(lines, timedLine{sc.Text(), time.Since(start)})
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v: %v: %s", cmd.Args, err, stderr.String())
	}
	return lines, time.Since(start)
}

// TestSandboxdColdPool: a claim on the sandboxd pool with no warm sandboxes
// gets a fresh sandbox (named after the claim), which becomes Ready and
// runs commands, streamed; it goes with its claim.
func TestSandboxdColdPool(t *testing.T) {
	c := "e2e-sd2-cold"
	Kubectl(t, "delete", "sandboxclaim", c, "--ignore-not-found").RunOrFail()
	cleanupClaim(t, c)
	Sandbox(t, "create", c, "--pool", "sandboxd-cold").RunOrFail()
	if sb := jsonpath(t, c, "{.status.sandbox.name}"); sb != c {
		t.Errorf("sandbox %q, want a fresh one named %q (the pool has no warm sandboxes)", sb, c)
	}
	if ready := jsonpath(t, c, `{.status.conditions[?(@.type=="Ready")].status}`); ready != "True" {
		t.Errorf("Ready %q", ready)
	}
	if res := Sandbox(t, "exec", c, "--", "true").Run(); res.ExitCode != 0 || res.Stdout != "" || res.Stderr != "" {
		t.Errorf("exec -- true: exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	// sandboxd, not a fallback: the first line is streamed.
	lines, end := timedLines(t, Sandbox(t, "exec", c, "--", "sh", "-c", "echo a; sleep 2; echo b").command())
	if len(lines) != 2 || lines[0].text != "a" || lines[1].text != "b" || end-lines[0].at < 1500*time.Millisecond {
		t.Errorf("lines %+v, end after %s: want a, then b 2s later, streamed", lines, end)
	}
	Sandbox(t, "delete", c).RunOrFail()
	if res := Kubectl(t, "get", "sandboxclaim", c).Run(); res.ExitCode == 0 || !strings.Contains(res.Stderr, "NotFound") {
		t.Errorf("the claim is still there after delete: %q %q", res.Stdout, res.Stderr)
	}
	eventually(t, 60*time.Second, "the cold sandbox's pod to go", func() bool {
		return Kubectl(t, "get", "pod", c, "--ignore-not-found", "-o", "name").RunOrFail().Stdout == ""
	})
}

// sandboxdArgv0 is sandboxd's path in the sandboxd image
// (hack/build-images.sh), as upstream's image has it.
const sandboxdArgv0 = "/usr/local/bin/sandboxd"

func cmdline(pid int) []string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// procsInPidNS lists the host's processes in the PID namespace ns (as
// readlink /proc/PID/ns/pid shows it: "pid:[N]"), with their argv.
func procsInPidNS(t *testing.T, ns string) map[int][]string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]string{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "pid")); err == nil && l == ns {
			out[pid] = cmdline(pid)
		}
	}
	return out
}

// hostSandboxd finds, on the host, the sandboxd process of claim c's pod:
// the one process named sandboxdArgv0 in the PID namespace the claim's
// commands run in, in the cgroup of the pod's container (the kubelet's
// cgroupfs layout ends in the container ID that the pod's status names).
// It returns its host PID and that namespace.
func hostSandboxd(t *testing.T, c string) (int, string) {
	t.Helper()
	ns := strings.TrimSpace(Sandbox(t, "exec", c, "--", "readlink", "/proc/self/ns/pid").RunOrFail().Stdout)
	if !regexp.MustCompile(`^pid:\[\d+\]$`).MatchString(ns) {
		t.Fatalf("the sandbox's PID namespace: %q", ns)
	}
	if own, _ := os.Readlink("/proc/self/ns/pid"); own == ns {
		t.Fatalf("the sandbox shares our PID namespace %s", ns)
	}
	var pids []int
	for pid, argv := range procsInPidNS(t, ns) {
		if len(argv) > 0 && argv[0] == sandboxdArgv0 {
			pids = append(pids, pid)
		}
	}
	if len(pids) != 1 {
		t.Fatalf("sandboxd processes in %s: %v", ns, pids)
	}
	pod := jsonpath(t, c, "{.status.sandbox.name}")
	id := Kubectl(t, "get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].containerID}").RunOrFail().Stdout
	id, ok := strings.CutPrefix(id, "containerd://")
	if !ok || id == "" {
		t.Fatalf("pod %s: container ID %q, want containerd://...", pod, id)
	}
	cg, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pids[0]), "cgroup"))
	if !regexp.MustCompile(`(?m)^\d+:pids:/.*/` + id + `$`).Match(cg) {
		t.Fatalf("sandboxd (pid %d in %s) is not in the cgroup of container %s of pod %s:\n%s", pids[0], ns, id, pod, cg)
	}
	return pids[0], ns
}

// TestSandboxdStopsWithThePod: once a claim is deleted, the real sandboxd
// process of its pod (and everything in the pod's PID namespace) is gone
// from the host.
func TestSandboxdStopsWithThePod(t *testing.T) {
	c := sandboxdClaim(t, "e2e-sd2-stop")
	pid, ns := hostSandboxd(t, c)
	t.Logf("sandboxd of %s: host pid %d in %s", c, pid, ns)
	Sandbox(t, "delete", c).RunOrFail()
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := procsInPidNS(t, ns)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after the claim was deleted, processes remain in its pod's %s: %v", ns, left)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
