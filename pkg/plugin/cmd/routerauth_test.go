package cmd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python/pythontest"
)

// The tokens of the router tests. The kubeconfig's and the ServiceAccount's
// are what a tokenreview router's API server would authenticate.
const (
	kubeToken = "kube-t0ken-of-the-user"
	saToken   = "sa-t0ken-from-kubectl-create-token"
)

var scopedSecret = []byte("0123456789abcdef0123456789abcdef")

// pinned is the tests' clock, for the fake routers.
func pinned() time.Time { return testNow }

// tokenFile writes a token file and returns its path.
func tokenFile(t *testing.T, token string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// portRE masks the ports of the fake routers in messages.
var portRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// TestRouterAuthentication: exec through fake routers in each mode of the
// Go router: a user whose kubeconfig has a token the router accepts just
// works; everyone else gets one line that names the router's mode and the
// fix, and exits 1 (an error, not the remote command's exit code).
func TestRouterAuthentication(t *testing.T) {
	certPEM := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	exp := testNow.Add(time.Hour)
	for _, tc := range []struct {
		name string
		// authz is the router's mode; kube is the kubeconfig's user.
		authz pythontest.Authz
		kube  rest.Config
		tls   bool
		args  []string
		// line is the one line the user sees after "error: " ("": none).
		line string
		// sent is the Authorization the router saw; podIP whether the
		// request named the pod's IP; requests how many it saw.
		sent     string
		podIP    bool
		requests int
	}{
		{
			name: "tokenreview: the kubeconfig's token", authz: pythontest.RequireTokens(kubeToken), kube: rest.Config{BearerToken: kubeToken},
			sent: "Bearer " + kubeToken, podIP: true, requests: 1,
		},
		{
			name: "tokenreview: a ServiceAccount's token from a file", authz: pythontest.RequireTokens(saToken),
			kube: rest.Config{TLSClientConfig: rest.TLSClientConfig{CertData: certPEM, KeyData: certPEM}}, args: []string{"--router-token-file", tokenFile(t, saToken)},
			sent: "Bearer " + saToken, podIP: true, requests: 1,
		},
		{
			name: "tokenreview: a client certificate cannot be sent", authz: pythontest.RequireTokens(kubeToken),
			kube: rest.Config{TLSClientConfig: rest.TLSClientConfig{CertData: certPEM, KeyData: certPEM}}, podIP: true, requests: 1,
			line: "execute: the sandbox router asks for a bearer token (HTTP 401: unauthenticated) and none was sent: your kubeconfig's identity is a client certificate, which cannot be sent to the router: " +
				"the router asks for tokens (tokenreview mode requiring them, or scoped-token mode); give it one with --router-token-file: a ServiceAccount's for tokenreview mode (kubectl create token NAME > FILE), one minted for the sandbox for scoped-token mode",
		},
		{
			name: "tokenreview: a revoked token", authz: pythontest.RequireTokens(saToken), kube: rest.Config{BearerToken: kubeToken},
			sent: "Bearer " + kubeToken, podIP: true, requests: 1,
			line: "execute: the sandbox router refused your kubeconfig's bearer token (HTTP 401: unauthenticated): a router in tokenreview mode found it invalid, expired, revoked or for another audience (check it with: kubectl auth whoami); " +
				"a router in scoped-token mode takes only a token minted for the sandbox: give it one with --router-token-file",
		},
		{
			name: "tokenreview: a revoked router token", authz: pythontest.RequireTokens(kubeToken), kube: rest.Config{BearerToken: kubeToken},
			args: []string{"--router-token", "old-sa-token"}, sent: "Bearer old-sa-token", podIP: true, requests: 1,
			line: "execute: the sandbox router refused the router token (HTTP 401: unauthenticated): a router in tokenreview mode found it invalid, expired, revoked or for another audience; " +
				"a router in scoped-token mode takes only a token minted for the sandbox; check --router-token, --router-token-file and $KUBECTL_SANDBOX_ROUTER_TOKEN",
		},
		{
			name: "tokenreview over https, verified with --router-ca-file", authz: pythontest.RequireTokens(kubeToken), kube: rest.Config{BearerToken: kubeToken},
			tls: true, sent: "Bearer " + kubeToken, podIP: true, requests: 1,
		},
		{
			name: "https without the router's CA", authz: pythontest.RequireTokens(kubeToken), kube: rest.Config{BearerToken: kubeToken},
			tls: true, args: []string{"--router-ca-file", ""},
			line: `execute: cannot reach the sandbox router: Post "https://127.0.0.1:PORT/execute": tls: failed to verify certificate: x509: certificate signed by unknown authority ` +
				"(the router's certificate is signed by a CA you do not trust: --router-ca-file naming the router's CA)",
		},
		{
			name: "scoped-token: a token for the sandbox, routed by name only", authz: pythontest.ScopedTokens(scopedSecret, pinned), kube: rest.Config{BearerToken: kubeToken},
			args: []string{"--router-token-file", tokenFile(t, pythontest.MintScopedToken(scopedSecret, "default", "sb-a", exp))},
			sent: "Bearer " + pythontest.MintScopedToken(scopedSecret, "default", "sb-a", exp), requests: 1,
		},
		{
			name: "scoped-token: a token for another sandbox, refused before sending", authz: pythontest.ScopedTokens(scopedSecret, pinned),
			args: []string{"--router-token", pythontest.MintScopedToken(scopedSecret, "default", "sb-b", exp)},
			line: "the scoped router token is for sandbox default/sb-b, not default/sb-a: in scoped-token mode the router admits a token only for its own sandbox: mint one for default/sb-a",
		},
		{
			name: "scoped-token: an expired token, refused before sending", authz: pythontest.ScopedTokens(scopedSecret, pinned),
			args: []string{"--router-token", pythontest.MintScopedToken(scopedSecret, "default", "sb-a", testNow)},
			line: "the scoped router token for sandbox default/sb-a expired at 2026-11-25T12:00:00Z: mint a new one",
		},
		{
			name: "scoped-token: a token signed with another secret", authz: pythontest.ScopedTokens(scopedSecret, pinned),
			args: []string{"--router-token", pythontest.MintScopedToken([]byte("another secret of at least 32 bytes"), "default", "sb-a", exp)},
			sent: "Bearer " + pythontest.MintScopedToken([]byte("another secret of at least 32 bytes"), "default", "sb-a", exp), requests: 1,
			line: "execute: the sandbox router refused the scoped token (HTTP 401: unauthenticated): a router in scoped-token mode could not verify it (minted with another secret, or mangled?): mint a new one; " +
				"a router in tokenreview mode takes Kubernetes tokens: drop --router-token, --router-token-file and $KUBECTL_SANDBOX_ROUTER_TOKEN to send your kubeconfig's",
		},
		{
			name: "scoped-token: the kubeconfig's token is no scoped token", authz: pythontest.ScopedTokens(scopedSecret, pinned), kube: rest.Config{BearerToken: kubeToken},
			sent: "Bearer " + kubeToken, podIP: true, requests: 1,
			line: "execute: the sandbox router refused your kubeconfig's bearer token (HTTP 401: unauthenticated): a router in tokenreview mode found it invalid, expired, revoked or for another audience (check it with: kubectl auth whoami); " +
				"a router in scoped-token mode takes only a token minted for the sandbox: give it one with --router-token-file",
		},
		{
			name: "scoped-token: a token it will not take for this sandbox", kube: rest.Config{BearerToken: kubeToken},
			authz: func(http.Header) int { return http.StatusForbidden },
			args:  []string{"--router-token", pythontest.MintScopedToken(scopedSecret, "default", "sb-a", exp)}, requests: 1,
			sent: "Bearer " + pythontest.MintScopedToken(scopedSecret, "default", "sb-a", exp),
			line: "execute: the sandbox router refused the scoped token for sandbox default/sb-a (HTTP 403: forbidden): a router in scoped-token mode refuses requests that carry X-Sandbox-Pod-IP or X-Sandbox-UID " +
				"(the plugin sends neither with a scoped token): does a proxy in front of the router add them?",
		},
		{
			name: "allow-all: nothing needed", kube: rest.Config{}, podIP: true, requests: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r *pythontest.Router
			if tc.tls {
				r = pythontest.NewTLSRouter(t)
			} else {
				r = pythontest.NewRouter(t)
			}
			r.Authz = tc.authz
			r.Exec = echoExec
			f := newFakeFactory(readyClaim("a", "sb-a"))
			kube := tc.kube
			kube.Host = "https://127.0.0.1:6443"
			f.config = &kube
			args := []string{"--router-url", r.URL}
			if tc.tls {
				args = append(args, "--router-ca-file", tokenFile(t, string(r.CAPEM())))
			}
			args = append(append(args, tc.args...), "a", "--", "echo", "hi")
			res := runWith(t, f, NewCmdExec, "", args)
			line := ""
			if res.err != nil {
				var exit *ExitError
				if errors.As(res.err, &exit) {
					t.Fatalf("exit code %d: an error must exit 1", exit.Code)
				}
				line = portRE.ReplaceAllString(describeError(res.err, "exec"), "127.0.0.1:PORT")
			} else if res.out != "sb-a: hi\n" {
				t.Errorf("stdout %q", res.out)
			}
			if line != tc.line {
				t.Errorf("got  %s\nwant %s", line, tc.line)
			}
			for _, s := range []string{kubeToken, saToken, "v1."} {
				if strings.Contains(line+res.out+res.errOut, s) {
					t.Errorf("the output holds the token %q", s)
				}
			}
			reqs := r.Requests()
			if len(reqs) != tc.requests {
				t.Fatalf("the router saw %d requests, want %d", len(reqs), tc.requests)
			}
			if len(reqs) == 0 {
				return
			}
			h := reqs[0].Header
			if got := h.Get("Authorization"); got != tc.sent {
				t.Errorf("Authorization %q, want %q", got, tc.sent)
			}
			if got := h.Get("X-Sandbox-Pod-IP") != ""; got != tc.podIP {
				t.Errorf("X-Sandbox-Pod-IP sent: %v, want %v", got, tc.podIP)
			}
		})
	}
}

