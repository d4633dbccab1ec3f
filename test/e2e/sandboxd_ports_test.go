//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// TestSandboxdPortsAreConfigurable: --sandboxd-grpc-port and
// --sandboxd-rest-port override the ports the template announces; a port
// nothing answers on is one error naming it, with the hint.
func TestSandboxdPortsAreConfigurable(t *testing.T) {
	c := readyClaim(t, "e2e-sd-ports", "--pool", "sandboxd")
	pod := jsonpath(t, c, "{.status.sandbox.name}")
	if res := Sandbox(t, "exec", c, "--sandboxd-grpc-port", "9090", "--sandboxd-rest-port", "8080", "--", "echo", "ok").RunOrFail(); res.Stdout != "ok\n" {
		t.Errorf("the template's own ports: %q", res.Stdout)
	}
	for _, tc := range []struct {
		flag, port, why string
	}{
		{"--sandboxd-grpc-port", "7", "no gRPC server answered"},
		// A port-forward finds no answer within a second, and the relay
		// over pods/exec (auto's fallback) says why.
		{"--sandboxd-rest-port", "7", "nothing accepts connections on it (seen through pods/exec)"},
	} {
		res := Sandbox(t, "exec", c, tc.flag, tc.port, "--", "true").Run()
		want := "error: pod default/" + pod + " does not answer on sandboxd's port 7: " + tc.why
		if res.ExitCode != 1 || !strings.HasPrefix(res.Stderr, want) || strings.Count(res.Stderr, "\n") != 1 ||
			!strings.Contains(res.Stderr, "--sandboxd-grpc-port") {
			t.Errorf("%s %s: exit %d stderr %q, want one line starting %q with the hint", tc.flag, tc.port, res.ExitCode, res.Stderr, want)
		}
	}
}
