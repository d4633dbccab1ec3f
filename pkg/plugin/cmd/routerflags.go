package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/client"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// Environment variables that give the router flags their defaults, so that
// scripts need not repeat them.
const (
	envRouterURL       = "KUBECTL_SANDBOX_ROUTER_URL"
	envGateway         = "KUBECTL_SANDBOX_GATEWAY"
	envGatewayNS       = "KUBECTL_SANDBOX_GATEWAY_NAMESPACE"
	envRouterNamespace = "KUBECTL_SANDBOX_ROUTER_NAMESPACE"
	envRouterToken     = "KUBECTL_SANDBOX_ROUTER_TOKEN"
	envRouterCA        = "KUBECTL_SANDBOX_ROUTER_CA_FILE"
	envServerPort      = "KUBECTL_SANDBOX_SERVER_PORT"
)

// RouterFlags say how the data-plane verbs reach the sandbox router.
type RouterFlags struct {
	URL, Gateway, GatewayNamespace, Namespace string
	GatewayTimeout                            time.Duration
	CAFile, TokenFile                         string
	InsecureSkipTLSVerify, AllowInsecureToken bool
	ServerPort                                int
	// token comes only from the environment or --router-token-file, or from
	// --router-token; it is never printed.
	token string
}

// AddFlags binds the router flags, with defaults from the environment.
func (r *RouterFlags) AddFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&r.URL, "router-url", os.Getenv(envRouterURL), "Reach the router at this http(s) URL [$"+envRouterURL+"]")
	fs.StringVar(&r.Gateway, "gateway", os.Getenv(envGateway), "Reach the router through this Gateway's address [$"+envGateway+"]")
	fs.StringVar(&r.GatewayNamespace, "gateway-namespace", os.Getenv(envGatewayNS), "Namespace of --gateway (default: the current namespace) [$"+envGatewayNS+"]")
	fs.DurationVar(&r.GatewayTimeout, "gateway-timeout", 30*time.Second, "How long to wait for the Gateway to have an address")
	fs.StringVar(&r.Namespace, "router-namespace", os.Getenv(envRouterNamespace), "Namespace of the sandbox-router-svc Service to port-forward to (default: the sandbox's, then agent-sandbox-system) [$"+envRouterNamespace+"]")
	fs.StringVar(&r.CAFile, "router-ca-file", os.Getenv(envRouterCA), "CA bundle to verify an https router [$"+envRouterCA+"]")
	fs.BoolVar(&r.InsecureSkipTLSVerify, "router-insecure-skip-tls-verify", false, "Do not verify the router's TLS certificate (insecure)")
	fs.StringVar(&r.token, "router-token", "", "Bearer token for the router (prefer $"+envRouterToken+" or --router-token-file: flags show in process lists)")
	fs.StringVar(&r.TokenFile, "router-token-file", "", "File holding the bearer token for the router")
	fs.BoolVar(&r.AllowInsecureToken, "router-allow-insecure-token", false, "Allow sending the router token over plain http to a non-loopback host")
	port := 8888
	if v, err := strconv.Atoi(os.Getenv(envServerPort)); err == nil {
		port = v
	}
	fs.IntVar(&r.ServerPort, "server-port", port, "Port of the sandbox runtime, sent as X-Sandbox-Port [$"+envServerPort+"]")
}

// ToOptions validates the flags into router options; it reads the token
// file but makes no API call.
func (r *RouterFlags) ToOptions() (router.Options, error) {
	o := router.Options{
		URL: r.URL, Gateway: r.Gateway, GatewayNamespace: r.GatewayNamespace, GatewayTimeout: r.GatewayTimeout,
		Namespace: r.Namespace, CAFile: r.CAFile, InsecureSkipTLSVerify: r.InsecureSkipTLSVerify,
		AllowInsecureToken: r.AllowInsecureToken, Token: r.token,
	}
	if o.URL != "" && o.Gateway != "" {
		return o, errors.New("--router-url and --gateway cannot be used together (check $" + envRouterURL + " and $" + envGateway + ")")
	}
	if r.ServerPort < 1 || r.ServerPort > 65535 {
		return o, fmt.Errorf("invalid --server-port %d: must be 1-65535", r.ServerPort)
	}
	if r.GatewayTimeout <= 0 {
		return o, errors.New("--gateway-timeout must be positive")
	}
	switch {
	case r.TokenFile != "":
		b, err := os.ReadFile(r.TokenFile)
		if err != nil {
			return o, fmt.Errorf("reading --router-token-file: %w", err)
		}
		o.Token = strings.TrimSpace(string(b))
	case o.Token == "":
		o.Token = os.Getenv(envRouterToken)
	}
	return o, nil
}

// sandboxes resolves claims to runtime clients that share one router
// connection.
type sandboxes struct {
	conn *router.Conn
	opts router.Options
	port int
}

// openRouter opens the way to the router for sandboxes in namespace ns.
func openRouter(ctx context.Context, f client.Factory, opts router.Options, port int, ns string) (*sandboxes, error) {
	conn, err := router.Open(ctx, opts, f, ns)
	if err != nil {
		return nil, err
	}
	klog.V(2).Infof("reaching the sandbox router by %s", conn.Via)
	return &sandboxes{conn: conn, opts: opts, port: port}, nil
}

// client returns the runtime client of a Ready claim.
func (s *sandboxes) client(c *extv1beta1.SandboxClaim) *sandbox.Client {
	return sandbox.NewClient(s.conn.BaseURL, s.conn.Transport, s.opts.Token, sandbox.Target{
		SandboxID: claims.SandboxName(c),
		Namespace: c.Namespace,
		Port:      s.port,
		PodIP:     claims.PreferredIP(c.Status.SandboxStatus.PodIPs),
	})
}

func (s *sandboxes) Close() { s.conn.Close() }

// openClaim resolves one claim (one GET) and opens the router for it.
func openClaim(ctx context.Context, f client.Factory, opts router.Options, port int, ns, name string) (*sandbox.Client, func(), error) {
	ext, err := f.Extensions()
	if err != nil {
		return nil, nil, err
	}
	c, err := claims.GetReady(ctx, ext, ns, name)
	if err != nil {
		return nil, nil, err
	}
	s, err := openRouter(ctx, f, opts, port, ns)
	if err != nil {
		return nil, nil, err
	}
	return s.client(c), s.Close, nil
}
