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
	// Namespace, when set, is the only namespace searched for the router
	// Service in port-forward mode.
	Namespace string

	// CAData is a PEM bundle that verifies an https router.
	CAData                []byte
	InsecureSkipTLSVerify bool
	Token                 string
	// AllowInsecureToken permits sending Token over plain http to a host
	// that is not loopback.
	AllowInsecureToken bool
}

// Conn is an open way to the router.
type Conn struct {
	BaseURL   *url.URL
	Transport http.RoundTripper
	// Via says how the router is reached, for messages.
	Via   string
	close func()
}

// Close tears down what Open set up (a port-forward).
func (c *Conn) Close() {
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
	if conn.Transport, err = transport(o); err != nil {
		conn.Close()
		return nil, err
	}
	if err := checkToken(o, conn.BaseURL); err != nil {
		conn.Close()
		return nil, err
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

// transport is a keep-alive transport with the router TLS settings.
func transport(o Options) (http.RoundTripper, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.Proxy = nil
	if len(o.CAData) == 0 && !o.InsecureSkipTLSVerify {
		return t, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipTLSVerify} //nolint:gosec // only when asked for
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

func checkToken(o Options, u *url.URL) error {
	if o.Token == "" || u.Scheme == "https" || o.AllowInsecureToken || isLoopback(u.Hostname()) {
		return nil
	}
	return &InsecureTokenError{Host: u.Host}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
