package cmd

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podconn"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandboxd"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// envRuntime gives --runtime its default, envTransport --transport's.
const (
	envRuntime   = "KUBECTL_SANDBOX_RUNTIME"
	envTransport = "KUBECTL_SANDBOX_TRANSPORT"
)

// RuntimeFlags say which runtime the sandboxes run, and where sandboxd
// listens in the pod.
type RuntimeFlags struct {
	// Runtime is one of session.Runtimes.
	Runtime string
	// SandboxdGRPCPort and SandboxdRESTPort override sandboxd's ports (0:
	// the pod template's).
	SandboxdGRPCPort, SandboxdRESTPort int
	// Transport reaches sandboxd in the pod.
	Transport TransportFlag
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
	r.Transport.AddFlag(cmd, "How to reach sandboxd in the pod")
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
	if err := r.Transport.Validate(); err != nil {
		return err
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
		Sandboxd:  sandboxd.Ports{GRPC: c.Runtime.SandboxdGRPCPort, REST: c.Runtime.SandboxdRESTPort},
		Transport: c.Runtime.Transport.Name,
	}
	ns, err := f.Namespace()
	return opts, ns, err
}

// TransportFlag is --transport: how to reach ports in a sandbox's pod.
type TransportFlag struct {
	// Name is one of podconn.Transports.
	Name string
}

// AddFlag binds --transport, its default from the environment; what
// starts the help text.
func (t *TransportFlag) AddFlag(cmd *cobra.Command, what string) {
	name := os.Getenv(envTransport)
	if name == "" {
		name = podconn.Auto
	}
	words := make([]string, len(podconn.Transports))
	for i, tr := range podconn.Transports {
		words[i] = tr.Name + " (" + tr.Doc + ")"
	}
	cmd.Flags().StringVar(&t.Name, "transport", name, what+": "+strings.Join(words[:len(words)-1], ", ")+" or "+words[len(words)-1]+" [$"+envTransport+"]")
}

// Validate checks the transport's name.
func (t *TransportFlag) Validate() error {
	if podconn.Valid(t.Name) {
		return nil
	}
	names := make([]string, len(podconn.Transports))
	for i, tr := range podconn.Transports {
		names[i] = tr.Name
	}
	return fmt.Errorf("invalid --transport %q: use %s or %s (check $%s)", t.Name, strings.Join(names[:len(names)-1], ", "), names[len(names)-1], envTransport)
}
