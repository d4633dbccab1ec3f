package cmd

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	k8stesting "k8s.io/client-go/testing"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podconn"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandboxd"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

func TestWait(t *testing.T) {
	objs := []runtime.Object{readyClaim("a", "sb-a"), claimObj("b", "p", "", testNow, metav1.ConditionFalse, "SandboxNotReady")}
	res, _ := run(t, NewCmdWait, []string{"a", "--for=condition=Ready"}, objs...)
	if res.err != nil || res.out != "sandboxclaim.extensions.agents.x-k8s.io/a condition met\n" {
		t.Errorf("%+v", res)
	}
	res, _ = run(t, NewCmdWait, []string{"a", "b", "--for=condition=Ready=False", "--timeout=50ms"}, objs...)
	if res.err == nil || res.out != "" {
		t.Errorf("a is Ready=True, so Ready=False must time out: %+v", res)
	}
	res, _ = run(t, NewCmdWait, []string{"b", "--for=condition=Ready=False", "--timeout=5s"}, objs...)
	if res.err != nil || res.out != "sandboxclaim.extensions.agents.x-k8s.io/b condition met\n" {
		t.Errorf("%+v", res)
	}
	res, _ = run(t, NewCmdWait, []string{"gone", "--for=delete"}, objs...)
	if res.err != nil || res.out != "sandboxclaim.extensions.agents.x-k8s.io/gone condition met\n" {
		t.Errorf("%+v", res)
	}
	res, _ = run(t, NewCmdWait, []string{"gone", "--for=condition=Ready"}, objs...)
	if res.err == nil || res.err.Error() != `sandboxclaim "gone" not found in namespace "default"` {
		t.Errorf("%+v", res)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"a", "--for=ready"}, `invalid --for "ready": use --for=condition=Ready, --for=condition=Ready=False or --for=delete`},
		{[]string{"a", "--for=condition=Ready=Maybe"}, `invalid --for "condition=Ready=Maybe"`},
		{[]string{"a", "--for=condition="}, `invalid --for "condition="`},
		{[]string{"a", "--for=delete", "--timeout=0s"}, "--timeout must be positive"},
		{[]string{"A", "--for=delete"}, `invalid claim name "A"`},
		{[]string{"a"}, `required flag(s) "for" not set`},
	} {
		res, ext := run(t, NewCmdWait, tc.args)
		if res.err == nil || !strings.HasPrefix(res.err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %s", tc.args, res.err, tc.want)
		}
		if len(ext.Actions()) != 0 {
			t.Errorf("%q: invalid input reached the API: %v", tc.args, ext.Actions())
		}
	}
}

func TestWaitTimeoutNamesTheLastState(t *testing.T) {
	objs := []runtime.Object{claimObj("b", "p", "", testNow, metav1.ConditionFalse, "SandboxNotReady")}
	res, _ := run(t, NewCmdWait, []string{"b", "--for=condition=Ready", "--timeout=50ms"}, objs...)
	want := `timed out after 50ms waiting for sandboxclaim "b" to become Ready`
	if res.err == nil || !strings.HasPrefix(res.err.Error(), want) {
		t.Fatalf("got %v\nwant %s", res.err, want)
	}
	if got := describeError(res.err, "wait"); !strings.HasSuffix(got, " (raise --timeout, or inspect it with: kubectl sandbox describe b)") {
		t.Errorf("hint: %s", got)
	}
}

