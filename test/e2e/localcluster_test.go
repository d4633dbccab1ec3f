//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests of the local cluster itself: what it serves to seed-era clients,
// how its node (a real kubelet) reports a sandbox runtime that cannot
// start, and that cluster-down signals only what it started.

// applyManifest creates the objects of a manifest for the test and deletes
// them when it ends.
func applyManifest(t *testing.T, manifest string) {
	t.Helper()
	Kubectl(t, "apply", "-f", "-").WithStdin(bytes.NewBufferString(manifest)).RunOrFail()
	t.Cleanup(func() {
		Kubectl(t, "delete", "-f", "-", "--ignore-not-found", "--wait=false").WithStdin(bytes.NewBufferString(manifest)).Run()
	})
}

// TestV1alpha1ClaimByTemplateUsesShadowPool: a seed-era client creates a
// v1alpha1 SandboxClaim that names only the template. agent-sandbox v0.5.6
// converts it to warmPoolRef shadow-pool-python; with that pool (in
// hack/cluster/seed.yaml) the claim becomes Ready and the plugin execs in
// its sandbox.
func TestV1alpha1ClaimByTemplateUsesShadowPool(t *testing.T) {
	const pool = "shadow-pool-python"
	const claim = "e2e-alpha-by-template"
	cleanupClaim(t, claim)
	res := Kubectl(t, "create", "-f", "-").WithStdin(bytes.NewBufferString(`apiVersion: extensions.agents.x-k8s.io/v1alpha1
kind: SandboxClaim
metadata: {name: ` + claim + `, namespace: default}
spec:
  sandboxTemplateRef: {name: python}
`)).RunOrFail()
	if !strings.Contains(res.Stderr, "extensions.agents.x-k8s.io/v1alpha1 SandboxClaim is deprecated") {
		t.Errorf("creating a v1alpha1 claim: no deprecation warning in %q", res.Stderr)
	}
	if res := Kubectl(t, "wait", "--for=condition=Ready", "--timeout=60s", "sandboxclaim/"+claim).Run(); res.ExitCode != 0 {
		t.Fatalf("the v1alpha1 claim did not become Ready: %s%s", res.Stderr,
			jsonpath(t, claim, `{.spec.warmPoolRef.name}: {.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}`))
	}
	if got := jsonpath(t, claim, "{.spec.warmPoolRef.name}"); got != pool {
		t.Errorf("the v1beta1 view of the claim names pool %q, want %q", got, pool)
	}
	if got := jsonpath(t, claim, "{.status.sandbox.name}"); got != claim {
		t.Errorf("sandbox %q, want a cold start named %q", got, claim)
	}
	// Read back as v1alpha1, the shadow pool is a template reference again.
	alpha := Kubectl(t, "get", "sandboxclaims.v1alpha1.extensions.agents.x-k8s.io", claim,
		"-o", "jsonpath={.spec.sandboxTemplateRef.name}").RunOrFail().Stdout
	if alpha != "python" {
		t.Errorf("the v1alpha1 view names template %q, want python", alpha)
	}
	if out := Sandbox(t, "exec", claim, "--", "echo", "seed-era").RunOrFail().Stdout; out != "seed-era\n" {
		t.Errorf("exec: stdout %q", out)
	}
}

// podStatus is the part of a pod's status that says why it is not Ready.
type podStatus struct {
	Status struct {
		Phase      string
		Conditions []struct {
			Type, Status, Reason, Message string
		}
		ContainerStatuses []struct {
			Name         string
			Ready        bool
			RestartCount int
			State        struct {
				Waiting *struct{ Reason, Message string }
			}
			LastState struct {
				Terminated *struct {
					ExitCode int
					Message  string
				}
			}
		}
	}
}

