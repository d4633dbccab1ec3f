// Package router opens a way to the agent-sandbox router: a direct URL, a
// Gateway's address, or an in-process port-forward to a router pod.
package router

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/client"
)

// ServiceName is the router Service both SDKs look for.
const ServiceName = "sandbox-router-svc"

// DefaultNamespace is where the Python SDK and the router manifests put it.
const DefaultNamespace = "agent-sandbox-system"

// Options say how to reach the router; at most one of URL and Gateway is set.
type Options struct {
	URL              string
	Gateway          string
	GatewayNamespace string
	GatewayTimeout   time.Duration
	// Namespace, when set, is the only namespace searched for the router
	// Service in port-forward mode.
	Namespace string

	CAFile                string
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

// Open reaches the router for a sandbox in sandboxNamespace.
func Open(ctx context.Context, o Options, clients client.Factory, sandboxNamespace string) (*Conn, error) {
	var conn *Conn
	var err error
	switch {
	case o.URL != "":
		conn, err = direct(o.URL)
	case o.Gateway != "":
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

func direct(raw string) (*Conn, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid --router-url %q: use http://HOST[:PORT] or https://HOST[:PORT]", raw)
	}
	return &Conn{BaseURL: u, Via: "router " + u.Redacted()}, nil
}

// transport is a keep-alive transport with the router TLS settings.
func transport(o Options) (http.RoundTripper, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.Proxy = nil
	if o.CAFile == "" && !o.InsecureSkipTLSVerify {
		return t, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipTLSVerify} //nolint:gosec // only when asked for
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading --router-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--router-ca-file %s holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	t.TLSClientConfig = cfg
	return t, nil
}

// checkToken refuses to send a bearer token in clear text off this machine.
func checkToken(o Options, u *url.URL) error {
	if o.Token == "" || u.Scheme == "https" || o.AllowInsecureToken || isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("refusing to send the router token over plain http to %s: use https, or --router-allow-insecure-token if the network is trusted", u.Host)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