func TestDescribe(t *testing.T) {
	c := readyClaim("a", "python-x")
	c.UID = "uid-claim"
	sb := &sandboxv1beta1.Sandbox{ObjectMeta: metav1.ObjectMeta{Name: "python-x", Namespace: "default", UID: "uid-sb",
		Annotations: map[string]string{claims.PodNameAnnotation: "python-x-pod"}, Labels: map[string]string{claims.LaunchTypeLabel: "warm"}}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "python-x-pod", Namespace: "default", UID: "uid-pod"},
		Spec: corev1.PodSpec{NodeName: "kwok-node-0"}, Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.5"}}
	ev := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e1", Namespace: "default"}, Type: "Normal", Reason: "Started",
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "python-x-pod", UID: "uid-pod"}, Message: "started",
		Source: corev1.EventSource{Component: "kubelet"}, LastTimestamp: metav1.NewTime(testNow.Add(-time.Minute))}
	f := newFakeFactory(c, poolObj("python", "python-tpl", 1, 1), sb, pod, ev)
	res := runWith(t, f, NewCmdDescribe, "", []string{"a"})
	words := strings.Join(strings.Fields(res.out), " ")
	for _, want := range []string{"Name: a ", "Template: python-tpl ", "Sandbox: Name: python-x Launch: warm ",
		"Pod: Name: python-x-pod Phase: Running Node: kwok-node-0 IP: 10.0.0.5", "Normal Started 60s pod/python-x-pod kubelet started"} {
		if !strings.Contains(words, want) {
			t.Errorf("describe output lacks %q:\n%s", want, res.out)
		}
	}
	if res.err != nil {
		t.Error(res.err)
	}
	res = runWith(t, f, NewCmdDescribe, "", []string{"nope"})
	if res.err == nil || res.err.Error() != `sandboxclaim "nope" not found in namespace "default"` {
		t.Errorf("%+v", res)
	}
	res = runWith(t, f, NewCmdDescribe, "", []string{"No"})
	if res.err == nil || !strings.HasPrefix(res.err.Error(), `invalid claim name "No"`) {
		t.Errorf("%+v", res)
	}
}

