//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pool is a warm pool the suites run on: runc's, or gVisor's beside it
// (hack/cluster/gvisor.yaml: RuntimeClass gvisor, handler runsc).
type pool struct {
	name string
	// suffix tells a test's claims on this pool from its claims on the
	// others.
	suffix string
	gvisor bool
}

var (
	sandboxdPools = []pool{{name: "sandboxd"}, {name: "sandboxd-gvisor", suffix: "-gv", gvisor: true}}
	pythonPools   = []pool{{name: "python"}, {name: "python-gvisor", suffix: "-gv", gvisor: true}}
)

// onPools runs fn as a subtest per pool.
func onPools(t *testing.T, pools []pool, fn func(t *testing.T, p pool)) {
	t.Helper()
	for _, p := range pools {
		t.Run(p.name, func(t *testing.T) { fn(t, p) })
	}
}

// claimOn creates a Ready claim NAME+suffix on pool p for the test and
// deletes it afterwards; it returns the claim's name.
func claimOn(t *testing.T, p pool, name string, extra ...string) string {
	t.Helper()
	name += p.suffix
	// A claim of an earlier run may still be going.
	Kubectl(t, "delete", "sandboxclaim", name, "--ignore-not-found").RunOrFail()
	cleanupClaim(t, name)
	Sandbox(t, append([]string{"create", name, "--pool", p.name}, extra...)...).RunOrFail()
	return name
}

// TestGVisorPoolsRunUnderGVisor: the gVisor pools' pods really run in
// gVisor's kernel (its banner in the sandbox's dmesg, gVisor's made-up
// /proc/version), and the runc pools' do not; their pods name the
// RuntimeClass.
func TestGVisorPoolsRunUnderGVisor(t *testing.T) {
	for _, p := range append(append([]pool{}, sandboxdPools...), pythonPools...) {
		t.Run(p.name, func(t *testing.T) {
			c := claimOn(t, p, "e2e-gv-kernel")
			res := Sandbox(t, "exec", c, "--", "sh", "-c", "dmesg 2>&1 | head -n 3; cat /proc/version").Run()
			// gVisor's /proc/version is a fixed, made-up one.
			underGVisor := strings.Contains(res.Stdout, "Starting gVisor") || strings.Contains(res.Stdout, "#1 SMP Sun Jan 10 15:06:54 PST 2016")
			if underGVisor != p.gvisor {
				t.Errorf("gVisor's banner in the sandbox: %v, want %v; dmesg and /proc/version:\n%s%s", underGVisor, p.gvisor, res.Stdout, res.Stderr)
			}
			pod := Kubectl(t, "get", "sandbox", jsonpath(t, c, "{.status.sandbox.name}"), "-o", "jsonpath={.metadata.annotations.agents\\.x-k8s\\.io/pod-name}").RunOrFail().Stdout
			if pod == "" {
				pod = jsonpath(t, c, "{.status.sandbox.name}")
			}
			class := Kubectl(t, "get", "pod", pod, "-o", "jsonpath={.spec.runtimeClassName}").RunOrFail().Stdout
			if (class == "gvisor") != p.gvisor {
				t.Errorf("pod %s has runtimeClassName %q", pod, class)
			}
			t.Logf("RESULT %s: %s", p.name, strings.TrimSpace(res.Stdout))
		})
	}
}