// TestProxyPresentsTheRouterCredential: the proxy replaces the local
// client's Authorization with the credential the other verbs present, and
// with a scoped token routes by name only; a scoped token for another
// sandbox is refused before anything listens.
func TestProxyPresentsTheRouterCredential(t *testing.T) {
	clock = pinned
	t.Cleanup(func() { clock = time.Now })
	scoped := pythontest.MintScopedToken(scopedSecret, "default", "sb-a", testNow.Add(time.Hour))
	for _, tc := range []struct {
		name  string
		authz pythontest.Authz
		args  []string
		sent  string
		podIP bool
	}{
		{"the kubeconfig's token", pythontest.RequireTokens(kubeToken), nil, "Bearer " + kubeToken, true},
		{"a scoped token", pythontest.ScopedTokens(scopedSecret, pinned), []string{"--router-token", scoped}, "Bearer " + scoped, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := pythontest.NewRouter(t)
			r.Authz = tc.authz
			f := newFakeFactory(readyClaim("a", "sb-a"))
			f.config.BearerToken = kubeToken
			port := freePort(t)
			v := start(t, f, NewCmdProxy, append([]string{"a", "8000", "--port", strconv.Itoa(port), "--router-url", r.URL}, tc.args...))
			v.line(t)
			client := &http.Client{Transport: &http.Transport{}}
			defer client.Transport.(*http.Transport).CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/exists/f", port), nil)
			req.Header.Set("Authorization", "Bearer the-user's-own")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := r.Requests()[0].Header
			if resp.StatusCode != http.StatusOK || h.Get("Authorization") != tc.sent || (h.Get("X-Sandbox-Pod-IP") != "") != tc.podIP {
				t.Errorf("answer %s; the router saw %v", resp.Status, h)
			}
			if err := v.stop(); !errors.Is(err, context.Canceled) {
				t.Errorf("the verb returned %v", err)
			}
		})
	}
	t.Run("a scoped token for another sandbox", func(t *testing.T) {
		r := pythontest.NewRouter(t)
		other := pythontest.MintScopedToken(scopedSecret, "default", "sb-b", testNow.Add(time.Hour))
		res := runWith(t, newFakeFactory(readyClaim("a", "sb-a")), NewCmdProxy, "", []string{"a", "8000", "--port", strconv.Itoa(freePort(t)), "--router-url", r.URL, "--router-token", other})
		if res.err == nil || res.err.Error() != "the scoped router token is for sandbox default/sb-b, not default/sb-a" || res.out != "" || len(r.Requests()) != 0 {
			t.Errorf("%+v", res)
		}
	})
}

