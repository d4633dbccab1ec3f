package mcp

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
)

// TestCreatePool: a claim from the pool, Ready, with the TTL as expiry, the
// session label, created-by and the caller's labels; the output describes
// it.
func TestCreatePool(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{TTL: 2 * time.Hour})
	cl := connect(t, srv.MCP())
	out := cl.create(map[string]any{"pool": "python", "name": "box", "labels": map[string]string{"team": "a"}})
	want := SandboxOut{Name: "box", Namespace: "default", Pool: "python", Sandbox: "sb-box", Ready: true, Reason: "DependenciesReady",
		ExpiresAt: "2026-11-25T14:00:00Z", Mine: true}
	if out != want {
		t.Errorf("output %+v\nwant %+v", out, want)
	}
	claim := c.claim("default", "box")
	if claim == nil {
		t.Fatal("no claim")
	}
	id := claim.Labels[SessionLabel]
	if !regexp.MustCompile(`^mcp-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("session label %q", id)
	}
	if claim.Labels[claims.CreatedByLabel] != claims.CreatedByValue || claim.Labels["team"] != "a" || len(claim.Labels) != 3 {
		t.Errorf("labels %v", claim.Labels)
	}
	if lc := claim.Spec.Lifecycle; lc == nil || !lc.ShutdownTime.Time.Equal(testNow.Add(2*time.Hour)) || lc.ShutdownPolicy != "Delete" {
		t.Errorf("lifecycle %+v", lc)
	}
	if claim.Spec.WarmPoolRef.Name != "python" {
		t.Errorf("pool %q", claim.Spec.WarmPoolRef.Name)
	}

	// A second claim of the session: same label, generated name.
	out2 := cl.create(nil)
	claim2 := c.claim("default", out2.Name)
	if claim2 == nil || !strings.HasPrefix(out2.Name, claims.GenerateNamePrefix) || claim2.Labels[SessionLabel] != id {
		t.Errorf("second claim %+v (%q)", claim2, out2.Name)
	}
	// Another session: another label.
	other := connect(t, srv.MCP()).create(nil)
	if got := c.claim("default", other.Name).Labels[SessionLabel]; got == id || !strings.HasPrefix(got, "mcp-") {
		t.Errorf("other session's label %q, first's %q", got, id)
	}
}

// TestCreateSessionLabelWins: a caller's label cannot hide the claim from
// its session's cleanup.
func TestCreateSessionLabelWins(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{})
	cl := connect(t, srv.MCP())
	out := cl.create(map[string]any{"labels": map[string]string{SessionLabel: "mcp-000000000000", claims.CreatedByLabel: "me"}})
	l := c.claim("default", out.Name).Labels
	if l[SessionLabel] == "mcp-000000000000" || l[claims.CreatedByLabel] != claims.CreatedByValue {
		t.Errorf("labels %v", l)
	}
}

// TestCreateTemplate: the pool serving the template is claimed.
func TestCreateTemplate(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{})
	cl := connect(t, srv.MCP())
	out := cl.create(map[string]any{"template": "go-tmpl"})
	if out.Pool != "go" || c.claim("default", out.Name).Spec.WarmPoolRef.Name != "go" {
		t.Errorf("output %+v", out)
	}
	msg := callErr(cl, "sandbox_create", map[string]any{"template": "rust-tmpl"})
	if !strings.Contains(msg, `no SandboxWarmPool in namespace "default" uses SandboxTemplate "rust-tmpl"`) {
		t.Errorf("error %q", msg)
	}
	if n := len(c.actions("create")); n != 1 {
		t.Errorf("%d creates", n)
	}
}

// TestCreateTTL: the server's TTL by default, a shorter one on request, a
// longer one capped; a TTL that is not a positive duration is refused.
func TestCreateTTL(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{TTL: time.Hour})
	cl := connect(t, srv.MCP())
	for ttl, want := range map[string]time.Duration{"": time.Hour, "30m": 30 * time.Minute, "5h": time.Hour, "1h0m1s": time.Hour, "90s": 90 * time.Second} {
		args := map[string]any{}
		if ttl != "" {
			args["ttl"] = ttl
		}
		out := cl.create(args)
		if at := c.claim("default", out.Name).Spec.Lifecycle.ShutdownTime; !at.Time.Equal(testNow.Add(want)) {
			t.Errorf("ttl %q: shutdown at %v, want %v", ttl, at, testNow.Add(want))
		}
		if out.ExpiresAt != testNow.Add(want).Format(time.RFC3339) {
			t.Errorf("ttl %q: expiresAt %q", ttl, out.ExpiresAt)
		}
	}
	creates := len(c.actions("create"))
	for _, ttl := range []string{"abc", "-5m", "0s", "10"} {
		msg := callErr(cl, "sandbox_create", map[string]any{"pool": "python", "ttl": ttl})
		if want := `invalid ttl "` + ttl + `": use a positive Go duration like 30m`; msg != want {
			t.Errorf("ttl %q: error %q, want %q", ttl, msg, want)
		}
	}
	if n := len(c.actions("create")); n != creates {
		t.Errorf("refused TTLs reached the API: %d creates", n-creates)
	}
}

// TestCreateDefaults: a zero TTL in the options is DefaultTTL.
func TestCreateDefaults(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{})
	if srv.opts.TTL != DefaultTTL || srv.opts.MaxOutput != DefaultMaxOutput || srv.opts.MaxReadBytes != DefaultMaxReadBytes || srv.opts.ReadyTimeout != DefaultReadyTimeout {
		t.Errorf("defaults %+v", srv.opts)
	}
	out := connect(t, srv.MCP()).create(nil)
	if out.ExpiresAt != testNow.Add(DefaultTTL).Format(time.RFC3339) {
		t.Errorf("expiresAt %q", out.ExpiresAt)
	}
}

// TestCreateRefused: inputs refused before any claim is created.
func TestCreateRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		args map[string]any
		want string
	}{
		{"neither", Options{}, map[string]any{}, "give exactly one of pool and template"},
		{"both", Options{}, map[string]any{"pool": "python", "template": "python-tmpl"}, "give exactly one of pool and template"},
		{"namespace", Options{}, map[string]any{"pool": "python", "namespace": "other"},
			`this server acts in namespace "default" only (start it with --allow-namespace to let tools name another)`},
		{"labels", Options{}, map[string]any{"pool": "python", "labels": map[string]string{"bad key": "x"}}, `invalid label key "bad key": `},
		{"pool not allowed", Options{AllowPools: []string{"python"}}, map[string]any{"pool": "go"},
			`pool "go" (template "go-tmpl") is not allowed here: allowed pools [python], templates []`},
		{"template not allowed", Options{AllowPools: []string{"python"}}, map[string]any{"template": "go-tmpl"},
			`pool "go" (template "go-tmpl") is not allowed here: allowed pools [python], templates []`},
		{"pool of a template not allowed", Options{AllowTemplates: []string{"go-tmpl"}}, map[string]any{"pool": "python"},
			`pool "python" (template "python-tmpl") is not allowed here: allowed pools [], templates [go-tmpl]`},
		{"unknown pool", Options{AllowTemplates: []string{"go-tmpl"}}, map[string]any{"pool": "nope"},
			`pool "nope" (template "") is not allowed here: allowed pools [], templates [go-tmpl]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			srv := newServer(t, c, tc.opts)
			cl := connect(t, srv.MCP())
			msg := callErr(cl, "sandbox_create", tc.args)
			if !strings.HasPrefix(msg, tc.want) {
				t.Errorf("error %q\nwant %q", msg, tc.want)
			}
			if n := len(c.actions("create")); n != 0 {
				t.Errorf("%d creates", n)
			}
		})
	}
}

