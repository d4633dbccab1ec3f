//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPluginDiscovery: kubectl finds the plugin on PATH and runs it.
func TestPluginDiscovery(t *testing.T) {
	list := Kubectl(t, "plugin", "list").Run()
	if !strings.Contains(list.Stdout, "kubectl-sandbox") {
		t.Fatalf("kubectl plugin list does not show kubectl-sandbox:\n%s%s", list.Stdout, list.Stderr)
	}
	res := Sandbox(t, "version").RunOrFail()
	if !strings.HasPrefix(res.Stdout, "Client Version: ") ||
		!strings.HasSuffix(res.Stdout, "\nServer agent-sandbox APIs: agents.x-k8s.io v1alpha1,v1beta1; extensions.agents.x-k8s.io v1alpha1,v1beta1\n") {
		t.Fatalf("unexpected version output %q", res.Stdout)
	}
	res = Sandbox(t, "version", "-o", "json").RunOrFail()
	var v struct {
		ClientVersion struct{ Version, Platform string }
	}
	if err := json.Unmarshal([]byte(res.Stdout), &v); err != nil || v.ClientVersion.Version == "" {
		t.Fatalf("version -o json: %v: %q", err, res.Stdout)
	}
}
