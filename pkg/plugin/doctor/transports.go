package doctor

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podconn"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandboxd"
)

// transportTimeout bounds each transport's try.
const transportTimeout = 5 * time.Second

// tried is one transport's outcome.
type tried struct {
	name string
	err  error
	// na says why the transport does not apply ("" when it was tried).
	na   string
	took time.Duration
}

func (t tried) String() string {
	switch {
	case t.na != "":
		return t.name + " n/a (" + t.na + ")"
	case t.err != nil:
		return t.name + " fails (" + strings.Join(strings.Fields(t.err.Error()), " ") + ")"
	}
	return fmt.Sprintf("%s ok (%s)", t.name, t.took.Round(time.Millisecond))
}

// transports tries, for the probe's Ready claim, each way to its
// sandbox's runtime: a port-forward to the pod and a relay over pods/exec
// (an HTTP GET of the runtime's port), and the router (for the python
// runtime: the probe's command, viaRouter, went through it); and says
// which one the data-plane verbs use there (--transport auto).
func transports(ctx context.Context, clients *kube.Clients, o Options, pool string, ready *extv1beta1.SandboxClaim, viaRouter tried) Result {
	sb, err := clients.Agents.AgentsV1beta1().Sandboxes(ready.Namespace).Get(ctx, claims.SandboxName(ready), metav1.GetOptions{})
	if err != nil {
		return Result{Status: Warn, Detail: fmt.Sprintf("cannot read sandbox %s: %v", claims.SandboxName(ready), err), Problem: SandboxUnread}
	}
	spec := &sb.Spec.PodTemplate.Spec
	pod := claims.PodName(sb)
	ports, isSandboxd := sandboxd.Detect(spec)
	port, path, runtime := o.Session.ServerPort, "/", "python runtime"
	if port == 0 {
		port = 8888
	}
	if isSandboxd {
		port, path, runtime = ports.REST, "/v1/health", "sandboxd"
	}
	isolated := podconn.NewClasses(clients).Isolated(ctx, spec.RuntimeClassName)
	pf := try(ctx, "port-forward", func(ctx context.Context) error {
		fw, err := podconn.Forward(ctx, clients, ready.Namespace, pod, port)
		if err != nil {
			return err
		}
		defer fw.Close()
		return get(ctx, fw, port, path)
	})
	ex := try(ctx, "pods/exec", func(ctx context.Context) error {
		return get(ctx, podconn.Relay(clients, podexec.Target{Namespace: ready.Namespace, Pod: pod, Container: sandboxd.Container(spec)}), port, path)
	})
	rt := tried{name: "router", na: "sandboxd listens on the pod's loopback, which the router does not reach"}
	if !isSandboxd {
		rt = viaRouter
		rt.name = "router"
	}
	uses := rt
	switch {
	case isSandboxd && (isolated != "" || pf.err != nil):
		uses = ex
	case isSandboxd:
		uses = pf
	}
	where := "pool " + pool + " (" + runtime
	if isolated != "" {
		where += ", " + isolated
	}
	detail := fmt.Sprintf("%s): %s, %s, %s; the data plane uses %s", where, pf, ex, rt, uses.name)
	if uses.err != nil {
		return Result{Status: Fail, Detail: detail, Problem: NoTransport}
	}
	return Result{Status: OK, Detail: detail}
}

// try runs fn within transportTimeout.
func try(ctx context.Context, name string, fn func(ctx context.Context) error) tried {
	ctx, cancel := context.WithTimeout(ctx, transportTimeout)
	defer cancel()
	start := time.Now()
	err := fn(ctx)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("no answer within %s", transportTimeout)
	}
	return tried{name: name, err: err, took: time.Since(start)}
}

// get sends GET path to port through d and wants an HTTP answer (any
// status: a runtime answered).
func get(ctx context.Context, d podconn.Dialer, port int, path string) error {
	c, err := d.DialPort(ctx, port)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, net.JoinHostPort("127.0.0.1", fmt.Sprint(port))); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return fmt.Errorf("no HTTP answer from port %d: %w", port, err)
	}
	return resp.Body.Close()
}
