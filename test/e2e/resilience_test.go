//go:build e2e

package e2e

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestCreateWaitSurvivesAPIServerRestart: `create` is waiting on a claim
// when the apiserver restarts; the claim becomes Ready afterwards and the
// same wait sees it.
func TestCreateWaitSurvivesAPIServerRestart(t *testing.T) {
	pool := neverReadyPool(t)
	cleanupClaim(t, "e2e-restart")
	cmd := Sandbox(t, "create", "e2e-restart", "--pool", pool, "--timeout", "3m").command()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	eventually(t, 30*time.Second, "the claim's pod", func() bool {
		return Kubectl(t, "get", "pod", "e2e-restart", "-o", "jsonpath={.status.podIP}").Run().Stdout != ""
	})
	restart := script("hack/cluster/restart.sh", "kube-apiserver")
	if b, err := restart.CombinedOutput(); err != nil {
		t.Fatalf("restarting the apiserver: %v\n%s", err, b)
	}
	// The pod passes its readiness probe once /tmp/ready exists.
	eventually(t, 60*time.Second, "the pod's container to run", func() bool {
		return Kubectl(t, "exec", "e2e-restart", "--", "touch", "/tmp/ready").Run().ExitCode == 0
	})
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("create: %v\nstdout %q\nstderr %q", err, out.String(), errOut.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("create still waiting 2m after the claim became Ready; stderr %q", errOut.String())
	}
	if !strings.HasSuffix(out.String(), claimRes+"/e2e-restart ready (sandbox e2e-restart)\n") {
		t.Errorf("stdout %q", out.String())
	}
}
