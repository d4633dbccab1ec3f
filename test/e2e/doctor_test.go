//go:build e2e

package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDoctorReadsTheControllerDeployment: where the controller runs as the
// release installs it (Deployment agent-sandbox-system/agent-sandbox-
// controller), doctor judges it by that Deployment: available replicas and
// --extensions. The local cluster runs the controller as a host process, so
// the test stands a Deployment in for it, whose pod (it only sleeps) turns
// available when the test makes its /tmp/up: the node's kubelet and the
// Deployment controller write its status.
func TestDoctorReadsTheControllerDeployment(t *testing.T) {
	Kubectl(t, "-n", "agent-sandbox-system", "delete", "deployment", "agent-sandbox-controller", "--ignore-not-found").RunOrFail()
	t.Cleanup(func() {
		Kubectl(t, "-n", "agent-sandbox-system", "delete", "deployment", "agent-sandbox-controller", "--ignore-not-found").Run()
	})
	Kubectl(t, "apply", "-f", "-").WithStdin(strings.NewReader(`apiVersion: apps/v1
kind: Deployment
metadata: {name: agent-sandbox-controller, namespace: agent-sandbox-system}
spec:
  replicas: 1
  selector: {matchLabels: {app: e2e-stand-in-controller}}
  template:
    metadata: {labels: {app: e2e-stand-in-controller}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: controller
        image: ` + pythonImage + `
        command: [sh, -c, exec sleep 1000000]
        args: ["--extensions"]
        readinessProbe: {exec: {command: [test, -e, /tmp/up]}, periodSeconds: 1}
`)).RunOrFail()
	doctor := func(name string, code int, want string) {
		t.Helper()
		res := Sandbox(t, "doctor").Run()
		if res.ExitCode != code || !regexp.MustCompile(want).MatchString(res.Stdout) {
			t.Errorf("%s: exit %d\n%s%s", name, res.ExitCode, res.Stdout, res.Stderr)
		}
	}
	deploy := []string{"-n", "agent-sandbox-system", "deployment", "agent-sandbox-controller"}
	doctor("down", 1, `(?m)^FAIL\s+controller\s+deployment agent-sandbox-system/agent-sandbox-controller: 0/1 available \(fix: `)
	eventually(t, 60*time.Second, "the stand-in's pod to run", func() bool {
		return Kubectl(t, "-n", "agent-sandbox-system", "exec", "deploy/agent-sandbox-controller", "--", "touch", "/tmp/up").Run().ExitCode == 0
	})
	Kubectl(t, append([]string{"wait", "--for=condition=Available", "--timeout=60s"}, deploy...)...).RunOrFail()
	doctor("up", 0, `(?m)^OK\s+controller\s+deployment agent-sandbox-system/agent-sandbox-controller: 1/1 available, --extensions$`)
	// A new template without --extensions: its pod never turns ready, the
	// old one stays available meanwhile.
	Kubectl(t, append([]string{"patch"}, append(deploy, "--type=json",
		"-p", `[{"op":"replace","path":"/spec/template/spec/containers/0/args","value":["--leader-elect=false"]}]`)...)...).RunOrFail()
	doctor("without --extensions", 1, `(?m)^FAIL\s+controller\s+.*without --extensions.*\(fix: add --extensions`)
}