// TestRunPresentsTheRouterCredential: run's commands and copies go with
// the kubeconfig's token; a user the router refuses gets the one line, and
// the claim run created is deleted.
func TestRunPresentsTheRouterCredential(t *testing.T) {
	for _, tc := range []struct {
		name string
		kube string
		line string
	}{
		{name: "a token the router takes", kube: kubeToken},
		{name: "no token", line: "execute: the sandbox router asks for a bearer token (HTTP 401: unauthenticated) and none was sent: your kubeconfig has no credentials: " +
			"the router asks for tokens (tokenreview mode requiring them, or scoped-token mode); give it one with --router-token-file: a ServiceAccount's for tokenreview mode (kubectl create token NAME > FILE), one minted for the sandbox for scoped-token mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, r, routerArgs := dataPlane(t)
			readyOnCreate(f)
			r.Authz, r.Exec = pythontest.RequireTokens(kubeToken), echoExec
			f.config.BearerToken = tc.kube
			res := runWith(t, f, NewCmdRun, "", append(routerArgs, "--pool", "python", "--", "echo", "hi"))
			line := ""
			if res.err != nil {
				line = describeError(res.err, "run")
			}
			if line != tc.line || tc.line == "" && res.out != "sb-sandbox-claim-abcde: hi\n" {
				t.Errorf("out %q, line %s\nwant %s", res.out, line, tc.line)
			}
			for _, req := range r.Requests() {
				if got := req.Header.Get("Authorization"); tc.kube != "" && got != "Bearer "+tc.kube {
					t.Errorf("%s %s went with %q", req.Method, req.Path, got)
				}
			}
			if left := claimNames(t, f); len(left) != 3 {
				t.Errorf("run left claims behind: %v", left)
			}
		})
	}
}

