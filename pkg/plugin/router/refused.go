package router

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// RefusedError is the router's 401 or 403: it did not take what the
// plugin presented (Credential, and whether a token went with the
// request) for sandbox Namespace/Err.Sandbox.
type RefusedError struct {
	Err        *sandbox.HTTPError
	Namespace  string
	Credential Credential
	// Sent says a bearer token went with the request.
	Sent bool
}

func (e *RefusedError) Unwrap() error { return e.Err }

// ForItsSandbox says the request went with a scoped token for the sandbox
// it addressed.
func (e *RefusedError) ForItsSandbox() bool {
	s := e.Credential.Scope
	return e.Credential.Presents == PresentScoped && s != nil && s.Namespace == e.Namespace && s.Name == e.Err.Sandbox
}

// Unauthenticated says the router answered 401 (else 403).
func (e *RefusedError) Unauthenticated() bool { return e.Err.Status == http.StatusUnauthorized }

func (e *RefusedError) Error() string {
	answer := e.Err.Detail
	if answer == "" {
		answer = http.StatusText(e.Err.Status)
	}
	answer = fmt.Sprintf("(HTTP %d: %s)", e.Err.Status, answer)
	sb := e.Namespace + "/" + e.Err.Sandbox
	c := e.Credential
	switch {
	case e.Unauthenticated() && !e.Sent:
		return fmt.Sprintf("%s: the sandbox router asks for a bearer token %s and none was sent: %s", e.Err.Op, answer, e.whyNone())
	case e.Unauthenticated() && c.Presents == PresentScoped:
		return fmt.Sprintf("%s: the sandbox router refused the scoped token %s", e.Err.Op, answer)
	case e.Unauthenticated() && c.Presents == PresentToken:
		return fmt.Sprintf("%s: the sandbox router refused the router token %s", e.Err.Op, answer)
	case e.Unauthenticated():
		return fmt.Sprintf("%s: the sandbox router refused your kubeconfig's bearer token %s", e.Err.Op, answer)
	case e.ForItsSandbox():
		return fmt.Sprintf("%s: the sandbox router refused the scoped token for sandbox %s %s", e.Err.Op, sb, answer)
	case c.Presents == PresentScoped && c.Scope != nil:
		return fmt.Sprintf("%s: the sandbox router refused the scoped token for sandbox %s access to sandbox %s %s", e.Err.Op, c.Scope, sb, answer)
	}
	return fmt.Sprintf("%s: the sandbox router refused access to sandbox %s %s", e.Err.Op, sb, answer)
}

// whyNone says why a request went without a token.
func (e *RefusedError) whyNone() string {
	c := e.Credential
	switch {
	case c.WithheldFrom != "":
		return "your kubeconfig's token is not sent over plain http to " + c.WithheldFrom
	case c.Presents == PresentKubeconfig && c.Identity == IdentityExec:
		return "your kubeconfig's exec credential plugin gave none"
	case c.Presents == PresentKubeconfig:
		return "your kubeconfig's auth provider gave none"
	case c.Identity == IdentityNone:
		return "your kubeconfig has no credentials"
	}
	return "your kubeconfig's identity is " + c.Identity.String() + ", which cannot be sent to the router"
}

// Explain is the error to report for e, the router's (or the runtime's)
// non-2xx answer resp: the token sent is struck from what the answer
// says, and the router's 401 or 403 becomes a *RefusedError.
func (c *Conn) Explain(resp *http.Response, e *sandbox.HTTPError) error {
	var sent http.Header
	if resp != nil && resp.Request != nil {
		sent = resp.Request.Header
	}
	token := bearer(sent)
	if token != "" && strings.Contains(e.Detail, token) {
		e.Detail = strings.ReplaceAll(e.Detail, token, "[redacted]")
	}
	if e.FromRuntime || e.Status != http.StatusUnauthorized && e.Status != http.StatusForbidden {
		return e
	}
	return &RefusedError{Err: e, Namespace: sent.Get("X-Sandbox-Namespace"), Credential: c.Credential, Sent: token != ""}
}

// bearer is the bearer token of h's Authorization, if any.
func bearer(h http.Header) string {
	auth := h.Get("Authorization")
	if len(auth) < len("Bearer ") || !strings.EqualFold(auth[:len("Bearer ")], "Bearer ") {
		return ""
	}
	return strings.TrimSpace(auth[len("Bearer "):])
}

// Admits checks, before anything is sent, that the credential can serve
// sandbox ns/name: a scoped token for another sandbox, or one expired, is
// a *ScopeError.
func (c *Conn) Admits(ns, name string) error {
	if c.Credential.Scope == nil {
		return nil
	}
	return c.Credential.Scope.admits(ns, name, c.now())
}

// ByNameOnly says the router must route by namespace and name alone: a
// router in scoped-token mode refuses X-Sandbox-Pod-IP and X-Sandbox-UID.
func (c *Conn) ByNameOnly() bool { return c.Credential.Presents == PresentScoped }
