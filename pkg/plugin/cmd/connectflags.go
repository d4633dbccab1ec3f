package cmd

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandboxd"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// envRuntime gives --runtime its default.
const envRuntime = "KUBECTL_SANDBOX_RUNTIME"

// RuntimeFlags say which runtime the sandboxes run, and where sandboxd
// listens in the pod.
type RuntimeFlags struct {
	// Runtime is one of session.Runtimes.
	Runtime string
	// SandboxdGRPCPort and SandboxdRESTPort override sandboxd's ports (0:
	// the pod template's).
	SandboxdGRPCPort, SandboxdRESTPort int
}

// AddFlags binds the runtime flags, --runtime's default from the
// environment.
func (r *RuntimeFlags) AddFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	runtime := os.Getenv(envRuntime)
	if runtime == "" {
		runtime = session.RuntimeAuto
	}
	fs.StringVar(&r.Runtime, "runtime", runtime, "Sandbox runtime: "+runtimeChoices(func(rt session.Runtime) string { return rt.Name + " (" + rt.Doc + ")" })+" [$"+envRuntime+"]")
	fs.IntVar(&r.SandboxdGRPCPort, "sandboxd-grpc-port", 0, fmt.Sprintf("sandboxd's gRPC port in the pod (default: from the pod template's %s, else %d)", sandboxd.EnvGRPCAddr, sandboxd.DefaultGRPCPort))
	fs.IntVar(&r.SandboxdRESTPort, "sandboxd-rest-port", 0, fmt.Sprintf("sandboxd's REST port in the pod (default: from the pod template's %s, else %d)", sandboxd.EnvRESTAddr, sandboxd.DefaultRESTPort))
}

// runtimeChoices words the runtimes a session speaks as "a, b or c".
func runtimeChoices(word func(session.Runtime) string) string {
	words := make([]string, len(session.Runtimes))
	for i, rt := range session.Runtimes {
		words[i] = word(rt)
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// Validate checks the flags.
func (r *RuntimeFlags) Validate() error {
	if !slices.ContainsFunc(session.Runtimes, func(rt session.Runtime) bool { return rt.Name == r.Runtime }) {
		return fmt.Errorf("invalid --runtime %q: use %s (check $%s)", r.Runtime, runtimeChoices(func(rt session.Runtime) string { return rt.Name }), envRuntime)
	}
	for _, p := range []struct {
		flag string
		port int
	}{{"--sandboxd-grpc-port", r.SandboxdGRPCPort}, {"--sandboxd-rest-port", r.SandboxdRESTPort}} {
		if p.port < 0 || p.port > 65535 {
			return fmt.Errorf("invalid %s %d: must be 1-65535", p.flag, p.port)
		}
	}
	return nil
}

// ConnectFlags are the flags of the verbs that reach sandboxes: how to
// reach the sandbox router, and which runtime the sandboxes run.
type ConnectFlags struct {
	Router  RouterFlags
	Runtime RuntimeFlags
}

// AddFlags binds both groups.
func (c *ConnectFlags) AddFlags(cmd *cobra.Command) {
	c.Router.AddFlags(cmd)
	c.Runtime.AddFlags(cmd)
}

// Complete validates the flags and reads them into session options (the
// router's token and CA files too), and takes the namespace: what every
// verb that reaches sandboxes needs before it can run. It makes no API
// call.
func (c *ConnectFlags) Complete(f Factory) (session.Options, string, error) {
	if err := c.Router.Validate(); err != nil {
		return session.Options{}, "", err
	}
	if err := c.Runtime.Validate(); err != nil {
		return session.Options{}, "", err
	}
	ro, err := c.Router.ToOptions()
	if err != nil {
		return session.Options{}, "", err
	}
	opts := session.Options{
		Router: ro, ServerPort: c.Router.ServerPort, Runtime: c.Runtime.Runtime,
		Sandboxd: sandboxd.Ports{GRPC: c.Runtime.SandboxdGRPCPort, REST: c.Runtime.SandboxdRESTPort},
	}
	ns, err := f.Namespace()
	return opts, ns, err
}