// TestGVisorTransports: on a gVisor sandboxd pod, auto relays over
// pods/exec at once (-v=2 says why); a forced port-forward fails within a
// few seconds with one line (the pod does not answer through it); the
// exec transport works on runc pods too; no relay is left in the pods.
func TestGVisorTransports(t *testing.T) {
	gv := claimOn(t, sandboxdPools[1], "e2e-gv-transport")
	res := Sandbox(t, "exec", gv, "-v=2", "--", "echo", "hi").RunOrFail()
	if res.Stdout != "hi\n" || !strings.Contains(res.Stderr, "runs under RuntimeClass gvisor") || !strings.Contains(res.Stderr, "reaching sandboxd in pod default/") {
		t.Errorf("auto on gVisor: stdout %q stderr %q", res.Stdout, res.Stderr)
	}
	start := time.Now()
	res = Sandbox(t, "exec", gv, "--transport", "port-forward", "--", "true").Run()
	if took := time.Since(start); res.ExitCode != 1 || strings.Count(res.Stderr, "\n") != 1 ||
		!regexp.MustCompile(`^error: pod default/\S+ does not answer on sandboxd's port 8080: `).MatchString(res.Stderr) || took > 15*time.Second {
		t.Errorf("--transport port-forward on gVisor: exit %d after %s, stderr %q", res.ExitCode, took, res.Stderr)
	}
	runc := claimOn(t, sandboxdPools[0], "e2e-gv-transport")
	res = Sandbox(t, "exec", runc, "--transport", "exec", "--", "sh", "-c", "echo out; echo err >&2; exit 3").Run()
	if res.ExitCode != 3 || res.Stdout != "out\n" || res.Stderr != "err\n" {
		t.Errorf("--transport exec on runc: exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	// No relay is left in either pod once the commands ended.
	for _, c := range []string{gv, runc} {
		if n := relaysIn(t, c); n != 0 {
			t.Errorf("%s: %d relay processes left", c, n)
		}
	}
}

// relaysIn counts the processes of our relays in claim c's pod, asked
// with kubectl exec (not through the plugin, whose own relays would count):
// the bash relay's $0 is kubectl-sandbox-relay, the python relay's script
// defines pump (the brackets keep the asking shell's own command line
// from matching).
func relaysIn(t *testing.T, c string) int {
	t.Helper()
	pod, _ := podOf(t, c)
	res := Kubectl(t, "exec", pod, "--", "sh", "-c", "pgrep -c -f 'kubectl-sandbox-[r]elay|def [p]ump' || true").RunOrFail()
	n, err := strconv.Atoi(strings.TrimSpace(res.Stdout))
	if err != nil {
		t.Fatalf("pgrep in pod %s: %q", pod, res.Stdout)
	}
	return n
}

// gvisorProcsOfPod are the host PIDs of the pod's gVisor sandbox: the
// runsc processes (sandbox, gofer) whose cgroup names the pod's UID. The
// pod's own processes run inside the sandbox's kernel, not on the host;
// containerd's shim lives outside the pod's cgroups.
func gvisorProcsOfPod(t *testing.T, uid string) []int {
	t.Helper()
	want := []string{"pod" + uid, "pod" + strings.ReplaceAll(uid, "-", "_")}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		cg, err := os.ReadFile(filepath.Join(d, "cgroup"))
		if err != nil || !strings.Contains(string(cg), want[0]) && !strings.Contains(string(cg), want[1]) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		argv0 := strings.SplitN(string(cmdline), "\x00", 2)[0]
		if strings.Contains(string(cmdline), "runsc") && !strings.HasPrefix(filepath.Base(argv0), "containerd-shim") {
			if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// podOf is the name and UID of claim c's pod.
func podOf(t *testing.T, c string) (string, string) {
	t.Helper()
	sb := jsonpath(t, c, "{.status.sandbox.name}")
	pod := Kubectl(t, "get", "sandbox", sb, "-o", "jsonpath={.metadata.annotations.agents\\.x-k8s\\.io/pod-name}").RunOrFail().Stdout
	if pod == "" {
		pod = sb
	}
	return pod, Kubectl(t, "get", "pod", pod, "-o", "jsonpath={.metadata.uid}").RunOrFail().Stdout
}

// TestFaultGVisorSandboxKilledMidSession: while an `exec` streams on a
// gVisor sandboxd pod (over the exec transport, auto's choice), every host
// process of the pod's gVisor sandbox gets SIGKILL. exec ends with one
// line, soon; no process of the plugin's is left.
func TestFaultGVisorSandboxKilledMidSession(t *testing.T) {
	c := claimOn(t, sandboxdPools[1], "e2e-fault-gv-kill")
	pod, uid := podOf(t, c)
	cmd := Sandbox(t, "exec", c, "--", "sh", "-c", "echo started; while :; do sleep 0.5; echo tick; done").command()
	out, _ := cmd.StdoutPipe()
	var mu sync.Mutex
	var stderr bytes.Buffer
	cmd.Stderr = lockedWriter{&mu, &stderr}
	errOut := func() string {
		mu.Lock()
		defer mu.Unlock()
		return stderr.String()
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	r := bufio.NewReader(out)
	if line, _ := r.ReadString('\n'); line != "started\n" {
		t.Fatalf("first line %q; stderr %q", line, errOut())
	}
	pids := gvisorProcsOfPod(t, uid)
	if len(pids) == 0 {
		t.Fatalf("no runsc process in pod %s's cgroups", pod)
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	killed := time.Now()
	go func() { _, _ = io.Copy(io.Discard, r) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Signal(syscall.SIGQUIT) // a goroutine dump, to see where it hangs
		<-done
		t.Fatalf("exec still running 60s after the sandbox was killed; stderr %q", errOut())
	}
	// The plugin starts no process of its own: its end leaves nothing
	// running here.
	code, msg := cmd.ProcessState.ExitCode(), errOut()
	if code == 0 || strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "error: ") {
		t.Errorf("exit %d, stderr %q", code, msg)
	}
	t.Logf("RESULT %d runsc processes of pod %s killed; exec ended %s later with exit %d: %q", len(pids), pod, time.Since(killed).Round(time.Millisecond), code, msg)
}

// TestFaultGVisorWithoutPodsExec: a user who may port-forward but not exec
// in the namespace, on a gVisor sandboxd pool: one line naming pods/exec
// and the namespace, for exec and for port-forward.
func TestFaultGVisorWithoutPodsExec(t *testing.T) {
	c := claimOn(t, sandboxdPools[1], "e2e-fault-gv-rbac")
	const user = "e2e-no-exec"
	rbac := `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: ` + user + `, namespace: default}
rules:
- apiGroups: [extensions.agents.x-k8s.io]
  resources: [sandboxclaims]
  verbs: [get, list]
- apiGroups: [agents.x-k8s.io]
  resources: [sandboxes]
  verbs: [get]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods/portforward]
  verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ` + user + `, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: ` + user + `}
subjects:
- {kind: User, name: ` + user + `, apiGroup: rbac.authorization.k8s.io}
`
	Kubectl(t, "apply", "-f", "-").WithStdin(strings.NewReader(rbac)).RunOrFail()
	t.Cleanup(func() { Kubectl(t, "delete", "role,rolebinding", user, "--ignore-not-found").Run() })
	want := regexp.MustCompile(`^error: exec into pod default/\S+ is forbidden: you may not create pods/exec in namespace "default" ` +
		`\(the connection is relayed over pods/exec, as for pods under gVisor or Kata, which port-forwards do not reach: ask for RBAC create on pods/exec in namespace default; check with: kubectl auth can-i create pods/exec -n default`)
	for _, args := range [][]string{
		{"exec", c, "--as", user, "--", "true"},
		{"ls", c + ":", "--as", user},
	} {
		res := Sandbox(t, args...).Run()
		if res.ExitCode != 1 || strings.Count(res.Stderr, "\n") != 1 || !want.MatchString(res.Stderr) {
			t.Errorf("%s: exit %d stderr %q", args[0], res.ExitCode, res.Stderr)
		}
	}
	// port-forward relays each connection: the refusal comes with the
	// first one, and ends it.
	pf := startLong(t, "port-forward", c, ":8080", "--as", user)
	m := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> 8080\n$`).FindStringSubmatch(pf.line(10 * time.Second))
	if m == nil {
		t.Fatal("no Forwarding line")
	}
	if conn, err := net.Dial("tcp", "127.0.0.1:"+m[1]); err == nil {
		_ = conn.Close()
	}
	code := pf.ended(30 * time.Second)
	if msg := pf.errOut(); code != 1 || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, `you may not create pods/exec in namespace "default"`) ||
		!strings.Contains(msg, "kubectl sandbox proxy CLAIM PORT") {
		t.Errorf("port-forward: exit %d stderr %q", code, msg)
	}
}

// TestGVisorDoctorProbe: doctor --probe on each gVisor pool says which
// transports reach its sandbox and which one the data plane uses: for
// sandboxd, pods/exec (the port-forward's connections die); for the
// python runtime, the router.
func TestGVisorDoctorProbe(t *testing.T) {
	for pool, want := range map[string]string{
		"sandboxd-gvisor": `(?m)^OK\s+transports\s+pool sandboxd-gvisor \(sandboxd, RuntimeClass gvisor \(handler runsc\)\): port-forward fails \(.*\), pods/exec ok \(.*\), router n/a \(.*\); the data plane uses pods/exec$`,
		"python-gvisor":   `(?m)^OK\s+transports\s+pool python-gvisor \(python runtime, RuntimeClass gvisor \(handler runsc\)\): port-forward fails \(.*\), pods/exec ok \(.*\), router ok \(.*\); the data plane uses router$`,
	} {
		res := Sandbox(t, "doctor", "--pool", pool, "--probe").Run()
		if !regexp.MustCompile(want).MatchString(res.Stdout) || !regexp.MustCompile(`(?m)^OK\s+probe\s`).MatchString(res.Stdout) {
			t.Errorf("%s: exit %d\n%s%s", pool, res.ExitCode, res.Stdout, res.Stderr)
		}
		t.Logf("RESULT %s:\n%s", pool, res.Stdout)
	}
}
