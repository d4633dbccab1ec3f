//go:build e2e

package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python/pythontest"
)

// What the tests of router authentication expect of the local cluster
// (hack/cluster/gateway.yaml, router-auth.yaml and pki.sh), all in one
// place.
const (
	// authGateway is a Gateway in namespace default that Traefik programs,
	// with an HTTP and an HTTPS listener (its certificate signed by the CA
	// of gatewayCAFile, for the Gateway's address), and the HTTPRoute
	// authRouteNamespace/authRoute that sends / to the router running
	// --authz-mode=tokenreview --authz-tokenreview-require-token.
	authGateway        = "tokenreview-gateway"
	authRouteNamespace = "agent-sandbox-system"
	authRoute          = "sandbox-router-tokenreview-route"
	// tokenReviewURL is the same tokenreview router's Service, over plain
	// http at its fixed ClusterIP.
	tokenReviewURL = "http://10.96.0.11:8080"
	// scopedGateway is the Gateway, shaped like authGateway, of the router
	// running --authz-mode=scoped-token (with its name cache, so that it
	// finds sandboxes by name); scopedTokenURL is that router's Service.
	scopedGateway  = "scoped-token-gateway"
	scopedTokenURL = "http://10.96.0.12:8080"
	// scopedTokenSecretFile holds that router's
	// --authz-scoped-token-secret-file, relative to the repository: the
	// tests mint tokens with it, as a controller would.
	scopedTokenSecretFile = "_output/cluster/pki/scoped-token.key"
	// gatewayCAFile is the PEM of the CA that signed the Gateways' HTTPS
	// certificate, relative to the repository.
	gatewayCAFile = "_output/cluster/pki/gateway-ca.crt"
)

// tokenUserRBAC is what a token-bearing user of the data-plane verbs may
// do in namespace default, and read of the Gateway API everywhere (for
// doctor); NAME is the ServiceAccount's name.
const tokenUserRBAC = `apiVersion: v1
kind: ServiceAccount
metadata: {name: NAME, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: NAME, namespace: default}
rules:
- apiGroups: [extensions.agents.x-k8s.io]
  resources: [sandboxclaims]
  verbs: [get, list, watch, create, delete]
- apiGroups: [extensions.agents.x-k8s.io]
  resources: [sandboxwarmpools, sandboxtemplates]
  verbs: [get, list]
- apiGroups: [agents.x-k8s.io]
  resources: [sandboxes]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods, events]
  verbs: [get, list, watch]
- apiGroups: [gateway.networking.k8s.io]
  resources: [gateways, httproutes]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: NAME, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: NAME}
subjects:
- {kind: ServiceAccount, name: NAME, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: NAME}
rules:
- apiGroups: [gateway.networking.k8s.io]
  resources: [gatewayclasses, httproutes]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: NAME}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: NAME}
subjects:
- {kind: ServiceAccount, name: NAME, namespace: default}
`

// tokenUser makes ServiceAccount name in namespace default, with the
// rights of the data-plane verbs, and a kubeconfig whose user is a bearer
// token of it: a token-bearing user (the local cluster's own user is a
// client certificate). It returns the kubeconfig's path and the token.
func tokenUser(t *testing.T, name string) (string, string) {
	t.Helper()
	Kubectl(t, "apply", "-f", "-").WithStdin(strings.NewReader(strings.ReplaceAll(tokenUserRBAC, "NAME", name))).RunOrFail()
	t.Cleanup(func() {
		Kubectl(t, "delete", "serviceaccount,role,rolebinding,clusterrole,clusterrolebinding", name, "--ignore-not-found").Run()
	})
	token := strings.TrimSpace(Kubectl(t, "create", "token", name, "--duration", "1h").RunOrFail().Stdout)
	raw, err := os.ReadFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	Kubectl(t, "--kubeconfig", kc, "config", "set-credentials", name, "--token", token).RunOrFail()
	Kubectl(t, "--kubeconfig", kc, "config", "set-context", "--current", "--user", name).RunOrFail()
	return kc, token
}

