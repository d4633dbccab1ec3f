package router

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Scope is what a scoped token of the router's --authz-mode=scoped-token
// claims: the one sandbox it admits, and when it expires. It is read from
// the token without verifying its signature (only the router holds the
// secret): it lets the plugin say what is wrong before it sends a request
// the router would refuse, never more.
type Scope struct {
	Namespace, Name string
	// Expires is the first second at which the router refuses the token.
	Expires time.Time
}

// ParseScopedToken tells a scoped token by its shape, v1.PAYLOAD.SIGNATURE
// (the router's wire format), and decodes its payload, base64url JSON
// {"ns", "name", "exp"}. scoped is false for any other token (a
// Kubernetes JWT starts with its header, never "v1."). A scoped-shaped
// token whose payload does not decode is still scoped, with a nil Scope:
// the router refuses it, and the plugin routes as the mode demands.
func ParseScopedToken(token string) (scope *Scope, scoped bool) {
	version, rest, ok := strings.Cut(token, ".")
	if !ok || version != "v1" {
		return nil, false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || payload == "" || sig == "" || strings.Contains(sig, ".") {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, true
	}
	var claims struct {
		Namespace *string `json:"ns"`
		Name      *string `json:"name"`
		Exp       *int64  `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil || claims.Namespace == nil || claims.Name == nil || claims.Exp == nil {
		return nil, true
	}
	return &Scope{Namespace: *claims.Namespace, Name: *claims.Name, Expires: time.Unix(*claims.Exp, 0).UTC()}, true
}

// String is the sandbox it admits, NAMESPACE/NAME.
func (s *Scope) String() string { return s.Namespace + "/" + s.Name }

// ScopeError is a scoped token that the router would refuse for a
// sandbox, found before anything is sent.
type ScopeError struct {
	Scope Scope
	// Namespace and Name are the sandbox addressed.
	Namespace, Name string
	// Expired: the token's time is up (else it is for another sandbox).
	Expired bool
}

func (e *ScopeError) Error() string {
	if e.Expired {
		return fmt.Sprintf("the scoped router token for sandbox %s expired at %s", e.Scope.String(), e.Scope.Expires.Format(time.RFC3339))
	}
	return fmt.Sprintf("the scoped router token is for sandbox %s, not %s/%s", e.Scope.String(), e.Namespace, e.Name)
}

// admits says whether the router would take a token of scope s for
// sandbox ns/name at now, as the router judges: exp is exclusive.
func (s *Scope) admits(ns, name string, now time.Time) error {
	switch {
	case s.Namespace != ns || s.Name != name:
		return &ScopeError{Scope: *s, Namespace: ns, Name: name}
	case now.Unix() >= s.Expires.Unix():
		return &ScopeError{Scope: *s, Namespace: ns, Name: name, Expired: true}
	}
	return nil
}
