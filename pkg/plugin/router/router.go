// Package router opens a way to the agent-sandbox router: a direct URL, a
// Gateway's address, or an in-process port-forward to a router pod.
package router

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

// ServiceName is the router Service both SDKs look for.
const ServiceName = "sandbox-router-svc"

// DefaultNamespace is where the Python SDK and the router manifests put it.
const DefaultNamespace = "agent-sandbox-system"

// Options say how to reach the router; at most one of URL and Gateway is
// set, and neither means a port-forward to a router pod.
type Options struct {
	// URL is the router's http(s) base URL.
	URL              *url.URL
	Gateway          string
	GatewayNamespace string
	GatewayTimeout   time.Duration
	// GatewayScheme picks the Gateway's listener: "http", "https", or ""
	// for https when CAData or InsecureSkipTLSVerify says how to verify
	// it, else http when the Gateway has an HTTP listener, else https.
	GatewayScheme string
	// Namespace, when set, is the only namespace searched for the router
	// Service in port-forward mode.
	Namespace string

	// CAData is a PEM bundle that verifies an https router.
	CAData                []byte
	InsecureSkipTLSVerify bool
	// Token is the router token. Without one, the kubeconfig's bearer
	// token (as client-go obtains it) is presented, when it has one.
	Token string
	// AllowInsecureToken permits sending a token (Token, or the
	// kubeconfig's) over plain http to a host that is not loopback.
	// Without it, Token is refused there, and the kubeconfig's withheld.
	AllowInsecureToken bool
	// Now is the clock that judges a scoped token's expiry (nil: time.Now).
	Now func() time.Time
}

// Conn is an open way to the router.
type Conn struct {
	BaseURL *url.URL
	// Transport presents the credential to the router; requests must not
	// carry an Authorization of their own.
	Transport http.RoundTripper
	// Via says how the router is reached, for messages.
	Via string
	// Credential says what Transport presents.
	Credential Credential
	// hostname is the Gateway listener's: the name the router's
	// certificate is verified for, and the requests' Host.
	hostname string
	now      func() time.Time
	idle     func() // closes the transport's idle connections
	close    func()
}

// Close tears down what Open set up: the transport's idle connections,
// and a port-forward.
func (c *Conn) Close() {
	if c.idle != nil {
		c.idle()
		c.idle = nil
	}
	if c.close != nil {
		c.close()
		c.close = nil
	}
}

// Open reaches the router for sandboxes in sandboxNamespace.
func Open(ctx context.Context, clients *kube.Clients, o Options, sandboxNamespace string) (*Conn, error) {
	var conn *Conn
	var err error
	switch {
	case o.URL != nil:
		conn = &Conn{BaseURL: o.URL, Via: "router " + o.URL.Redacted()}
	case o.Gateway != "":
		if o.GatewayNamespace == "" {
			o.GatewayNamespace = sandboxNamespace
		}
		conn, err = viaGateway(ctx, clients, o)
	default:
		namespaces := []string{sandboxNamespace, DefaultNamespace}
		if o.Namespace != "" {
			namespaces = []string{o.Namespace}
		} else if sandboxNamespace == DefaultNamespace {
			namespaces = namespaces[:1]
		}
		conn, err = portForward(ctx, clients, namespaces)
	}
	if err != nil {
		return nil, err
	}
	base, err := newTransport(o, conn.hostname)
	if err == nil {
		conn.idle = base.CloseIdleConnections
		conn.Credential, conn.Transport, err = authenticate(o, clients.Config, conn.BaseURL, base)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	if conn.hostname != "" {
		host := conn.hostname
		if p := conn.BaseURL.Port(); p != "" && p != map[string]string{"http": "80", "https": "443"}[conn.BaseURL.Scheme] {
			host = net.JoinHostPort(host, p)
		}
		conn.Transport = hostRoundTripper{host: host, rt: conn.Transport}
	}
	conn.now = o.Now
	if conn.now == nil {
		conn.now = time.Now
	}
	return conn, nil
}

// ParseURL checks a router URL: http or https, with a host.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid router URL %q: use http://HOST[:PORT] or https://HOST[:PORT]", raw)
	}
	return u, nil
}

// newTransport is a keep-alive transport with the router's TLS settings (its
// CA, never the API server's); serverName, when set, is the name its
// certificate is verified for.
func newTransport(o Options, serverName string) (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.Proxy = nil
	if len(o.CAData) == 0 && !o.InsecureSkipTLSVerify && serverName == "" {
		return t, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipTLSVerify, ServerName: serverName} //nolint:gosec // only when asked for
	if len(o.CAData) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(o.CAData) {
			return nil, errors.New("the router CA bundle holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	t.TLSClientConfig = cfg
	return t, nil
}

// InsecureTokenError refuses to send a bearer token in clear text off this
// machine.
type InsecureTokenError struct{ Host string }

func (e *InsecureTokenError) Error() string {
	return fmt.Sprintf("refusing to send the router token over plain http to %s", e.Host)
}

// hostRoundTripper sends requests to the Gateway's address with the
// listener's hostname as their Host.
type hostRoundTripper struct {
	host string
	rt   http.RoundTripper
}

func (h hostRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Host = h.host
	return h.rt.RoundTrip(req)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