// asUser is KUBECONFIG=kc, for WithEnv.
func asUser(kc string) string { return "KUBECONFIG=" + kc }

// repoFile is a path relative to the repository.
func repoFile(p string) string { return filepath.Join(repoRoot, p) }

// sandboxOf is the name of a claim's Sandbox.
func sandboxOf(t *testing.T, claim string) string {
	t.Helper()
	return jsonpath(t, claim, "{.status.sandbox.name}")
}

// mintScoped mints a scoped token for sandbox default/name with the
// scoped-token router's secret, valid for an hour.
func mintScoped(t *testing.T, name string) string {
	t.Helper()
	secret, err := os.ReadFile(repoFile(scopedTokenSecretFile))
	if err != nil {
		t.Fatalf("the scoped-token router's secret: %v", err)
	}
	return pythontest.MintScopedToken([]byte(strings.TrimSpace(string(secret))), "default", name, time.Now().Add(time.Hour))
}

// otherCAFile is a CA that signed nothing the cluster serves.
func otherCAFile(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "other-ca.crt")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The ways to the tokenreview router.
var (
	viaGatewayHTTPS = []string{"--gateway", authGateway, "--router-ca-file", gatewayCAFile}
	viaGatewayHTTP  = []string{"--gateway", authGateway, "--gateway-scheme", "http", "--router-allow-insecure-token"}
	viaService      = []string{"--router-url", tokenReviewURL, "--router-allow-insecure-token"}
)

// withCA makes the CA file of a way absolute.
func withCA(way []string) []string {
	out := append([]string(nil), way...)
	for i, a := range out {
		if a == gatewayCAFile {
			out[i] = repoFile(a)
		}
	}
	return out
}

