//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Faults of the real node (hack/lib/node.sh): its kubelet, its containerd,
// the router's pod, an image that cannot be pulled. Each test says, in
// docs/reliability.md, what it does and what it shows.

// TestNodeIsReal: the node's kubelet is v1.37.2 on containerd, and a
// sandbox's container is a containerd container on a pod IP of the CNI
// bridge, whose root is its image's, not this machine's.
func TestNodeIsReal(t *testing.T) {
	info := Kubectl(t, "get", "node", "sandbox-node", "-o",
		"jsonpath={.status.nodeInfo.kubeletVersion} {.status.nodeInfo.containerRuntimeVersion}").RunOrFail().Stdout
	if info != "v1.37.2 containerd://2.4.2" {
		t.Errorf("node info %q", info)
	}
	for _, pool := range []string{"python", "sandboxd"} {
		c := readyClaim(t, "e2e-node-"+pool, "--pool", pool)
		pod := jsonpath(t, c, "{.status.sandbox.name}")
		id := containerID(t, pod)
		ip := Kubectl(t, "get", "pod", pod, "-o", "jsonpath={.status.podIP}").RunOrFail().Stdout
		if !regexp.MustCompile(`^10\.244\.0\.\d+$`).MatchString(ip) {
			t.Errorf("%s: pod IP %q", pool, ip)
		}
		if len(containerProcs(t, id)) == 0 {
			t.Errorf("%s: container %s has no process in its cgroup", pool, id)
		}
		// The sandbox's root is the image's: no checkout of this project in it.
		root := Sandbox(t, "exec", c, "--", "ls", "/").RunOrFail().Stdout
		if strings.Contains(root, "work\n") || !strings.Contains(root, "usr\n") {
			t.Errorf("%s: ls / in the sandbox:\n%s", pool, root)
		}
		t.Logf("%s: pod %s, container containerd://%s, IP %s", pool, pod, id, ip)
	}
}

// TestGVisorPodsRunInGVisor: the gvisor pools' pods run under the
// RuntimeClass gvisor, in gVisor's kernel: its banner in dmesg and its
// /proc/version inside the sandbox, where a runc sandbox sees this
// machine's kernel. (The data paths on gVisor are tested with the other
// suites' runtime tables.)
func TestGVisorPodsRunInGVisor(t *testing.T) {
	if h := Kubectl(t, "get", "runtimeclass", "gvisor", "-o", "jsonpath={.handler}").RunOrFail().Stdout; h != "runsc" {
		t.Fatalf("RuntimeClass gvisor has handler %q", h)
	}
	version, err := os.ReadFile("/proc/version")
	if err != nil {
		t.Fatal(err)
	}
	hostKernel := strings.Fields(string(version))[2]
	c := readyClaim(t, "e2e-gvisor-kernel", "--pool", "python-gvisor")
	pod := jsonpath(t, c, "{.status.sandbox.name}")
	if rc := Kubectl(t, "get", "pod", pod, "-o", "jsonpath={.spec.runtimeClassName}").RunOrFail().Stdout; rc != "gvisor" {
		t.Errorf("pod %s: runtimeClassName %q", pod, rc)
	}
	out := Sandbox(t, "exec", c, "--", "sh", "-c", "cat /proc/version; dmesg | head -1").RunOrFail().Stdout
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "gvisor") || strings.Contains(lines[0], hostKernel) ||
		!strings.HasSuffix(lines[1], "Starting gVisor...") {
		t.Errorf("in a python-gvisor sandbox (host kernel %s):\n%s", hostKernel, out)
	}
	runc := readyClaim(t, "e2e-runc-kernel", "--pool", "python")
	if v := Sandbox(t, "exec", runc, "--", "cat", "/proc/version").RunOrFail().Stdout; !strings.Contains(v, hostKernel) {
		t.Errorf("a runc sandbox does not see the host's kernel %s: %s", hostKernel, v)
	}
}