// TestNodeReportsRuntimeThatCannotStart: a template whose container
// environment makes the upstream runtime exit at once (uvicorn reads
// UVICORN_* settings from the environment). The kubelet reports why: the
// container waits in CrashLoopBackOff after exiting with uvicorn's code 2,
// its previous logs hold uvicorn's error, and the claim is not Ready.
func TestNodeReportsRuntimeThatCannotStart(t *testing.T) {
	const name = "e2e-crashing"
	applyManifest(t, `apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxTemplate
metadata: {name: `+name+`, namespace: default}
spec:
  podTemplate:
    spec:
      containers:
      - name: python-runtime
        image: `+pythonImage+`
        env: [{name: UVICORN_LIMIT_CONCURRENCY, value: not-a-number}]
        ports: [{containerPort: 8888}]
        readinessProbe: {httpGet: {path: /, port: 8888}, periodSeconds: 1}
---
apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxWarmPool
metadata: {name: `+name+`, namespace: default}
spec: {replicas: 0, sandboxTemplateRef: {name: `+name+`}}
`)
	cleanupClaim(t, name)
	Kubectl(t, "create", "-f", "-").WithStdin(bytes.NewBufferString(`apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxClaim
metadata: {name: ` + name + `, namespace: default}
spec: {warmPoolRef: {name: ` + name + `}}
`)).RunOrFail()

	const uvicornError = `Error: Invalid value for '--limit-concurrency': 'not-a-number' is not a valid integer.`
	var pod podStatus
	eventually(t, 90*time.Second, "the pod to report CrashLoopBackOff", func() bool {
		res := Kubectl(t, "get", "pod", name, "-o", "json").Run()
		if res.ExitCode != 0 || json.Unmarshal([]byte(res.Stdout), &pod) != nil || len(pod.Status.ContainerStatuses) != 1 {
			return false
		}
		w := pod.Status.ContainerStatuses[0].State.Waiting
		return w != nil && w.Reason == "CrashLoopBackOff"
	})
	cs := pod.Status.ContainerStatuses[0]
	if w := cs.State.Waiting; !strings.HasPrefix(w.Message, "back-off ") || !strings.Contains(w.Message, "restarting failed container=python-runtime pod="+name+"_default(") {
		t.Errorf("waiting message %q", w.Message)
	}
	if last := cs.LastState.Terminated; last == nil || last.ExitCode != 2 || cs.RestartCount < 1 {
		t.Errorf("last state %+v, restarts %d", cs.LastState, cs.RestartCount)
	}
	if cs.Ready || pod.Status.Phase != "Running" {
		t.Errorf("phase %s, container ready %v", pod.Status.Phase, cs.Ready)
	}
	if logs := Kubectl(t, "logs", name, "--previous").RunOrFail().Stdout; !strings.Contains(logs, uvicornError) {
		t.Errorf("previous logs %q lack %q", logs, uvicornError)
	}
	if got := jsonpath(t, name, `{.status.conditions[?(@.type=="Ready")].status}`); got != "False" {
		t.Errorf("claim Ready=%q", got)
	}
	t.Logf("pod %s: %s", name, cs.State.Waiting.Message)
}

// procStart returns the start time of a running process (field 22 of
// /proc/PID/stat), or "" when there is none (or only a zombie).
func procStart(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 20 || f[0] == "Z" {
		return ""
	}
	return f[19]
}

