package mcp

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// Path is where the streamable HTTP transport is served.
const Path = "/mcp"

// DefaultMaxBodyBytes bounds the body of a request over HTTP (the SDK's
// default: room for a file of about 3 MiB in base64).
const DefaultMaxBodyBytes = sdk.DefaultMaxRequestBodyBytes

// HTTPOptions configure the streamable HTTP transport.
type HTTPOptions struct {
	// Token, when set, is the bearer token every request must carry;
	// others are answered 401.
	Token string
	// MaxBodyBytes bounds a request's body (413 beyond); 0 is
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// SessionTimeout ends a session that sent nothing for this long (0:
	// never).
	SessionTimeout time.Duration
}

// HTTPHandler serves m over the streamable HTTP transport at Path. Every
// request is checked, in this order: a cross-origin request (a browser's,
// by its Sec-Fetch-Site or Origin header) is refused with 403, whatever its
// method; without the bearer token, when there is one, with 401; a body
// over the bound with 413. The SDK refuses, with 403, a request that comes
// to a loopback address naming another host (DNS rebinding).
func HTTPHandler(m *sdk.Server, o HTTPOptions) http.Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	var h http.Handler = sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return m },
		&sdk.StreamableHTTPOptions{SessionTimeout: o.SessionTimeout, MaxRequestBodyBytes: o.MaxBodyBytes})
	if o.Token != "" {
		h = auth.RequireBearerToken(tokenVerifier(o.Token), &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(h)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, sameOrigin(h))
	return mux
}

// tokenVerifier accepts exactly token, in constant time (of the hashes,
// so that not even its length shows).
func tokenVerifier(token string) auth.TokenVerifier {
	want := sha256.Sum256([]byte(token))
	return func(_ context.Context, got string, _ *http.Request) (*auth.TokenInfo, error) {
		h := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(h[:], want[:]) != 1 {
			return nil, auth.ErrInvalidToken
		}
		// One token, one user: the SDK ties each session to it.
		return &auth.TokenInfo{UserID: "bearer"}, nil
	}
}

// sameOrigin refuses cross-origin requests with 403, as
// http.CrossOriginProtection does for unsafe methods, but for every method:
// the MCP specification asks servers to check the Origin of every request,
// and a GET opens the stream of a session's messages.
func sameOrigin(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probe := r
		if r.Method != http.MethodPost {
			// CrossOriginProtection lets safe methods through; ask it as
			// if this one were not.
			probe = r.Clone(r.Context())
			probe.Method = http.MethodPost
		}
		if err := cop.Check(probe); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
