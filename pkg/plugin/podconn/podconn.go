// Package podconn reaches ports on a sandbox pod's loopback by one of two
// transports: a port-forward through the API server (pods/portforward), or
// a relay over pods/exec (package podexec), which also works where the
// pod's listeners live in a kernel of their own (gVisor, Kata) that the
// kubelet's port-forward does not enter. It also tells, from a pod's
// RuntimeClass, which pods need the relay.
package podconn

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward"
)

// Transports.
const (
	// Auto is Exec for a pod whose RuntimeClass isolates it (Isolated),
	// else PortForward, with Exec as the fallback where the pod does not
	// answer through the port-forward.
	Auto = "auto"
	// PortForward is pods/portforward.
	PortForward = "port-forward"
	// Exec is a relay over pods/exec.
	Exec = "exec"
)

// Transport is a transport and what it does, for help texts.
type Transport struct{ Name, Doc string }

// Transports are the transports, Auto first.
var Transports = []Transport{
	{Auto, "exec for gVisor and Kata pods, else port-forward, exec if the pod does not answer through it"},
	{PortForward, "pods/portforward"},
	{Exec, "a relay over pods/exec"},
}

// Valid says whether name is one of Transports.
func Valid(name string) bool {
	for _, t := range Transports {
		if t.Name == name {
			return true
		}
	}
	return false
}

// Dialer opens connections to ports on a pod's loopback. Each connection
// is closed by its user; Close releases what the dialer itself holds.
type Dialer interface {
	DialPort(ctx context.Context, port int) (net.Conn, error)
	Close()
	// Transport is PortForward or Exec.
	Transport() string
}

// Forwarded is a port-forward to some of a pod's ports.
type Forwarded struct {
	fw    *podforward.Forward
	local map[int]int
}

// Forward opens a port-forward to ports of pod ns/name; a refusal that an
// access review confirms is a *kube.ForbiddenError.
func Forward(ctx context.Context, clients *kube.Clients, ns, name string, ports ...int) (*Forwarded, error) {
	specs := make([]string, len(ports))
	for i, p := range ports {
		specs[i] = "0:" + strconv.Itoa(p)
	}
	fw, err := podforward.Open(ctx, clients.Config, clients.Core, ns, name, nil, specs)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, kube.Refused(ctx, clients, ns, name, kube.PortForward, err)
	}
	f := &Forwarded{fw: fw, local: map[int]int{}}
	for i, p := range ports {
		f.local[p] = fw.Local[i]
	}
	return f, nil
}

// DialPort connects to the local end of port's forward.
func (f *Forwarded) DialPort(ctx context.Context, port int) (net.Conn, error) {
	local, ok := f.local[port]
	if !ok {
		return nil, fmt.Errorf("port %d is not forwarded", port)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(local)))
}

// Close stops the forward.
func (f *Forwarded) Close() { f.fw.Close() }

// Transport is PortForward.
func (f *Forwarded) Transport() string { return PortForward }

// Relayed dials through relays over pods/exec.
type Relayed struct{ *podexec.Dialer }

// Relay returns a dialer whose connections are relays in target; it makes
// no API call.
func Relay(clients *kube.Clients, target podexec.Target) Relayed {
	return Relayed{podexec.NewDialer(clients, target)}
}

// DialPort starts a relay to port.
func (r Relayed) DialPort(ctx context.Context, port int) (net.Conn, error) { return r.Dial(ctx, port) }

// Close does nothing: a relay dialer holds nothing of its own.
func (Relayed) Close() {}

// Transport is Exec.
func (Relayed) Transport() string { return Exec }

// FailedError is a pod that no transport reached: what each one gave.
type FailedError struct {
	Namespace, Pod string
	// PortForward and Exec are the transports' errors.
	PortForward, Exec error
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("cannot reach pod %s/%s: through a port-forward: %v; through pods/exec: %v", e.Namespace, e.Pod, e.PortForward, e.Exec)
}

// Unwrap is both errors, the port-forward's first.
func (e *FailedError) Unwrap() []error { return []error{e.PortForward, e.Exec} }