// TestFaultImageCannotBePulled: a template whose image does not exist.
// create fails within seconds (not at its --timeout), naming the image and
// the pull error, and leaves no claim; doctor --probe on that pool says the
// same.
func TestFaultImageCannotBePulled(t *testing.T) {
	const name = "e2e-no-image"
	const image = "local.test/agent-sandbox/does-not-exist:v1"
	applyManifest(t, `apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxTemplate
metadata: {name: `+name+`, namespace: default}
spec:
  podTemplate:
    spec:
      containers:
      - name: runtime
        image: `+image+`
        ports: [{containerPort: 8888}]
---
apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxWarmPool
metadata: {name: `+name+`, namespace: default}
spec: {replicas: 0, sandboxTemplateRef: {name: `+name+`}}
`)
	cleanupClaim(t, name)
	start := time.Now()
	res := Sandbox(t, "create", name, "--pool", name, "--timeout", "3m").Run()
	took := time.Since(start)
	want := regexp.MustCompile(`^error: pod default/` + name + ` cannot start: container runtime \(image ` + regexp.QuoteMeta(image) +
		`\): (ErrImagePull|ImagePullBackOff): .*local\.test.* \(sandboxclaim "` + name + `" was deleted\) \(fix the image of the pool's template, or make its registry reachable from the cluster's nodes\)\n$`)
	if res.ExitCode != 1 || !want.MatchString(res.Stderr) || took > time.Minute {
		t.Errorf("create: exit %d after %s, stderr %q", res.ExitCode, took.Round(time.Millisecond), res.Stderr)
	}
	if left := Kubectl(t, "get", "sandboxclaim", name, "--ignore-not-found", "-o", "name").RunOrFail().Stdout; left != "" {
		t.Errorf("create left %s", left)
	}
	doc := Sandbox(t, "doctor", "--pool", name, "--probe").Run()
	if doc.ExitCode != 1 || !regexp.MustCompile(`(?m)^FAIL\s+probe\s+.*cannot start: container runtime \(image `+regexp.QuoteMeta(image)+`\): (ErrImagePull|ImagePullBackOff): `).MatchString(doc.Stdout) {
		t.Errorf("doctor --probe: exit %d\n%s%s", doc.ExitCode, doc.Stdout, doc.Stderr)
	}
	t.Logf("RESULT create failed after %s: %s", took.Round(time.Millisecond), strings.TrimSpace(res.Stderr))
}

// execAllDuring runs `exec -l` over n sandboxes (a command that marks that
// it started, sleeps 4 s and prints done) through the default port-forward
// to the router's pod, and calls fault once every command has started. Each
// sandbox must end with its output or one error line, the exit code must say
// whether one failed, and a new exec on each must work afterwards.
func execAllDuring(t *testing.T, prefix string, n int, fault func(), via ...string) {
	t.Helper()
	label := "e2e-fault=" + prefix
	names := manyClaims(t, prefix, label, n)
	marker := prefix + "-started"
	wait := background(t, Sandbox(t, append(append([]string{"exec", "-l", label, "--max-parallel", "20"}, via...), "--",
		"sh", "-c", "touch "+marker+"; sleep 4; echo done")...), 3*time.Minute)
	eventually(t, 60*time.Second, "every command to start", func() bool { return podFiles(t, marker) == n })
	fault()
	res := wait()
	oneLineErrors(t, res.Stderr)
	failed := 0
	for _, name := range names {
		switch {
		case strings.Join(prefixed(res.Stdout, name), "|") == "done":
		case len(prefixed(res.Stderr, name)) == 1 && strings.HasPrefix(prefixed(res.Stderr, name)[0], "error: "):
			failed++
		default:
			t.Errorf("%s: neither its output nor one error: stdout %q stderr %q", name, prefixed(res.Stdout, name), prefixed(res.Stderr, name))
		}
	}
	if (failed == 0) != (res.ExitCode == 0) {
		t.Errorf("exit %d with %d failed sandboxes", res.ExitCode, failed)
	}
	// Every command had started: each error must say it may have run.
	for _, line := range strings.Split(strings.TrimSpace(res.Stderr), "\n") {
		if line != "" && !strings.Contains(line, "may have run") {
			t.Errorf("a command that started failed without saying it may have run: %q", line)
		}
	}
	eventually(t, 90*time.Second, "a new exec -l to work on every sandbox", func() bool {
		return Sandbox(t, append(append([]string{"exec", "-l", label}, via...), "--", "true")...).Run().ExitCode == 0
	})
	t.Logf("RESULT %d of %d sandboxes finished, %d reported an error; exit %d; stderr %q", n-failed, n, failed, res.ExitCode, res.Stderr)
}

