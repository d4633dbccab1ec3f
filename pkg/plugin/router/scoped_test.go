package router

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python/pythontest"
)

// mintScoped mints a scoped token as the router does.
func mintScoped(t testing.TB, ns, name string, exp time.Time) string {
	t.Helper()
	return pythontest.MintScopedToken([]byte("0123456789abcdef0123456789abcdef"), ns, name, exp)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestParseScopedToken(t *testing.T) {
	exp := time.Unix(1893456000, 0).UTC()
	for _, tc := range []struct {
		name, token string
		scoped      bool
		scope       *Scope
	}{
		{"minted", mintScoped(t, "team", "sb-1", exp), true, &Scope{Namespace: "team", Name: "sb-1", Expires: exp}},
		{"unsigned payload read as is", "v1." + b64(`{"ns":"a","name":"b","exp":0}`) + ".x", true, &Scope{Namespace: "a", Name: "b", Expires: time.Unix(0, 0).UTC()}},
		{"extra claims", "v1." + b64(`{"ns":"a","name":"b","exp":5,"aud":"x"}`) + ".x", true, &Scope{Namespace: "a", Name: "b", Expires: time.Unix(5, 0).UTC()}},
		{"a payload that is not base64url", "v1.@@@.sig", true, nil},
		{"padded base64", "v1." + base64.URLEncoding.EncodeToString([]byte(`{"ns":"a","name":"b","exp":1}`)) + ".x", true, nil},
		{"not JSON", "v1." + b64("ns=a") + ".x", true, nil},
		{"a claim missing", "v1." + b64(`{"ns":"a","exp":1}`) + ".x", true, nil},
		{"a claim of another type", "v1." + b64(`{"ns":"a","name":"b","exp":"soon"}`) + ".x", true, nil},
		{"a Kubernetes JWT", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", false, nil},
		{"another version", "v2." + b64(`{"ns":"a","name":"b","exp":1}`) + ".x", false, nil},
		{"two parts", "v1." + b64(`{"ns":"a","name":"b","exp":1}`), false, nil},
		{"four parts", "v1.a.b.c", false, nil},
		{"empty payload", "v1..sig", false, nil},
		{"empty signature", "v1.abc.", false, nil},
		{"opaque", "s3cr3t", false, nil},
		{"empty", "", false, nil},
	} {
		scope, scoped := ParseScopedToken(tc.token)
		if scoped != tc.scoped || (scope == nil) != (tc.scope == nil) || scope != nil && *scope != *tc.scope {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.name, scope, scoped, tc.scope, tc.scoped)
		}
	}
}

// FuzzParseScopedToken: any string parses without panicking; a scoped
// token's scope is exactly what its payload claims, and a token minted
// for a sandbox parses back to it.
func FuzzParseScopedToken(f *testing.F) {
	f.Add("v1." + b64(`{"ns":"a","name":"b","exp":1}`) + ".x")
	f.Add("v1.@@@.sig")
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		scope, scoped := ParseScopedToken(token)
		if scope != nil && !scoped {
			t.Fatal("a scope from a token that is not scoped")
		}
		if scope == nil {
			return
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("a scope from %d parts", len(parts))
		}
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatalf("a scope from an undecodable payload: %v", err)
		}
		var claims struct {
			NS   string `json:"ns"`
			Name string `json:"name"`
			Exp  int64  `json:"exp"`
		}
		if err := json.Unmarshal(raw, &claims); err != nil || claims.NS != scope.Namespace || claims.Name != scope.Name || claims.Exp != scope.Expires.Unix() {
			t.Fatalf("scope %+v, payload %q", scope, raw)
		}
		if back, _ := ParseScopedToken(mintScoped(t, scope.Namespace, scope.Name, scope.Expires)); back == nil || *back != *scope {
			t.Fatalf("minted for %+v, parsed %+v", scope, back)
		}
	})
}

// TestScopeAdmits: a scoped token serves its own sandbox until its expiry
// second (exclusive, as the router counts).
func TestScopeAdmits(t *testing.T) {
	exp := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s := &Scope{Namespace: "team", Name: "sb-1", Expires: exp}
	for _, tc := range []struct {
		ns, name string
		now      time.Time
		err      string
		expired  bool
	}{
		{ns: "team", name: "sb-1", now: exp.Add(-time.Second)},
		{ns: "team", name: "sb-1", now: exp.Add(-time.Millisecond)},
		{ns: "team", name: "sb-1", now: exp, err: "the scoped router token for sandbox team/sb-1 expired at 2026-11-25T12:00:00Z", expired: true},
		{ns: "team", name: "sb-2", now: exp.Add(-time.Hour), err: "the scoped router token is for sandbox team/sb-1, not team/sb-2"},
		{ns: "other", name: "sb-1", now: exp.Add(time.Hour), err: "the scoped router token is for sandbox team/sb-1, not other/sb-1"},
	} {
		err := s.admits(tc.ns, tc.name, tc.now)
		got := ""
		if err != nil {
			got = err.Error()
			var se *ScopeError
			if !errors.As(err, &se) || se.Expired != tc.expired {
				t.Errorf("%#v", err)
			}
		}
		if got != tc.err {
			t.Errorf("%s/%s at %s: %q, want %q", tc.ns, tc.name, tc.now, got, tc.err)
		}
	}
	// A connection without a scope admits any sandbox.
	if err := (&Conn{now: time.Now}).Admits("a", "b"); err != nil {
		t.Error(err)
	}
	c := &Conn{Credential: Credential{Presents: PresentScoped, Scope: s}, now: func() time.Time { return exp }}
	if err := c.Admits("team", "sb-1"); err == nil || !c.ByNameOnly() {
		t.Errorf("Admits = %v, ByNameOnly %v", err, c.ByNameOnly())
	}
}