// TestMCPNeverHandsTheTokenToAnAgent: a tool that meets a router's
// refusal says what the CLI says, worded for the agent, without the
// caller's token, even from a router whose answer repeats it.
func TestMCPNeverHandsTheTokenToAnAgent(t *testing.T) {
	echoing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = fmt.Fprintf(w, `{"detail":"token %s is revoked"}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}))
	defer echoing.Close()
	f := newFakeFactory(readyClaim("a", "sb-a"))
	f.config.BearerToken = kubeToken
	c, errOut := startMCP(t, f, []string{"--router-url", echoing.URL})
	c.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"0"}}}`)
	c.answer(1)
	c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	out, text, isErr := c.call(2, "sandbox_exec", map[string]any{"name": "a", "command": []string{"true"}})
	want := "execute: the sandbox router refused your kubeconfig's bearer token (HTTP 401: token [redacted] is revoked): a router in tokenreview mode found it invalid, expired, revoked or for another audience " +
		"(check it with: kubectl auth whoami); a router in scoped-token mode takes only a token minted for the sandbox: start the server with --router-token-file"
	if !isErr || text != want {
		t.Errorf("tool error %q, %v\nwant %q", text, isErr, want)
	}
	if strings.Contains(string(out)+text+errOut.String(), kubeToken) {
		t.Error("the agent was handed the token")
	}
}
