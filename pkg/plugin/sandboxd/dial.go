package sandboxd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// Environment variables by which a pod template announces sandboxd
// (agent-sandbox's KEP 539.2 discovery variables).
const (
	EnvGRPCAddr = "SANDBOXD_GRPC_ADDR"
	EnvRESTAddr = "SANDBOXD_REST_ADDR"
)

// Ports are sandboxd's listening ports in the pod.
type Ports struct{ GRPC, REST int }

// Detect says whether a pod spec runs sandboxd, and on which ports: a
// container that sets SANDBOXD_GRPC_ADDR or SANDBOXD_REST_ADDR (their
// ports, else the defaults), or a container named "sandboxd" (the
// defaults).
func Detect(spec *corev1.PodSpec) (Ports, bool) {
	ports := Ports{GRPC: DefaultGRPCPort, REST: DefaultRESTPort}
	found := false
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if c.Name == "sandboxd" {
			found = true
		}
		for _, e := range c.Env {
			switch e.Name {
			case EnvGRPCAddr:
				found = true
				if p := addrPort(e.Value); p > 0 {
					ports.GRPC = p
				}
			case EnvRESTAddr:
				found = true
				if p := addrPort(e.Value); p > 0 {
					ports.REST = p
				}
			}
		}
	}
	return ports, found
}

// addrPort is the port of HOST:PORT, or 0.
func addrPort(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return 0
	}
	return p
}

// ForbiddenError is a port-forward that RBAC refuses.
type ForbiddenError struct {
	Namespace, Pod string
	Err            error
}

func (e *ForbiddenError) Error() string {
	return fmt.Sprintf("port-forward to pod %s/%s is forbidden: you may not create pods/portforward in namespace %q", e.Namespace, e.Pod, e.Namespace)
}

func (e *ForbiddenError) Unwrap() error { return e.Err }

// UnreachableError is a pod whose sandboxd port cannot be reached through
// a port-forward: it may not run sandboxd.
type UnreachableError struct {
	Namespace, Pod string
	Port           int
	Err            error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("pod %s/%s does not answer on sandboxd's port %d: %v", e.Namespace, e.Pod, e.Port, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Conn is a Client over a port-forward to the pod; Close ends both.
type Conn struct {
	*Client
	grpc *grpc.ClientConn
	fw   *podforward.Forward
}

// Close releases the connection and the port-forward.
func (c *Conn) Close() {
	_ = c.grpc.Close()
	c.http.CloseIdleConnections()
	c.fw.Close()
}

// Dial forwards local ports to sandboxd's in pod ns/pod through the API
// server and checks that sandboxd answers its health check. name names the
// sandbox in errors.
func Dial(ctx context.Context, clients *kube.Clients, ns, pod string, ports Ports, name string) (*Conn, error) {
	fw, err := podforward.Open(ctx, clients.Config, clients.Core, ns, pod, nil,
		[]string{"0:" + strconv.Itoa(ports.GRPC), "0:" + strconv.Itoa(ports.REST)})
	if err != nil {
		if ctx.Err() == nil && forbidden(ctx, clients, ns, pod) {
			return nil, &ForbiddenError{Namespace: ns, Pod: pod, Err: err}
		}
		return nil, err
	}
	conn, err := grpc.NewClient("passthrough:///127.0.0.1:"+strconv.Itoa(fw.Local[0]),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fw.Close()
		return nil, err
	}
	rest := &url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(fw.Local[1])}
	httpClient := &http.Client{
		Transport:     &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c := &Conn{Client: New(conn, rest, httpClient, ns+"/"+name), grpc: conn, fw: fw}
	if err := c.Health(ctx); err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		var apiErr *sandbox.HTTPError
		if !errors.As(err, &apiErr) {
			// No HTTP answer at all: the port is not sandboxd's.
			return nil, &UnreachableError{Namespace: ns, Pod: pod, Port: ports.REST, Err: errors.Unwrap(err)}
		}
		return nil, err
	}
	if err := connected(ctx, conn); err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, &UnreachableError{Namespace: ns, Pod: pod, Port: ports.GRPC, Err: err}
	}
	return c, nil
}

// connected connects conn, which the first call would do anyway, and
// waits until it has connected or failed to.
func connected(ctx context.Context, conn *grpc.ClientConn) error {
	conn.Connect()
	for {
		state := conn.GetState()
		switch state {
		case connectivity.Ready:
			return nil
		case connectivity.TransientFailure, connectivity.Shutdown:
			return errors.New("no gRPC server answered")
		}
		if !conn.WaitForStateChange(ctx, state) {
			return ctx.Err()
		}
	}
}

// forbidden asks the API server whether the caller may port-forward in ns.
func forbidden(ctx context.Context, clients *kube.Clients, ns, pod string) bool {
	if clients.Authz == nil {
		return false
	}
	review, err := clients.Authz.SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{
		Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authzv1.ResourceAttributes{
			Namespace: ns, Verb: "create", Resource: "pods", Subresource: "portforward", Name: pod,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		klog.V(4).InfoS("access review failed", "err", err)
		return false
	}
	return !review.Status.Allowed
}