// TestClusterDownSignalsOnlyWhatItStarted: hack/cluster-down.sh, run on a
// scratch CLUSTER_DIR whose records the test tampers with, stops the
// processes that are still the ones it started (in reverse start order;
// SIGKILL after SIGTERM was ignored for 10s), and leaves alone, with a log
// line, a recorded PID that is gone or now belongs to another process.
func TestClusterDownSignalsOnlyWhatItStarted(t *testing.T) {
	dir := t.TempDir()
	env := append(os.Environ(), "ROOT="+repoRoot, "CLUSTER_DIR="+dir)
	started := map[int]string{} // every process of the test: PID -> start time
	t.Cleanup(func() {
		for pid, start := range started {
			if procStart(pid) == start {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	setup := exec.Command("bash", "-c", `set -euo pipefail
source "$ROOT/hack/lib/cluster.sh"
mkdir -p "$PID_DIR" "$LOG_DIR" "$JAIL"
printf 'nameserver 127.0.0.1\n' >"$JAIL/resolv.conf"
start first sleep 300
start stubborn /usr/bin/python3 -c 'import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print("up", flush=True); time.sleep(300)'
start gone sleep 300
start reused sleep 300
start other sleep 300`)
	setup.Env = env
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("starting the processes: %v\n%s", err, out)
	}
	pids := map[string]int{}
	for i, name := range []string{"first", "stubborn", "gone", "reused", "other"} {
		base := filepath.Join(dir, "pids", "0"+strconv.Itoa(i)+"-"+name)
		b, err := os.ReadFile(base + ".pid")
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		start, _ := os.ReadFile(base + ".start")
		if got := procStart(pid); got == "" || got != strings.TrimSpace(string(start)) {
			t.Fatalf("%s: PID %d started at %q, recorded %q", name, pid, got, start)
		}
		pids[name], started[pid] = pid, string(bytes.TrimSpace(start))
	}
	// The python process ignores SIGTERM once it has said so.
	eventually(t, 10*time.Second, "the stubborn process to start", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "logs", "stubborn.log"))
		return string(b) == "up\n"
	})
	// gone: the process exited.
	_ = syscall.Kill(pids["gone"], syscall.SIGKILL)
	eventually(t, 10*time.Second, "the killed process to go", func() bool { return procStart(pids["gone"]) == "" })
	// reused: the PID seems to belong to a process started at another time.
	if err := os.WriteFile(filepath.Join(dir, "pids", "03-reused.start"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// other: the PID belongs to a process with the recorded start time
	// but another command line.
	unrelated := exec.Command("sleep", "301")
	if err := unrelated.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = unrelated.Wait() }()
	uStart := procStart(unrelated.Process.Pid)
	started[unrelated.Process.Pid] = uStart
	for file, content := range map[string]string{"04-other.pid": strconv.Itoa(unrelated.Process.Pid), "04-other.start": uStart} {
		if err := os.WriteFile(filepath.Join(dir, "pids", file), []byte(content+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	down := exec.Command(filepath.Join(repoRoot, "hack", "cluster-down.sh"))
	down.Env = env
	out, err := down.CombinedOutput()
	if err != nil {
		t.Fatalf("cluster-down: %v\n%s", err, out)
	}
	t.Logf("cluster-down:\n%s", out)
	// In reverse start order, one line each.
	want := []string{
		`not signalling other: PID ` + strconv.Itoa(unrelated.Process.Pid) + ` runs another command \(sleep 301\)`,
		`not signalling reused: PID ` + strconv.Itoa(pids["reused"]) + ` now belongs to another process \(started at tick ` + started[pids["reused"]] + `, not 1\)`,
		`not signalling gone: PID ` + strconv.Itoa(pids["gone"]) + ` is gone \(the process exited\)`,
		`stubborn \(` + strconv.Itoa(pids["stubborn"]) + `\) ignored SIGTERM for 10s; killing it`,
		`stopped first \(` + strconv.Itoa(pids["first"]) + `\)`,
		`local cluster is down`,
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		lines = append(lines, regexp.MustCompile(`^\d\d:\d\d:\d\d(\.\d+)? `).ReplaceAllString(l, ""))
	}
	if len(lines) != len(want) {
		t.Fatalf("cluster-down printed %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, re := range want {
		if !regexp.MustCompile("^" + re + "$").MatchString(lines[i]) {
			t.Errorf("line %d: %q, want /%s/", i+1, lines[i], re)
		}
	}
	for name, pid := range map[string]int{"first": pids["first"], "stubborn": pids["stubborn"]} {
		if procStart(pid) != "" {
			t.Errorf("%s (PID %d) still runs", name, pid)
		}
	}
	for name, pid := range map[string]int{"reused": pids["reused"], "other (recorded no more)": pids["other"], "unrelated": unrelated.Process.Pid} {
		if procStart(pid) != started[pid] {
			t.Errorf("%s (PID %d) was signalled", name, pid)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "pids", "*")); len(left) != 0 {
		t.Errorf("records left: %v", left)
	}
}
