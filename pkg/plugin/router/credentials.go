package router

import (
	"fmt"
	"net/http"
	"net/url"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
)

// Presenting is what the plugin presents to the router as a bearer token.
type Presenting int

// What a request to the router carries.
const (
	// PresentNothing: no token (the kubeconfig's identity has none, or it
	// is withheld from plain http).
	PresentNothing Presenting = iota
	// PresentKubeconfig: the kubeconfig's bearer token, as client-go
	// obtains it (a token, a token file, an exec credential plugin, an
	// auth provider).
	PresentKubeconfig
	// PresentToken: a router token given (Options.Token) that is not a
	// scoped token.
	PresentToken
	// PresentScoped: a scoped token (ParseScopedToken): requests are then
	// routed by name only.
	PresentScoped
)

// Identity is how the kubeconfig authenticates its user.
type Identity int

// Identities, by what client-go would use.
const (
	IdentityNone Identity = iota
	IdentityToken
	IdentityTokenFile
	IdentityExec
	IdentityAuthProvider
	IdentityClientCert
	IdentityBasic
)

// Sendable says whether the identity yields a bearer token for the router.
func (i Identity) Sendable() bool {
	return i == IdentityToken || i == IdentityTokenFile || i == IdentityExec || i == IdentityAuthProvider
}

// String words the identity after "your kubeconfig's identity is".
func (i Identity) String() string {
	return [...]string{"nothing", "a bearer token", "a bearer token file", "an exec credential plugin",
		"an auth provider", "a client certificate", "a username and password"}[i]
}

// Credential says what the plugin presents to the router. It never holds
// the token itself.
type Credential struct {
	Presents Presenting
	// Identity is the kubeconfig's, when no router token is given.
	Identity Identity
	// WithheldFrom is the host:port of a router reached over plain http,
	// off loopback, to which the kubeconfig's token is not sent.
	WithheldFrom string
	// Scope is a scoped token's, when it decodes.
	Scope *Scope
}

// authenticate wraps rt so that it presents the credential the options
// call for to the router at u: the router token if one is given (refused
// over plain http off loopback unless allowed), else the kubeconfig's
// bearer token, when it has one and it may go to u.
func authenticate(o Options, cfg *rest.Config, u *url.URL, rt http.RoundTripper) (Credential, http.RoundTripper, error) {
	if o.Token != "" {
		if !mayCarryToken(o, u) {
			return Credential{}, nil, &InsecureTokenError{Host: u.Host}
		}
		c := Credential{Presents: PresentToken}
		if scope, ok := ParseScopedToken(o.Token); ok {
			c = Credential{Presents: PresentScoped, Scope: scope}
		}
		return c, transport.NewBearerAuthRoundTripper(o.Token, rt), nil
	}
	c := Credential{}
	if cfg == nil {
		return c, rt, nil
	}
	tc, err := kubeTransportConfig(cfg)
	if err != nil {
		return c, nil, err
	}
	c.Identity = kubeIdentity(cfg, tc)
	if !c.Identity.Sendable() {
		return c, rt, nil
	}
	if !mayCarryToken(o, u) {
		// Not an error: an open router needs nothing, and one that asks
		// says 401, which then names this.
		c.WithheldFrom = u.Host
		return c, rt, nil
	}
	c.Presents = PresentKubeconfig
	if tc.HasTokenAuth() {
		rt, err = transport.NewBearerAuthWithRefreshRoundTripper(tc.BearerToken, tc.BearerTokenFile, rt)
		if err != nil {
			return c, nil, fmt.Errorf("reading the bearer token file of the kubeconfig: %w", err)
		}
		return c, rt, nil
	}
	return c, tc.WrapTransport(rt), nil
}

// kubeTransportConfig is client-go's transport config of cfg, reduced to
// what authenticates the user with a bearer token. The API server's TLS
// (its CA, a client certificate) is not the router's; the plugin's own
// transport wrappers, impersonation and user agent are the API server's.
// An exec plugin or an auth provider adds its wrapper here, as it does for
// the API server's clients (and shares their cached credentials).
func kubeTransportConfig(cfg *rest.Config) (*transport.Config, error) {
	c := rest.CopyConfig(cfg)
	c.WrapTransport, c.Transport, c.Dial = nil, nil, nil
	c.Impersonate = rest.ImpersonationConfig{}
	tc, err := c.TransportConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the credentials of the kubeconfig: %w", err)
	}
	return tc, nil
}

// kubeIdentity says how client-go would authenticate the user of cfg.
func kubeIdentity(cfg *rest.Config, tc *transport.Config) Identity {
	switch {
	case tc.HasTokenAuth() && tc.BearerTokenFile != "":
		return IdentityTokenFile
	case tc.HasTokenAuth():
		return IdentityToken
	case tc.WrapTransport != nil && cfg.ExecProvider != nil:
		return IdentityExec
	case tc.WrapTransport != nil:
		return IdentityAuthProvider
	case tc.HasCertAuth():
		return IdentityClientCert
	case tc.HasBasicAuth():
		return IdentityBasic
	}
	return IdentityNone
}

// mayCarryToken says whether a bearer token may go to u: over https, to
// loopback (a port-forward), or over plain http when allowed.
func mayCarryToken(o Options, u *url.URL) bool {
	return u.Scheme == "https" || o.AllowInsecureToken || isLoopback(u.Hostname())
}