func TestVersion(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api":
			fmt.Fprint(w, `{"kind":"APIVersions","versions":["v1"]}`)
		case "/apis":
			fmt.Fprint(w, `{"kind":"APIGroupList","groups":[
				{"name":"agents.x-k8s.io","versions":[{"groupVersion":"agents.x-k8s.io/v1beta1","version":"v1beta1"},{"groupVersion":"agents.x-k8s.io/v1alpha1","version":"v1alpha1"}]},
				{"name":"extensions.agents.x-k8s.io","versions":[{"groupVersion":"extensions.agents.x-k8s.io/v1alpha1","version":"v1alpha1"}]}]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer api.Close()
	f := newFakeFactory()
	f.config.Host = api.URL
	res := runWith(t, f, NewCmdVersion, "", nil)
	wantOut := "Client Version: dev\nServer agent-sandbox APIs: agents.x-k8s.io v1alpha1,v1beta1; extensions.agents.x-k8s.io v1alpha1\n"
	wantErr := "Warning: the cluster does not serve extensions.agents.x-k8s.io/v1beta1: kubectl sandbox needs agent-sandbox v0.5.6 or newer\n"
	if res.err != nil || res.out != wantOut || res.errOut != wantErr {
		t.Errorf("%+v", res)
	}
	res = runWith(t, f, NewCmdVersion, "", []string{"-o", "json"})
	if res.err != nil || !strings.Contains(res.out, `"serverAPIs": {`) || !strings.Contains(res.out, `"warnings": [`) {
		t.Errorf("%+v", res)
	}
	res = runWith(t, f, NewCmdVersion, "", []string{"--client", "-o", "yaml"})
	if res.err != nil || !strings.HasPrefix(res.out, "clientVersion:\n") || strings.Contains(res.out, "serverAPIs") || res.errOut != "" {
		t.Errorf("%+v", res)
	}
	api.Close()
	res = runWith(t, f, NewCmdVersion, "", nil)
	if res.err != nil || res.out != "Client Version: dev\n" || !strings.HasPrefix(res.errOut, "Warning: cannot read the cluster's agent-sandbox API versions: ") {
		t.Errorf("an unreachable cluster is only a warning: %+v", res)
	}
	res = runWith(t, f, NewCmdVersion, "", []string{"-o", "xml"})
	if res.err == nil || res.err.Error() != `--output must be 'yaml' or 'json', not "xml"` {
		t.Errorf("%+v", res)
	}
}

// TestGetWatchNamesOnly is the regression test of `get A B -w` printing
// every claim of the namespace and never reporting a missing name.
func TestGetWatchNamesOnly(t *testing.T) {
	objs := []runtime.Object{readyClaim("a", "sb-a"), readyClaim("b", "sb-b"), readyClaim("c", "sb-c"), poolObj("python", "python", 1, 1)}
	f := newFakeFactory(objs...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The watch starts once the initial listing is printed: end it there.
	f.ext.PrependWatchReactor("sandboxclaims", func(k8stesting.Action) (bool, watch.Interface, error) {
		cancel()
		return true, watch.NewFake(), nil
	})
	res := runCtx(t, ctx, f, NewCmdGet, []string{"a", "c", "-w", "--no-headers"})
	if res.err != nil || !strings.HasPrefix(res.out, "a ") || !strings.Contains(res.out, "\nc ") || strings.Contains(res.out, "\nb ") {
		t.Errorf("%+v", res)
	}
	res = runWith(t, newFakeFactory(objs...), NewCmdGet, "", []string{"a", "missing", "-w", "-o", "name"})
	if res.out != "sandboxclaim.extensions.agents.x-k8s.io/a\n" || res.err == nil ||
		res.err.Error() != `sandboxclaim.extensions.agents.x-k8s.io "missing" not found in namespace "default"` {
		t.Errorf("%+v", res)
	}
}

// TestGetNameWithAllNamespaces is the regression test of `get NAME -A`
// sending a GET without a namespace.
func TestGetNameWithAllNamespaces(t *testing.T) {
	res, ext := run(t, NewCmdGet, []string{"a", "-A"})
	if res.err == nil || res.err.Error() != "a resource cannot be retrieved by name across all namespaces (drop -A, or use -n NAMESPACE)" {
		t.Errorf("%+v", res)
	}
	if len(ext.Actions()) != 0 {
		t.Errorf("reached the API: %v", ext.Actions())
	}
}

func TestGetOutputs(t *testing.T) {
	a := readyClaim("a", "sb-a")
	a.Labels = map[string]string{"team": "x"}
	objs := []runtime.Object{a, readyClaim("b", "sb-b"), poolObj("python", "python", 1, 1)}
	for _, tc := range []struct {
		args []string
		out  string
	}{
		{[]string{"-l", "team=x", "-o", "name"}, "sandboxclaim.extensions.agents.x-k8s.io/a\n"},
		{[]string{"a", "-o", "jsonpath={.status.sandbox.name}"}, "sb-a"},
		{[]string{"-o", "custom-columns=N:.metadata.name,S:.status.sandbox.name", "--sort-by=.metadata.name"}, "N     S\na     sb-a\nb     sb-b\n"},
		{[]string{"-A", "--no-headers", "--sort-by=.metadata.name"}, "default   a     python   python   True   DependenciesReady   sb-a   0s\ndefault   b     python   python   True   DependenciesReady   sb-b   0s\n"},
		{[]string{"a", "--show-labels", "--no-headers"}, "a     python   python   True   DependenciesReady   sb-a   0s    team=x\n"},
	} {
		res, _ := run(t, NewCmdGet, tc.args, objs...)
		if res.err != nil || res.out != tc.out {
			t.Errorf("%q: %+v\nwant %q", tc.args, res, tc.out)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "table"}, `unknown --output "table": use json, yaml, name, wide, custom-columns=, jsonpath= or go-template=`},
		{[]string{"a", "-l", "x=y"}, "names and --selector cannot be used together"},
		{[]string{"-l", "x in ("}, `invalid --selector "x in ("`},
		{[]string{"-o", "custom-columns="}, "custom-columns"},
	} {
		res, ext := run(t, NewCmdGet, tc.args, objs...)
		if res.err == nil || !strings.Contains(res.err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %s", tc.args, res.err, tc.want)
		}
		if len(ext.Actions()) != 0 {
			t.Errorf("%q: invalid input reached the API", tc.args)
		}
	}
}

// TestUnknownCommandIsOneLine is the regression test of cobra's multi-line
// suggestion being flattened into `; ; Did you mean this?; ls;`.
func TestUnknownCommandIsOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"lss", "foo"}, `error: unknown command "lss" for "kubectl sandbox" (did you mean "ls" or "logs"?); see 'kubectl sandbox --help'` + "\n"},
		{[]string{"zzzzzz"}, `error: unknown command "zzzzzz" for "kubectl sandbox"; see 'kubectl sandbox --help'` + "\n"},
	} {
		streams, _, out, errOut := genericiooptions.NewTestIOStreams()
		if code := Execute(context.Background(), streams, tc.args); code != 1 || out.Len() != 0 || errOut.String() != tc.want {
			t.Errorf("%q: code %d, stdout %q, stderr %q\nwant %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

func TestExecuteExitCodes(t *testing.T) {
	f, r, router := dataPlane(t)
	r.Exec = echoExec
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{append(append([]string{"exec"}, router...), "a", "--", "fail"), 3, "oops\n"},
		{append(append([]string{"exec"}, router...), "a", "--", "echo", "x"), 0, ""},
		{[]string{"exec", "p", "--", "echo"}, 1, ""},
		{[]string{"create", "--pool", "a", "--template", "b"}, 1, "error: exactly one of --pool or --template is required (list them with: kubectl sandbox pools)\n"},
	} {
		streams, _, _, errOut := genericiooptions.NewTestIOStreams()
		cmd := newRoot()
		addVerbs(cmd, f, streams)
		code := execute(context.Background(), cmd, streams, tc.args)
		if code != tc.code || (tc.stderr != "" && errOut.String() != tc.stderr) {
			t.Errorf("%q: code %d stderr %q", tc.args, code, errOut)
		}
	}
	// A context cancelled by a signal exits as a shell does (128+signal),
	// without an error line for the interruption itself.
	for sig, want := range map[syscall.Signal]int{syscall.SIGINT: 130, syscall.SIGTERM: 143} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(&Interrupt{Signal: sig})
		streams, _, _, errOut := genericiooptions.NewTestIOStreams()
		cmd := newRoot()
		addVerbs(cmd, f, streams)
		if code := execute(ctx, cmd, streams, append(append([]string{"exec"}, router...), "a", "--", "echo")); code != want || errOut.Len() != 0 {
			t.Errorf("%v: code %d stderr %q", sig, code, errOut)
		}
	}
	// A command that --timeout ends exits 124, as timeout(1) does.
	release := make(chan struct{})
	r.Exec = func(string, []string) (string, string, int) { <-release; return "", "", 0 }
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	cmd := newRoot()
	addVerbs(cmd, f, streams)
	code := execute(context.Background(), cmd, streams, append(append([]string{"exec", "--timeout", "20ms"}, router...), "a", "--", "sleep"))
	close(release)
	if want := "error: the command did not finish within 20ms; it may still be running in the sandbox (raise --timeout)\n"; code != 124 || errOut.String() != want {
		t.Errorf("--timeout: code %d stderr %q", code, errOut)
	}
}

func TestFactoryHonoursKubeconfig(t *testing.T) {
	dir := t.TempDir()
	kc := filepath.Join(dir, "config")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: team-a}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &kc
	f := NewFactory(flags)
	if ns, err := f.Namespace(); err != nil || ns != "team-a" {
		t.Errorf("namespace %q, %v", ns, err)
	}
	c1, err := f.Clients()
	if err != nil || c1.Config.Host != "https://127.0.0.1:6443" || !strings.HasPrefix(c1.Config.UserAgent, "kubectl-sandbox/") || c1.Config.QPS != 50 {
		t.Fatalf("%+v, %v", c1, err)
	}
	if c2, _ := f.Clients(); c2 != c1 {
		t.Error("clients are made once per invocation")
	}
	bad := filepath.Join(dir, "missing")
	flags.KubeConfig = &bad
	if _, err := NewFactory(flags).Clients(); err == nil {
		t.Error("a missing kubeconfig must fail")
	}
}

func TestClaimProgressIsInertOffTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := &claimProgress{errOut: &buf}
	created := ""
	h := p.hooks(func(c *extv1beta1.SandboxClaim) { created = c.Name })
	h.Created(readyClaim("a", "sb"))
	h.Observe(readyClaim("a", "sb"))
	p.stop()
	p.stop()
	if created != "a" || buf.Len() != 0 {
		t.Errorf("created %q, drew %q", created, buf.String())
	}
}

func TestCompletionOfNames(t *testing.T) {
	objs := []runtime.Object{readyClaim("alpha", "s"), readyClaim("beta", "s"), poolObj("python", "python", 1, 1)}
	f := newFakeFactory(objs...)
	cmd := NewCmdExec(f, genericiooptions.NewTestIOStreamsDiscard())
	names, _ := cmd.ValidArgsFunction(cmd, nil, "a")
	if strings.Join(names, ",") != "alpha" {
		t.Errorf("claims: %v", names)
	}
	names, _ = cmd.ValidArgsFunction(cmd, []string{"alpha"}, "")
	if strings.Join(names, ",") != "beta" {
		t.Errorf("claims not yet given: %v", names)
	}
	create := NewCmdCreate(f, genericiooptions.NewTestIOStreamsDiscard())
	complete, _ := create.GetFlagCompletionFunc("pool")
	if names, _ := complete(create, nil, ""); strings.Join(names, ",") != "python" {
		t.Errorf("pools: %v", names)
	}
}

// runCtx is runWith with the caller's context.
func runCtx(t *testing.T, ctx context.Context, f Factory, newCmd func(Factory, genericiooptions.IOStreams) *cobra.Command, args []string) result {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	cmd := newCmd(f, streams)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(ctx)
	return result{out: out.String(), errOut: errOut.String(), err: err}
}

// routerRefusal is the router's 401 or 403 to a request for sandbox d/s.
func routerRefusal(status int, c router.Credential, sent bool) *router.RefusedError {
	detail := map[int]string{401: "unauthenticated", 403: "forbidden"}[status]
	return &router.RefusedError{Err: &sandbox.HTTPError{Op: "execute", Status: status, Detail: detail, Sandbox: "s"}, Namespace: "d", Credential: c, Sent: sent}
}

func TestHintsNameTheFlags(t *testing.T) {
	for _, tc := range []struct {
		err  error
		verb string
		want string
	}{
		{&python.NoAnswerError{Op: "list d", After: 30 * time.Second}, "ls", "list d: the sandbox router did not answer within 30s (is the router running and reachable? check --router-url, --gateway or the router's port-forward)"},
		{&sandbox.CommandTimeoutError{After: time.Second}, "run", "the command did not finish within 1s; it may still be running in the sandbox (raise --command-timeout)"},
		{&claims.NotReadyError{Name: "c", Reason: "SandboxNotReady"}, "exec", `sandboxclaim "c" is not Ready (SandboxNotReady): wait for it with: kubectl sandbox wait c --for=condition=Ready`},
		{&claims.NotReadyError{Name: "c", Reason: "SandboxSuspended"}, "exec", `sandboxclaim "c" is not Ready (SandboxSuspended): it is suspended; resume it with: kubectl sandbox resume c`},
		{&session.ChangedError{Claim: "c", Err: &sandbox.HTTPError{Op: "execute", Status: 502, Sandbox: "s"}}, "exec",
			`sandboxclaim "c" changed while the request was under way (it names another sandbox or pod now): execute: HTTP 502 (see what it is now with: kubectl sandbox describe c)`},
		{&claims.CleanupError{Name: "c", Err: errors.New("boom")}, "run", `deleting sandboxclaim "c" failed: boom (it expires at its TTL; delete it with: kubectl sandbox delete c)`},
		{&claims.NoPoolError{Namespace: "d", Template: "t", Templates: []string{"t"}}, "create", `no SandboxWarmPool in namespace "d" uses SandboxTemplate "t"; pools: none; templates: t; create a pool for it (spec.sandboxTemplateRef.name: t, replicas: 0 for cold starts) or use --pool`},
		{&router.GatewayError{Namespace: "d", Name: "g", NotFound: true}, "exec", `gateway "g" not found in namespace "d": check --gateway and --gateway-namespace`},
		{&router.GatewayError{Namespace: "d", Name: "g", After: time.Second, Problem: "is not Programmed", Reason: "Pending: Waiting for controller"}, "exec", `gateway d/g is not Programmed after 1s (Pending: Waiting for controller): is a Gateway controller running for its GatewayClass? check with: kubectl describe gateway -n d g`},
		{&router.GatewayError{Namespace: "d", Name: "g", Problem: "has no HTTPS listener", NoListener: true}, "exec", `gateway d/g has no HTTPS listener: add the listener to the Gateway, or pick the other with --gateway-scheme`},
		{&router.NoRouterError{Problems: []string{"x"}}, "exec", "cannot port-forward to the sandbox router: x (deploy the router, set --router-namespace, or use --gateway or --router-url)"},
		{&router.InsecureTokenError{Host: "h"}, "exec", "refusing to send the router token over plain http to h: use https, or --router-allow-insecure-token if the network is trusted"},
		{routerRefusal(401, router.Credential{Identity: router.IdentityToken, WithheldFrom: "10.96.0.10:8080"}, false), "exec",
			"execute: the sandbox router asks for a bearer token (HTTP 401: unauthenticated) and none was sent: your kubeconfig's token is not sent over plain http to 10.96.0.10:8080: " +
				"the router asks for tokens (tokenreview mode requiring them, or scoped-token mode); reach it over https (--router-url https://..., or --gateway-scheme https, with --router-ca-file), or allow plain http with --router-allow-insecure-token if the network is trusted"},
		{routerRefusal(403, router.Credential{Presents: router.PresentKubeconfig, Identity: router.IdentityExec}, true), "exec",
			"execute: the sandbox router refused access to sandbox d/s (HTTP 403: forbidden): a router in scoped-token mode (or a policy in front of the router) refuses it: give it one with --router-token-file, minted for the sandbox"},
		{routerRefusal(403, router.Credential{Presents: router.PresentScoped, Scope: &router.Scope{Namespace: "d", Name: "other"}}, true), "exec",
			"execute: the sandbox router refused the scoped token for sandbox d/other access to sandbox d/s (HTTP 403: forbidden): the router is in scoped-token mode: mint a token for sandbox d/s"},
		{&router.ScopeError{Scope: router.Scope{Namespace: "d", Name: "other"}, Namespace: "d", Name: "s"}, "exec",
			"the scoped router token is for sandbox d/other, not d/s: in scoped-token mode the router admits a token only for its own sandbox: mint one for d/s"},
		{x509.HostnameError{Certificate: &x509.Certificate{DNSNames: []string{"example.com"}}, Host: "router.test"}, "exec",
			"x509: certificate is valid for example.com, not router.test (the router's certificate is for another name: check --router-url, or the Gateway listener's hostname)"},
		{&sandbox.HTTPError{Op: "execute", Status: 502, Sandbox: "s"}, "exec", "execute: HTTP 502: router could not reach sandbox s: is it Ready? does its NetworkPolicy admit the router?"},
		{&sandbox.HTTPError{Op: "execute", Status: 401}, "exec", "execute: HTTP 401: the router refused the request (set --router-token, --router-token-file or KUBECTL_SANDBOX_ROUTER_TOKEN)"},
		{&sandboxd.UnreachableError{Namespace: "d", Pod: "p", Port: 7, Err: errors.New("no gRPC server answered")}, "exec", "pod d/p does not answer on sandboxd's port 7: no gRPC server answered (does its pod run sandboxd? use --runtime python for the python runtime, or set --sandboxd-rest-port and --sandboxd-grpc-port)"},
		{&sandboxd.UnreachableError{Namespace: "d", Pod: "p", Port: 8080, Transport: podconn.PortForward, Err: errors.New("health: EOF")}, "exec", "pod d/p does not answer on sandboxd's port 8080: health: EOF (a port-forward does not reach pods under gVisor or Kata: use --transport auto or exec; does its pod run sandboxd? use --runtime python for the python runtime, or set --sandboxd-rest-port and --sandboxd-grpc-port)"},
		{&sandboxd.NotReadyError{Sandbox: "d/s", Err: errors.New("health: HTTP 503")}, "exec", "sandboxd in sandbox d/s is not ready: health: HTTP 503 (is the sandbox Ready? check with: kubectl sandbox describe CLAIM)"},
		{&kube.ForbiddenError{Namespace: "d", Pod: "p", Subresource: kube.PortForward}, "exec", `port-forward to pod d/p is forbidden: you may not create pods/portforward in namespace "d" (sandboxd is reached by a port-forward: ask for RBAC create on pods/portforward in namespace d, or use --transport exec with create on pods/exec; check with: kubectl auth can-i create pods/portforward -n d)`},
		{&kube.ForbiddenError{Namespace: "d", Pod: "p", Subresource: kube.PortForward}, "port-forward", `port-forward to pod d/p is forbidden: you may not create pods/portforward in namespace "d" (ask for RBAC create on pods/portforward in namespace d, or use --transport exec with create on pods/exec; check with: kubectl auth can-i create pods/portforward -n d)`},
		{&kube.ForbiddenError{Namespace: "d", Pod: "p", Subresource: kube.Exec}, "exec", `exec into pod d/p is forbidden: you may not create pods/exec in namespace "d" (the connection is relayed over pods/exec, as for pods under gVisor or Kata, which port-forwards do not reach: ask for RBAC create on pods/exec in namespace d; check with: kubectl auth can-i create pods/exec -n d)`},
		{&podconn.FailedError{Namespace: "d", Pod: "p", PortForward: errors.New("pod d/p does not answer on sandboxd's port 8080: EOF"), Exec: &kube.ForbiddenError{Namespace: "d", Pod: "p", Subresource: kube.Exec}}, "cp",
			`cannot reach pod d/p: through a port-forward: pod d/p does not answer on sandboxd's port 8080: EOF; through pods/exec: exec into pod d/p is forbidden: you may not create pods/exec in namespace "d" (the connection is relayed over pods/exec, as for pods under gVisor or Kata, which port-forwards do not reach: ask for RBAC create on pods/exec in namespace d; check with: kubectl auth can-i create pods/exec -n d)`},
		{&podconn.FailedError{Namespace: "d", Pod: "p", PortForward: &kube.ForbiddenError{Namespace: "d", Pod: "p", Subresource: kube.PortForward}, Exec: &kube.ForbiddenError{Namespace: "d", Pod: "p", Subresource: kube.Exec}}, "exec",
			`cannot reach pod d/p: through a port-forward: port-forward to pod d/p is forbidden: you may not create pods/portforward in namespace "d"; through pods/exec: exec into pod d/p is forbidden: you may not create pods/exec in namespace "d" (ask for RBAC create on pods/portforward, or on pods/exec, in namespace d; check with: kubectl auth can-i create pods/portforward -n d)`},
		{&podexec.NoRelayError{Target: podexec.Target{Namespace: "d", Pod: "p"}, Why: "it has no sh"}, "shell", `cannot start a relay in pod d/p through pods/exec: its default container: it has no sh (the relay needs sh, with bash and cat or with python3, in the container; where port-forwards reach the pod, use --transport port-forward)`},
		{&claims.FailedError{Name: "c", Reason: "EnvVarsInjectionRejected", Message: "m"}, "create", `sandboxclaim "c" failed: EnvVarsInjectionRejected: m (the template's envVarsInjectionPolicy must be Allowed or Overrides to use --env)`},
	} {
		if got := describeError(tc.err, tc.verb); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}
