package cmd

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podconn"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandboxd"
)

// PortForwardOptions forwards local ports to a sandbox's pod.
type PortForwardOptions struct {
	Addresses []string
	Transport TransportFlag

	claim, namespace string
	ports            []string // podforward's LOCAL:REMOTE
	remote           []int
	pairs            [][2]int // LOCAL, REMOTE

	Clients Factory
	genericiooptions.IOStreams
}

// NewCmdPortForward returns `kubectl sandbox port-forward`.
func NewCmdPortForward(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &PortForwardOptions{Clients: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "port-forward CLAIM [LOCAL_PORT:]REMOTE_PORT...",
		Short: "Forward local ports to a sandbox's pod",
		Long: `Forward local ports to ports of a claim's sandbox pod, through the API
server's pods/portforward, as kubectl port-forward does: REMOTE forwards the
same local port, LOCAL:REMOTE another one, :REMOTE (or 0:REMOTE) a free one,
printed. It runs until Ctrl-C, or until the pod goes away.

A port-forward does not reach pods under gVisor or Kata (their listeners live
in the sandbox's own kernel): for a pod whose RuntimeClass runs one, each
connection is relayed over pods/exec instead (--transport auto), which needs
create on pods/exec, sh with bash or python3 in the container, and cannot
half-close a connection.`,
		Example: `  # Reach a web app the agent started on port 8000
  kubectl sandbox port-forward my-sandbox 8000

  # A free local port, on every interface
  kubectl sandbox port-forward my-sandbox :8000 --address 0.0.0.0

  # Relay over pods/exec whatever the pod's runtime
  kubectl sandbox port-forward my-sandbox 8000 --transport exec`,
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: completeNames(f, listClaimNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringSliceVar(&o.Addresses, "address", []string{"localhost"}, "Addresses to listen on (comma separated). Only accepts IP addresses or localhost as a value.")
	o.Transport.AddFlag(cmd, "How to reach the pod's ports")
	return cmd
}

// Complete takes the claim, the namespace and the port specs.
func (o *PortForwardOptions) Complete(args []string) error {
	o.claim = args[0]
	var err error
	if o.namespace, err = o.Clients.Namespace(); err != nil {
		return err
	}
	o.ports, o.remote, o.pairs = nil, nil, nil
	for _, spec := range args[1:] {
		local, remote, err := parsePortSpec(spec)
		if err != nil {
			return err
		}
		o.ports = append(o.ports, strconv.Itoa(local)+":"+strconv.Itoa(remote))
		o.remote = append(o.remote, remote)
		o.pairs = append(o.pairs, [2]int{local, remote})
	}
	return nil
}

// Validate checks the claim and the addresses; it makes no API calls.
func (o *PortForwardOptions) Validate() error {
	if err := validateName("claim", o.claim); err != nil {
		return err
	}
	if err := o.Transport.Validate(); err != nil {
		return err
	}
	for _, a := range o.Addresses {
		if a != "localhost" && net.ParseIP(a) == nil {
			return fmt.Errorf("invalid --address %q: use an IP address or localhost", a)
		}
	}
	return nil
}

// parsePortSpec parses kubectl's [LOCAL:]REMOTE; LOCAL 0 or empty is a free
// port.
func parsePortSpec(spec string) (local, remote int, err error) {
	l, r, hasLocal := strings.Cut(spec, ":")
	if !hasLocal {
		l, r = spec, spec
	}
	bad := func() (int, int, error) {
		return 0, 0, fmt.Errorf("invalid port %q: use [LOCAL_PORT:]REMOTE_PORT with ports 1-65535 (LOCAL_PORT may be empty or 0 for a free one)", spec)
	}
	remote, err = strconv.Atoi(r)
	if err != nil || remote < 1 || remote > 65535 {
		return bad()
	}
	if l == "" {
		return 0, remote, nil
	}
	local, err = strconv.Atoi(l)
	if err != nil || local < 0 || local > 65535 || !hasLocal && local == 0 {
		return bad()
	}
	return local, remote, nil
}

// Run forwards until ctx ends or the forward is lost.
func (o *PortForwardOptions) Run(ctx context.Context) error {
	clients, err := o.Clients.Clients()
	if err != nil {
		return err
	}
	pod, err := runningPod(ctx, clients, o.namespace, o.claim)
	if err != nil {
		return err
	}
	isolated := ""
	if o.Transport.Name != podconn.Exec {
		isolated = podconn.NewClasses(clients).Isolated(ctx, pod.Spec.RuntimeClassName)
	}
	switch {
	case o.Transport.Name == podconn.Exec, o.Transport.Name == podconn.Auto && isolated != "":
		return o.relay(ctx, clients, pod)
	case isolated != "":
		fmt.Fprintf(o.ErrOut, "Warning: pod %s runs under %s, which port-forwards do not enter: connections through this one will fail (%s)\n", pod.Name, isolated, isolatedForwardHint(o.claim))
	}
	fw, err := podforward.Open(ctx, clients.Config, clients.Core, o.namespace, pod.Name, expandLocalhost(o.Addresses), o.ports)
	if err != nil {
		return err
	}
	for i, local := range fw.Local {
		for _, a := range expandLocalhost(o.Addresses) {
			fmt.Fprintf(o.Out, "Forwarding from %s -> %d\n", net.JoinHostPort(a, strconv.Itoa(local)), o.remote[i])
		}
	}
	err = podforward.Keep(ctx, clients.Config, clients.Core, fw, expandLocalhost(o.Addresses), o.remote, func(err error) {
		fmt.Fprintf(o.ErrOut, "Warning: %v (does something listen on the sandbox's port?); forwarding again\n", err)
	})
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// relay listens locally and relays each connection over pods/exec, until
// ctx ends or the pod goes.
func (o *PortForwardOptions) relay(ctx context.Context, clients *kube.Clients, pod *corev1.Pod) error {
	addresses := expandLocalhost(o.Addresses)
	routes, err := podconn.Listen(addresses, o.pairs)
	if err != nil {
		return err
	}
	for i, r := range routes {
		fmt.Fprintf(o.Out, "Forwarding from %s -> %d\n", r.Listener.Addr(), o.pairs[i/len(addresses)][1])
	}
	d := podconn.Relay(clients, podexec.Target{Namespace: pod.Namespace, Pod: pod.Name, Container: relayContainer(pod)})
	live, stop := claims.WhilePodLives(ctx, clients.Core, pod, 0)
	defer stop()
	err = podconn.Serve(live, d, routes, func(err error) {
		fmt.Fprintf(o.ErrOut, "Warning: %v\n", err)
	})
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// relayContainer is the container of pod that runs relays: sandboxd's,
// else kubectl's default container (its annotation), else the first. Any
// will do, as they share the pod's loopback, if it has sh.
func relayContainer(pod *corev1.Pod) string {
	if c := sandboxd.Container(&pod.Spec); c != "" {
		return c
	}
	if c := pod.Annotations["kubectl.kubernetes.io/default-container"]; c != "" {
		return c
	}
	if len(pod.Spec.Containers) > 0 {
		return pod.Spec.Containers[0].Name
	}
	return ""
}

// expandLocalhost replaces localhost with its loopback addresses (::1 only
// where IPv6 works), so that each must be listened on: a local port taken
// on one of them is an error, not a forward on the other alone.
func expandLocalhost(addresses []string) []string {
	var out []string
	for _, a := range addresses {
		if a != "localhost" {
			out = append(out, a)
			continue
		}
		out = append(out, "127.0.0.1")
		if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
			_ = ln.Close()
			out = append(out, "::1")
		}
	}
	return out
}

// runningPod is a claim's pod, which must be running.
func runningPod(ctx context.Context, clients *kube.Clients, ns, claim string) (*corev1.Pod, error) {
	pod, err := claims.PodOf(ctx, clients, ns, claim)
	if err != nil {
		return nil, err
	}
	if pod.Status.Phase != corev1.PodRunning {
		return nil, &podNotRunningError{claim: claim, pod: pod.Name, phase: pod.Status.Phase}
	}
	return pod, nil
}

type podNotRunningError struct {
	claim, pod string
	phase      corev1.PodPhase
}

func (e *podNotRunningError) Error() string {
	return fmt.Sprintf("pod %s of sandboxclaim %q is %s, not Running", e.pod, e.claim, e.phase)
}