// TestFaultKubeletRestartDuringExecAll: the node's kubelet restarts while
// `exec -l` runs over 10 sandboxes through a port-forward to the router's
// pod (which the kubelet serves).
func TestFaultKubeletRestartDuringExecAll(t *testing.T) {
	execAllDuring(t, "e2e-kubelet-exec", 10, func() { restartComponent(t, "kubelet") })
}

// TestFaultRouterPodDeletedDuringExecAll: the router's pod is deleted while
// `exec -l` runs over 10 sandboxes; its Deployment replaces it, and new
// commands reach the new pod.
func TestFaultRouterPodDeletedDuringExecAll(t *testing.T) {
	execAllDuring(t, "e2e-router-gone", 10, func() {
		Kubectl(t, "-n", "agent-sandbox-system", "delete", "pod", "-l", "app.kubernetes.io/name=sandbox-router", "--wait=false").RunOrFail()
	})
	Kubectl(t, "-n", "agent-sandbox-system", "rollout", "status", "deployment", "sandbox-router", "--timeout=90s").RunOrFail()
}

// TestFaultGatewayRestartDuringExecAll: Traefik, the Gateway API
// implementation, restarts while `exec -l` runs over 10 sandboxes through
// the Gateway. Restarted (SIGTERM), it drains the requests it holds; killed
// (SIGKILL), the commands already sent say they may have run. Either way,
// once Traefik has programmed the Gateway again, new commands work.
func TestFaultGatewayRestartDuringExecAll(t *testing.T) {
	t.Run("restarted", func(t *testing.T) {
		execAllDuring(t, "e2e-gateway-restart", 10, func() { restartComponent(t, "traefik") }, "--gateway", gatewayName)
	})
	t.Run("killed", func(t *testing.T) {
		execAllDuring(t, "e2e-gateway-crash", 10, func() { restartComponent(t, "traefik", "--crash") }, "--gateway", gatewayName)
	})
}

// TestFaultKubeletRestartDuringInteractiveExec: an `exec -it` session on
// sandboxd (a port-forward to the sandbox's pod, served by the kubelet and
// containerd) when the kubelet restarts. The session ends with one line,
// the terminal is given back cooked, the remote shell is gone, and a new
// session works once the kubelet is back.
func TestFaultKubeletRestartDuringInteractiveExec(t *testing.T) {
	c := sandboxdClaim(t, "e2e-kubelet-it")
	shell, cmdline := sleepCmd(4242)
	p := startPTY(t, 24, 80, "exec", "-it", c, "--", "sh", "-c", shell)
	before := p.cookedBefore()
	p.waitFor(`started`, nil)
	mustBeRunning(t, c, cmdline)
	restartComponent(t, "kubelet")
	code := p.exitCode()
	out := p.output()
	if got := termios(t, p.tty); got != before {
		t.Errorf("the terminal was not given back as it was: lflag %#x, was %#x", got.Lflag, before.Lflag)
	}
	if code != 1 || !regexp.MustCompile(`(?m)^error: [^\n]+\r?\n?$`).MatchString(out[strings.LastIndex(out, "started")+len("started"):]) {
		t.Errorf("exit %d, output after the command started: %q", code, out[strings.LastIndex(out, "started")+len("started"):])
	}
	mustBeGone(t, c, cmdline, "the kubelet restarted")
	eventually(t, 60*time.Second, "a new session to work", func() bool {
		return Sandbox(t, "exec", c, "--", "echo", "back").Run().Stdout == "back\n"
	})
	t.Logf("RESULT exit %d; %q", code, strings.TrimSpace(out[strings.LastIndex(out, "started")+len("started"):]))
}

