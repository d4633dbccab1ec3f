package pythontest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Authz judges a request for a sandbox by its headers, as the Go router's
// --authz-mode does: 0 lets it through, 401 and 403 refuse it with the
// router's bodies ({"detail":"unauthenticated"}, {"detail":"forbidden"}).
type Authz func(h http.Header) int

// bearerToken is the request's bearer token, as the router reads it.
func bearerToken(h http.Header) string {
	auth := h.Get("Authorization")
	if len(auth) < len("Bearer ") || !strings.EqualFold(auth[:len("Bearer ")], "Bearer ") {
		return ""
	}
	return strings.TrimSpace(auth[len("Bearer "):])
}

// RequireTokens is --authz-mode=tokenreview with
// --authz-tokenreview-require-token, where the API server authenticates
// exactly the tokens valid: any other token, or none, is 401.
func RequireTokens(valid ...string) Authz {
	return func(h http.Header) int {
		if t := bearerToken(h); t == "" || !slices.Contains(valid, t) {
			return http.StatusUnauthorized
		}
		return 0
	}
}

// ScopedTokens is --authz-mode=scoped-token with secret: a token that does
// not verify, or expired at now, is 401; one for another sandbox, or a
// request that names the pod's IP or the sandbox's UID, 403.
func ScopedTokens(secret []byte, now func() time.Time) Authz {
	return func(h http.Header) int {
		version, rest, _ := strings.Cut(bearerToken(h), ".")
		payload, sig, _ := strings.Cut(rest, ".")
		got, err := base64.RawURLEncoding.DecodeString(sig)
		if version != "v1" || err != nil || !hmac.Equal(got, scopedMAC(secret, payload)) {
			return http.StatusUnauthorized
		}
		raw, _ := base64.RawURLEncoding.DecodeString(payload)
		var claims struct {
			NS   string `json:"ns"`
			Name string `json:"name"`
			Exp  int64  `json:"exp"`
		}
		if json.Unmarshal(raw, &claims) != nil || now().Unix() >= claims.Exp {
			return http.StatusUnauthorized
		}
		if h.Get("X-Sandbox-Pod-IP") != "" || h.Get("X-Sandbox-UID") != "" {
			return http.StatusForbidden
		}
		ns := h.Get("X-Sandbox-Namespace")
		if ns == "" {
			ns = "default"
		}
		if claims.NS != ns || claims.Name != h.Get("X-Sandbox-ID") {
			return http.StatusForbidden
		}
		return 0
	}
}

// MintScopedToken mints a token as the router's authz.MintScopedToken
// does, for sandbox ns/name, expiring at exp.
func MintScopedToken(secret []byte, ns, name string, exp time.Time) string {
	payload, _ := json.Marshal(map[string]any{"ns": ns, "name": name, "exp": exp.Unix()})
	enc := base64.RawURLEncoding.EncodeToString(payload)
	return "v1." + enc + "." + base64.RawURLEncoding.EncodeToString(scopedMAC(secret, enc))
}

func scopedMAC(secret []byte, payload string) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("agent-sandbox/scoped-token/v1."))
	mac.Write([]byte(payload))
	return mac.Sum(nil)
}

// CAPEM is the PEM of the certificate that verifies a router started by
// NewTLSRouter.
func (r *Router) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate().Raw})
}