// TestTokenReviewRouterTakesATokenBearingUser: a user whose kubeconfig
// holds a bearer token reaches sandboxes through the router that requires
// tokens: through the Gateway over https (verified with the local CA) and
// over http, and at the router's Service; exec, cp, ls, cat, run and
// proxy, and the token is never printed, even at -v=10.
func TestTokenReviewRouterTakesATokenBearingUser(t *testing.T) {
	kc, token := tokenUser(t, "e2e-router-user")
	c := readyClaim(t, "e2e-auth")
	for _, way := range [][]string{viaGatewayHTTPS, viaGatewayHTTP, viaService} {
		args := append(append([]string{"exec", c}, withCA(way)...), "-v=10", "--", "echo", "through the tokenreview router")
		res := Sandbox(t, args...).WithEnv(asUser(kc)).RunOrFail()
		if !strings.HasSuffix(res.Stdout, "through the tokenreview router\n") {
			t.Errorf("%v: stdout %q", way, res.Stdout)
		}
		if strings.Contains(res.Stdout+res.Stderr, token) {
			t.Errorf("%v printed the token", way)
		}
	}
	https := withCA(viaGatewayHTTPS)
	local := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(local, []byte("hello through the gateway\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// as runs verb with the way's flags right after it (before any --).
	as := func(verb string, args ...string) Result {
		return Sandbox(t, append(append([]string{verb}, https...), args...)...).WithEnv(asUser(kc)).RunOrFail()
	}
	as("cp", local, c+":auth/in.txt")
	if res := as("ls", c+":auth"); !strings.Contains(res.Stdout, "in.txt") {
		t.Errorf("ls: %q", res.Stdout)
	}
	if res := as("cat", c+":auth/in.txt"); res.Stdout != "hello through the gateway\n" {
		t.Errorf("cat: %q", res.Stdout)
	}
	back := filepath.Join(t.TempDir(), "back.txt")
	as("cp", c+":auth/in.txt", back)
	if got, err := os.ReadFile(back); err != nil || string(got) != "hello through the gateway\n" {
		t.Errorf("cp out: %q, %v", got, err)
	}
	if res := as("run", "--pool", "python", "-l", "e2e-run=auth", "--", "echo", "run through the gateway"); res.Stdout != "run through the gateway\n" {
		t.Errorf("run: %q", res.Stdout)
	}
	t.Run("proxy", func(t *testing.T) { proxyThrough(t, kc, c, https) })
}

// proxyThrough serves the claim's runtime port with `proxy` as the user of
// kc and asks it for /.
func proxyThrough(t *testing.T, kc, claim string, way []string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := Sandbox(t, append([]string{"proxy", claim, "8888", "--port", fmt.Sprint(port)}, way...)...).WithEnv(asUser(kc)).command()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if want := fmt.Sprintf("Serving sandboxclaim %s port 8888 on http://127.0.0.1:%d/\n", claim, port); err != nil || line != want {
		t.Fatalf("proxy printed %q (%v), want %q", line, err, want)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("through the proxy: %s", resp.Status)
	}
}

// TestTokenReviewRouterMCP: the MCP server's full flow as a token-bearing
// user, through the Gateway over https.
func TestTokenReviewRouterMCP(t *testing.T) {
	noMCPClaimsBefore(t)
	kc, _ := tokenUser(t, "e2e-router-mcp")
	rep := runMCPClient(t, []string{asUser(kc)}, append([]string{"stdio", "--"}, withCA(viaGatewayHTTPS)...)...)
	checkFullFlow(t, rep)
	checkCleanExit(t, rep)
	waitNoMCPClaims(t, "after the session through the tokenreview router")
}

// TestRouterRefusals: whoever the router refuses gets one line that says
// what was sent, the router's mode and the fix, and exits 1: a user whose
// identity is a client certificate (the local cluster's own), a token
// withheld from plain http, a revoked token, a CA that did not sign the
// Gateway's certificate, a scoped token for another sandbox (refused
// before sending), and a Kubernetes token at the scoped-token router.
func TestRouterRefusals(t *testing.T) {
	kc, _ := tokenUser(t, "e2e-router-user")
	// A revoked token: its ServiceAccount deleted. The API server refuses
	// it too, so it is given as the router token of a user whose kubeconfig
	// still works (the admin's certificate).
	revokedKC, revokedToken := tokenUser(t, "e2e-router-revoked")
	Kubectl(t, "delete", "serviceaccount", "e2e-router-revoked").RunOrFail()
	revoked := filepath.Join(t.TempDir(), "revoked-token")
	if err := os.WriteFile(revoked, []byte(revokedToken), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the API server to refuse the revoked token", func() bool {
		return Kubectl(t, "auth", "whoami").WithEnv(asUser(revokedKC)).Run().ExitCode != 0
	})
	a, b := readyClaim(t, "e2e-auth-a"), readyClaim(t, "e2e-auth-b")
	sbA, sbB := sandboxOf(t, a), sandboxOf(t, b)
	https := withCA(viaGatewayHTTPS)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want *regexp.Regexp
	}{
		{
			"a client certificate", nil, https,
			lit("error: execute: the sandbox router asks for a bearer token (HTTP 401: unauthenticated) and none was sent: your kubeconfig's identity is a client certificate, which cannot be sent to the router: " +
				"the router asks for tokens (tokenreview mode requiring them, or scoped-token mode); give it one with --router-token-file"),
		},
		{
			"a token withheld from plain http", []string{asUser(kc)}, []string{"--gateway", authGateway, "--gateway-scheme", "http"},
			regexp.MustCompile(`^error: execute: the sandbox router asks for a bearer token \(HTTP 401: unauthenticated\) and none was sent: your kubeconfig's token is not sent over plain http to [^ ]+: ` +
				regexp.QuoteMeta("the router asks for tokens (tokenreview mode requiring them, or scoped-token mode); reach it over https")),
		},
		{
			"a revoked token", nil, append([]string{"--router-token-file", revoked}, https...),
			lit("error: execute: the sandbox router refused the router token (HTTP 401: unauthenticated): "),
		},
		{
			"another CA", []string{asUser(kc)}, []string{"--gateway", authGateway, "--router-ca-file", otherCAFile(t)},
			regexp.MustCompile(`^error: execute: cannot reach the sandbox router: .*x509: certificate signed by unknown authority ` +
				regexp.QuoteMeta("(the router's certificate is signed by a CA you do not trust: --router-ca-file naming the router's CA)")),
		},
		{
			"a scoped token for another sandbox", nil, []string{"--router-url", scopedTokenURL, "--router-allow-insecure-token", "--router-token", mintScoped(t, sbB)},
			lit(fmt.Sprintf("error: the scoped router token is for sandbox default/%s, not default/%s: in scoped-token mode the router admits a token only for its own sandbox: mint one for default/%s", sbB, sbA, sbA)),
		},
		{
			"a Kubernetes token at the scoped-token router", []string{asUser(kc)}, []string{"--router-url", scopedTokenURL, "--router-allow-insecure-token"},
			lit("error: execute: the sandbox router refused your kubeconfig's bearer token (HTTP 401: unauthenticated): "),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Sandbox(t, append(append([]string{"exec", a}, tc.args...), "--", "true")...).WithEnv(tc.env...).Run()
			if res.ExitCode != 1 || !tc.want.MatchString(res.Stderr) || strings.Count(res.Stderr, "\n") != 1 || res.Stdout != "" {
				t.Errorf("exit %d stdout %q stderr %q\nwant one line matching %s", res.ExitCode, res.Stdout, res.Stderr, tc.want)
			}
		})
	}
	t.Run("a scoped token for the sandbox", func(t *testing.T) {
		token := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(token, []byte(mintScoped(t, sbA)), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, way := range [][]string{
			{"--router-url", scopedTokenURL, "--router-allow-insecure-token"},
			{"--gateway", scopedGateway, "--router-ca-file", repoFile(gatewayCAFile)},
		} {
			res := Sandbox(t, append(append([]string{"exec", a, "--router-token-file", token}, way...), "--", "echo", "scoped")...).RunOrFail()
			if res.Stdout != "scoped\n" {
				t.Errorf("%v: stdout %q", way, res.Stdout)
			}
		}
	})
}