// TestCreateAllowed: the allow-lists let through what they name: a pool, or
// a pool (named or found by template) whose template they name.
func TestCreateAllowed(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{AllowPools: []string{"python"}, AllowTemplates: []string{"go-tmpl"}})
	cl := connect(t, srv.MCP())
	for _, args := range []map[string]any{{"pool": "python"}, {"template": "python-tmpl"}, {"pool": "go"}, {"template": "go-tmpl"}} {
		cl.create(args)
	}
	if n := len(c.actions("create")); n != 4 {
		t.Errorf("%d creates", n)
	}
}

// TestCreateNamespace: with AllowNamespace a tool may name another
// namespace; naming the server's own is always fine.
func TestCreateNamespace(t *testing.T) {
	c := newCluster(t)
	cl := connect(t, newServer(t, c, Options{}).MCP())
	if out := cl.create(map[string]any{"namespace": "default"}); out.Namespace != "default" {
		t.Errorf("output %+v", out)
	}
	cl = connect(t, newServer(t, c, Options{AllowNamespace: true}).MCP())
	out := cl.create(map[string]any{"namespace": "other", "name": "box"})
	if out.Namespace != "other" || c.claim("other", "box") == nil {
		t.Errorf("output %+v", out)
	}
}

// TestCreateNotReady: a claim that does not become Ready in time is deleted
// and forgotten, and the error says so.
func TestCreateNotReady(t *testing.T) {
	c := newCluster(t)
	c.setNotReady()
	srv := newServer(t, c, Options{ReadyTimeout: 300 * time.Millisecond})
	cl := connect(t, srv.MCP())
	msg := callErr(cl, "sandbox_create", map[string]any{"pool": "python", "name": "slow"})
	if !strings.Contains(msg, `sandboxclaim "slow" was deleted`) {
		t.Errorf("error %q", msg)
	}
	c.waitDeleted("slow")
	if _, ok := srv.owns("default", "slow"); ok {
		t.Error("the deleted claim is still tracked")
	}
	// Someone else then makes a claim of that name: it is not the server's.
	if err := c.ext.Tracker().Add(foreignClaim("slow")); err != nil {
		t.Fatal(err)
	}
	if msg := callErr(cl, "sandbox_delete", map[string]any{"name": "slow"}); !strings.Contains(msg, "was not created by this MCP server") {
		t.Errorf("error %q", msg)
	}
	if c.claim("default", "slow") == nil {
		t.Error("the server deleted a claim it did not create")
	}
}