// TestFaultContainerdRestartDuringStreamedExec: containerd restarts while a
// streamed exec runs on sandboxd (its port-forward goes through
// containerd's streaming server). The container itself runs on (its shim
// does not need containerd); the exec ends with one line; a new exec works
// once containerd is back.
func TestFaultContainerdRestartDuringStreamedExec(t *testing.T) {
	c := sandboxdClaim(t, "e2e-containerd-exec")
	pod := jsonpath(t, c, "{.status.sandbox.name}")
	id := containerID(t, pod)
	init := containerInit(t, id)
	cmd := Sandbox(t, "exec", c, "--", "sh", "-c", "echo started; for i in $(seq 1 20); do echo $i; sleep 0.5; done").command()
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	r := bufio.NewReader(out)
	if line, _ := r.ReadString('\n'); line != "started\n" {
		t.Fatalf("first line %q", line)
	}
	restartComponent(t, "containerd")
	rest, _ := io.ReadAll(r)
	err := cmd.Wait()
	stderr := errOut.String()
	switch {
	case err == nil:
		t.Fatalf("the exec outran the restart (stdout %q): nothing was tested", rest)
	case strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "error: "):
		t.Errorf("exit %v, stderr %q", err, stderr)
	}
	if got := containerInit(t, id); got != init {
		t.Errorf("the sandbox's container was restarted: PID 1 %d, was %d", got, init)
	}
	eventually(t, 60*time.Second, "a new exec to work", func() bool {
		return Sandbox(t, "exec", c, "--", "echo", "back").Run().Stdout == "back\n"
	})
	t.Logf("RESULT %v; stderr %q; the container kept running", err, stderr)
}

// TestFaultOOMKilled: a sandbox whose template limits memory, and a command
// whose output (buffered whole by the python runtime) outgrows it: the
// kernel kills the runtime, the container's PID 1. exec says OOMKilled in
// one line, names the limit, says the command may have run, and exits 137
// (128 + SIGKILL); describe shows the kill in the container's state, or
// its last state once the container is restarted;
// the kubelet restarts the container and the next exec works.
func TestFaultOOMKilled(t *testing.T) {
	const name = "e2e-oom"
	applyManifest(t, `apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxTemplate
metadata: {name: `+name+`, namespace: default}
spec:
  podTemplate:
    spec:
      containers:
      - name: python-runtime
        image: `+pythonImage+`
        ports: [{containerPort: 8888}]
        readinessProbe: {httpGet: {path: /, port: 8888}, periodSeconds: 1}
        resources:
          requests: {memory: 128Mi}
          limits: {memory: 128Mi}
---
apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxWarmPool
metadata: {name: `+name+`, namespace: default}
spec: {replicas: 0, sandboxTemplateRef: {name: `+name+`}}
`)
	c := readyClaim(t, name, "--pool", name)
	res := Sandbox(t, "exec", c, "--", "head", "-c", "400000000", "/dev/zero").Run()
	want := regexp.MustCompile(`^error: .*container python-runtime of pod default/` + name + ` was OOMKilled \(memory limit 128Mi\).*the command may have run`)
	if res.ExitCode != 137 || strings.Count(res.Stderr, "\n") != 1 || !want.MatchString(res.Stderr) {
		t.Errorf("exec: exit %d, stderr %q", res.ExitCode, res.Stderr)
	}
	desc := Sandbox(t, "describe", c).RunOrFail().Stdout
	// Before the kubelet restarts the container, the kill is its State;
	// after, its Last State (exec reports it from either: CI saw describe
	// run between the two).
	if !regexp.MustCompile(`(?m)^      (Last )?State:\s+Terminated: OOMKilled \(exit code 137, `).MatchString(desc) ||
		!regexp.MustCompile(`(?m)^      Memory limit:\s+128Mi$`).MatchString(desc) {
		t.Errorf("describe:\n%s", desc)
	}
	eventually(t, 90*time.Second, "the runtime to serve again", func() bool {
		return Sandbox(t, "exec", c, "--", "true").Run().ExitCode == 0
	})
	t.Logf("RESULT exit %d; %q", res.ExitCode, strings.TrimSpace(res.Stderr))
}
