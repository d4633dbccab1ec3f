package cmd

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
)

// Environment variables that give the router flags their defaults, so that
// scripts need not repeat them.
const (
	envRouterURL       = "KUBECTL_SANDBOX_ROUTER_URL"
	envGateway         = "KUBECTL_SANDBOX_GATEWAY"
	envGatewayNS       = "KUBECTL_SANDBOX_GATEWAY_NAMESPACE"
	envGatewayScheme   = "KUBECTL_SANDBOX_GATEWAY_SCHEME"
	envRouterNamespace = "KUBECTL_SANDBOX_ROUTER_NAMESPACE"
	envRouterToken     = "KUBECTL_SANDBOX_ROUTER_TOKEN"
	envRouterCA        = "KUBECTL_SANDBOX_ROUTER_CA_FILE"
	envServerPort      = "KUBECTL_SANDBOX_SERVER_PORT"
)

// RouterFlags say how the data-plane verbs reach the sandbox router.
type RouterFlags struct {
	URL, Gateway, GatewayNamespace, Namespace string
	// GatewayScheme picks the Gateway's listener ("": see
	// router.Options.GatewayScheme).
	GatewayScheme                             string
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
	fs.DurationVar(&r.GatewayTimeout, "gateway-timeout", 30*time.Second, "How long to wait for the Gateway to be Programmed with an address")
	fs.StringVar(&r.GatewayScheme, "gateway-scheme", os.Getenv(envGatewayScheme), "Listener of --gateway to use: http or https (default: https when --router-ca-file or --router-insecure-skip-tls-verify is given or the Gateway has no HTTP listener, else http) [$"+envGatewayScheme+"]")
	fs.StringVar(&r.Namespace, "router-namespace", os.Getenv(envRouterNamespace), "Namespace of the sandbox-router-svc Service to port-forward to (default: the sandbox's, then agent-sandbox-system) [$"+envRouterNamespace+"]")
	fs.StringVar(&r.CAFile, "router-ca-file", os.Getenv(envRouterCA), "CA bundle to verify an https router [$"+envRouterCA+"]")
	fs.BoolVar(&r.InsecureSkipTLSVerify, "router-insecure-skip-tls-verify", false, "Do not verify the router's TLS certificate (insecure)")
	fs.StringVar(&r.token, "router-token", "", "Bearer token for the router, e.g. a scoped token (default: your kubeconfig's bearer token, if it has one; prefer $"+envRouterToken+" or --router-token-file: flags show in process lists)")
	fs.StringVar(&r.TokenFile, "router-token-file", "", "File holding the bearer token for the router")
	fs.BoolVar(&r.AllowInsecureToken, "router-allow-insecure-token", false, "Allow sending a token (the router token, or your kubeconfig's) over plain http to a non-loopback host")
	port := 8888
	if v, err := strconv.Atoi(os.Getenv(envServerPort)); err == nil {
		port = v
	}
	fs.IntVar(&r.ServerPort, "server-port", port, "Port of the sandbox runtime, sent as X-Sandbox-Port [$"+envServerPort+"]")
}

// Validate checks the flags without reading files or calling the API.
func (r *RouterFlags) Validate() error {
	if r.URL != "" && r.Gateway != "" {
		return errors.New("--router-url and --gateway cannot be used together (check $" + envRouterURL + " and $" + envGateway + ")")
	}
	if r.URL != "" {
		if _, err := router.ParseURL(r.URL); err != nil {
			return fmt.Errorf("invalid --router-url %q: use http://HOST[:PORT] or https://HOST[:PORT]", r.URL)
		}
	}
	if r.ServerPort < 1 || r.ServerPort > 65535 {
		return fmt.Errorf("invalid --server-port %d: must be 1-65535", r.ServerPort)
	}
	if r.GatewayScheme != "" && r.GatewayScheme != "http" && r.GatewayScheme != "https" {
		return fmt.Errorf("invalid --gateway-scheme %q: use http or https (check $%s)", r.GatewayScheme, envGatewayScheme)
	}
	if r.GatewayTimeout <= 0 {
		return errors.New("--gateway-timeout must be positive")
	}
	return nil
}

// ToOptions reads the validated flags, and the token and CA files, into
// the router's options; it makes no API call.
func (r *RouterFlags) ToOptions() (router.Options, error) {
	o := router.Options{
		Gateway: r.Gateway, GatewayNamespace: r.GatewayNamespace, GatewayTimeout: r.GatewayTimeout, GatewayScheme: r.GatewayScheme,
		Namespace: r.Namespace, InsecureSkipTLSVerify: r.InsecureSkipTLSVerify,
		AllowInsecureToken: r.AllowInsecureToken, Token: r.token, Now: clock,
	}
	if r.URL != "" {
		o.URL, _ = router.ParseURL(r.URL)
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
	if r.CAFile != "" {
		pem, err := os.ReadFile(r.CAFile)
		if err != nil {
			return o, fmt.Errorf("reading --router-ca-file: %w", err)
		}
		o.CAData = pem
	}
	return o, nil
}
