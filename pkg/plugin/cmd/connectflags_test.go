package cmd

import (
	"testing"

	"github.com/spf13/cobra"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podconn"
)

// TestTransportReachesTheSession: --transport, else
// $KUBECTL_SANDBOX_TRANSPORT, else auto, is the session's transport (the
// MCP server's tools too: its verb binds the same ConnectFlags).
func TestTransportReachesTheSession(t *testing.T) {
	for _, tc := range []struct {
		env  string
		args []string
		want string
	}{
		{"", nil, podconn.Auto},
		{"exec", nil, podconn.Exec},
		{"exec", []string{"--transport", "port-forward"}, podconn.PortForward},
	} {
		t.Setenv(envTransport, tc.env)
		var c ConnectFlags
		cmd := &cobra.Command{}
		c.AddFlags(cmd)
		if err := cmd.Flags().Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		opts, _, err := c.Complete(newFakeFactory())
		if err != nil || opts.Transport != tc.want {
			t.Errorf("env %q, args %q: transport %q, %v; want %q", tc.env, tc.args, opts.Transport, err, tc.want)
		}
	}
}
