//go:build e2e

package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestDoctorReadsTheControllerDeployment: where the controller runs as the
// release installs it (Deployment agent-sandbox-system/agent-sandbox-
// controller), doctor judges it by that Deployment: available replicas and
// --extensions. The local cluster runs the controller outside, so the test
// stands a Deployment in for it (no deployment controller runs here: its
// status is what the test writes).
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
      containers: [{name: controller, image: e2e/stand-in, args: ["--extensions"]}]
`)).RunOrFail()
	status := func(available string) {
		Kubectl(t, "-n", "agent-sandbox-system", "patch", "deployment", "agent-sandbox-controller", "--subresource=status", "--type=merge",
			"-p", `{"status":{"replicas":1,"readyReplicas":`+available+`,"availableReplicas":`+available+`}}`).RunOrFail()
	}
	for _, step := range []struct {
		name, available, args string
		code                  int
		want                  string
	}{
		{"down", "0", "", 1, `(?m)^FAIL\s+controller\s+deployment agent-sandbox-system/agent-sandbox-controller: 0/1 available \(fix: `},
		{"up", "1", "", 0, `(?m)^OK\s+controller\s+deployment agent-sandbox-system/agent-sandbox-controller: 1/1 available, --extensions$`},
		{"without --extensions", "1", `["--leader-elect=false"]`, 1, `(?m)^FAIL\s+controller\s+.*without --extensions.*\(fix: add --extensions`},
	} {
		if step.args != "" {
			Kubectl(t, "-n", "agent-sandbox-system", "patch", "deployment", "agent-sandbox-controller", "--type=json",
				"-p", `[{"op":"replace","path":"/spec/template/spec/containers/0/args","value":`+step.args+`}]`).RunOrFail()
		}
		status(step.available)
		res := Sandbox(t, "doctor").Run()
		if res.ExitCode != step.code || !regexp.MustCompile(step.want).MatchString(res.Stdout) {
			t.Errorf("%s: exit %d\n%s%s", step.name, res.ExitCode, res.Stdout, res.Stderr)
		}
	}
}