// TestScopedTokenWaitsForTheAdoptedPod: a claim is Ready before the
// controller has taken the warm-pool label off its adopted pod, and until
// then a router in scoped-token mode cannot find the pod by name (a CI run
// met this window). The test holds the window open: the controller paused,
// the label put back; the router then answers 502 for the sandbox. exec
// waits instead of failing, and runs once the label is gone.
func TestScopedTokenWaitsForTheAdoptedPod(t *testing.T) {
	c := readyClaim(t, "e2e-scoped-wait")
	sb := sandboxOf(t, c)
	token := mintScoped(t, sb)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	pause := func(how string) {
		if b, err := script("hack/cluster/pause.sh", "agent-sandbox-controller", how).CombinedOutput(); err != nil {
			t.Fatalf("pause.sh %s: %v\n%s", how, err, b)
		}
	}
	pause("stop")
	t.Cleanup(func() { pause("cont") })
	const warm = "agents.x-k8s.io/warm-pool-sandbox"
	Kubectl(t, "label", "pod", sb, warm+"=e2e").RunOrFail()
	t.Cleanup(func() { Kubectl(t, "label", "pod", sb, warm+"-").Run() })
	eventually(t, 30*time.Second, "the scoped-token router to lose the pod", func() bool {
		return scopedRouterStatus(t, sb, token) == http.StatusBadGateway
	})
	start := time.Now()
	done := background(t, Sandbox(t, "exec", c, "--router-token-file", tokenFile, "--router-url", scopedTokenURL, "--router-allow-insecure-token", "--", "echo", "waited"), time.Minute)
	time.Sleep(3 * time.Second) // the router's retries of a failed dial end within 1.4 s
	Kubectl(t, "label", "pod", sb, warm+"-").RunOrFail()
	res := done()
	if res.ExitCode != 0 || res.Stdout != "waited\n" || res.Stderr != "" {
		t.Errorf("exec: exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	if took := time.Since(start); took < 3*time.Second {
		t.Errorf("exec ended after %v, before the label went", took)
	}
}

// scopedRouterStatus is the status of the scoped-token router's answer
// to GET / for port 8888 of sandbox default/name, with token.
func scopedRouterStatus(t *testing.T, name, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, scopedTokenURL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Sandbox-ID", name)
	req.Header.Set("X-Sandbox-Namespace", "default")
	req.Header.Set("X-Sandbox-Port", "8888")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// lit matches a line that starts with s.
func lit(s string) *regexp.Regexp { return regexp.MustCompile("^" + regexp.QuoteMeta(s)) }

// TestDoctorThroughTheAuthGateway: doctor --gateway checks each link to the
// tokenreview router and whether it takes the user's credential.
func TestDoctorThroughTheAuthGateway(t *testing.T) {
	kc, _ := tokenUser(t, "e2e-router-doctor")
	args := append([]string{"doctor"}, withCA(viaGatewayHTTPS)...)
	// The ServiceAccount may not do everything doctor checks (its access
	// check fails): only the Gateway's lines count here.
	res := Sandbox(t, args...).WithEnv(asUser(kc)).Run()
	for _, check := range []string{"gatewayclass", "gateway", "httproute", "gateway-request"} {
		if !regexp.MustCompile(`(?m)^OK\s+` + check + `\s`).MatchString(res.Stdout) {
			t.Errorf("check %s is not OK:\n%s", check, res.Stdout)
		}
	}
	if !strings.Contains(res.Stdout, "; it takes your kubeconfig's bearer token\n") {
		t.Errorf("doctor does not say the router takes the token:\n%s", res.Stdout)
	}
	// The cluster's own user, a client certificate.
	res = Sandbox(t, args...).Run()
	want := regexp.MustCompile(`(?m)^FAIL\s+gateway-request\s.*` + regexp.QuoteMeta("your kubeconfig's identity is a client certificate, which cannot be sent to the router (fix: the router asks for tokens"))
	if res.ExitCode != 1 || !want.MatchString(res.Stdout) {
		t.Errorf("exit %d:\n%s", res.ExitCode, res.Stdout)
	}
}

// TestDoctorNamesAMissingHTTPRoute: with the Gateway's HTTPRoute deleted,
// doctor --gateway says no route names the Gateway, and how to add one; the
// route is put back afterwards.
func TestDoctorNamesAMissingHTTPRoute(t *testing.T) {
	saved := Kubectl(t, "get", "httproute", authRoute, "-n", authRouteNamespace, "-o", "json").RunOrFail().Stdout
	var route map[string]any
	if err := json.Unmarshal([]byte(saved), &route); err != nil {
		t.Fatal(err)
	}
	delete(route, "status")
	meta := route["metadata"].(map[string]any)
	for _, k := range []string{"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"} {
		delete(meta, k)
	}
	again, err := json.Marshal(route)
	if err != nil {
		t.Fatal(err)
	}
	Kubectl(t, "delete", "httproute", authRoute, "-n", authRouteNamespace).RunOrFail()
	t.Cleanup(func() {
		Kubectl(t, "create", "-f", "-").WithStdin(strings.NewReader(string(again))).RunOrFail()
		// The tests after this one need the route attached again.
		Kubectl(t, "wait", "httproute", authRoute, "-n", authRouteNamespace, "--timeout", "60s",
			`--for=jsonpath={.status.parents[0].conditions[?(@.type=="Accepted")].status}=True`).RunOrFail()
	})
	res := Sandbox(t, append([]string{"doctor"}, withCA(viaGatewayHTTPS)...)...).Run()
	want := regexp.MustCompile(`(?m)^FAIL\s+httproute\s+no httproute names gateway default/` + authGateway + ` as its parent .*` +
		regexp.QuoteMeta("(fix: create an HTTPRoute with the gateway in its parentRefs that sends / to Service sandbox-router-svc port 8080 in the route's namespace)"))
	if res.ExitCode != 1 || !want.MatchString(res.Stdout) {
		t.Errorf("exit %d:\n%s", res.ExitCode, res.Stdout)
	}
}
