package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	agentsfake "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned/fake"
	extfake "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fakeFactory serves fake clientsets: extensions, agents and core.
type fakeFactory struct {
	ext     *extfake.Clientset
	agents  *agentsfake.Clientset
	core    *k8sfake.Clientset
	gateway *gatewayfake.Clientset
	config  *rest.Config
}

func newFakeFactory(objs ...runtime.Object) *fakeFactory {
	var ext, core []runtime.Object
	var sandboxes []*sandboxv1beta1.Sandbox
	for _, o := range objs {
		switch o := o.(type) {
		case *sandboxv1beta1.Sandbox:
			sandboxes = append(sandboxes, o)
		case *corev1.Pod, *corev1.Event, *corev1.Service:
			core = append(core, o)
		default:
			ext = append(ext, o)
		}
	}
	f := &fakeFactory{
		ext: extfake.NewSimpleClientset(ext...), agents: agentsfake.NewSimpleClientset(),
		core: k8sfake.NewClientset(core...), gateway: gatewayfake.NewSimpleClientset(),
		config: &rest.Config{Host: "http://127.0.0.1:1"},
	}
	f.ext.PrependWatchReactor("*", kubetest.NoStreamingList)
	// The fake tracker guesses the resource "sandboxs" for objects given to
	// NewSimpleClientset; a create goes through the right one.
	for _, sb := range sandboxes {
		if _, err := f.agents.AgentsV1beta1().Sandboxes(sb.Namespace).Create(context.Background(), sb, metav1.CreateOptions{}); err != nil {
			panic(err)
		}
	}
	return f
}

func (f *fakeFactory) Namespace() (string, error) { return "default", nil }
func (f *fakeFactory) Clients() (*kube.Clients, error) {
	return &kube.Clients{Config: f.config, Core: f.core.CoreV1(), Ext: f.ext, Agents: f.agents, Gateway: f.gateway}, nil
}

type result struct {
	out, errOut string
	err         error
}

// run executes the verb made by newCmd with args against objs, with the
// clock pinned to testNow.
func run(t *testing.T, newCmd func(Factory, genericiooptions.IOStreams) *cobra.Command, args []string, objs ...runtime.Object) (result, *extfake.Clientset) {
	t.Helper()
	f := newFakeFactory(objs...)
	return runWith(t, f, newCmd, "", args), f.ext
}

// runWith executes a verb against f, with stdin and the clock pinned.
func runWith(t *testing.T, f Factory, newCmd func(Factory, genericiooptions.IOStreams) *cobra.Command, stdin string, args []string) result {
	t.Helper()
	clock = func() time.Time { return testNow }
	t.Cleanup(func() { clock = time.Now })
	streams, in, out, errOut := genericiooptions.NewTestIOStreams()
	in.WriteString(stdin)
	cmd := newCmd(f, streams)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	return result{out: out.String(), errOut: errOut.String(), err: err}
}

func TestCreateDryRunClientYAML(t *testing.T) {
	res, ext := run(t, NewCmdCreate, []string{"c1", "--pool", "python", "--ttl", "90m", "-l", "team=a", "--dry-run=client", "-o", "yaml"})
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := `apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxClaim
metadata:
  annotations:
    agents.x-k8s.io/client-first-requested-at: "2026-11-25T12:00:00Z"
  labels:
    agents.x-k8s.io/created-by: kubectl-sandbox
    team: a
  name: c1
  namespace: default
spec:
  additionalPodMetadata: {}
  lifecycle:
    shutdownPolicy: Delete
    shutdownTime: "2026-11-25T13:30:00Z"
  warmPoolRef:
    name: python
`
	if res.out != want {
		t.Errorf("got\n%s\nwant\n%s", res.out, want)
	}
	if len(ext.Actions()) != 0 {
		t.Errorf("client dry run made API calls: %v", ext.Actions())
	}
}

func TestCreateNoWaitPrintsCreated(t *testing.T) {
	res, ext := run(t, NewCmdCreate, []string{"c1", "--pool", "python", "--wait=false"})
	if res.err != nil || res.out != "sandboxclaim.extensions.agents.x-k8s.io/c1 created\n" || res.errOut != "" {
		t.Fatalf("%+v", res)
	}
	got, err := ext.ExtensionsV1beta1().SandboxClaims("default").Get(context.Background(), "c1", metav1.GetOptions{})
	if err != nil || got.Spec.WarmPoolRef.Name != "python" {
		t.Fatalf("claim %+v, %v", got, err)
	}
}

func TestCreateEnvWarnsAboutColdStart(t *testing.T) {
	res, _ := run(t, NewCmdCreate, []string{"c1", "--pool", "python", "--env", "A=1", "--env", "B=x=y", "--dry-run", "-o", "jsonpath={.spec.env}"})
	if res.err != nil || res.out != `[{"name":"A","value":"1"},{"name":"B","value":"x=y"}]` {
		t.Fatalf("%+v", res)
	}
	if res.errOut != "Warning: --env forces a cold start: the claim cannot adopt a warm sandbox\n" {
		t.Errorf("stderr %q", res.errOut)
	}
}

func TestCreateValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pool", "a", "--template", "b"}, "exactly one of --pool or --template is required (list them with: kubectl sandbox pools)"},
		{[]string{"--pool", "a", "--ttl", "-5m"}, `invalid --ttl "-5m": use a positive duration such as 30m or 2h, or 0 for none`},
		{[]string{"--pool", "a", "--shutdown-policy", "Retain"}, "--shutdown-policy needs --ttl"},
		{[]string{"--pool", "a", "--ttl", "1h", "--shutdown-policy", "Keep"}, `invalid --shutdown-policy "Keep": must be Delete, DeleteForeground or Retain`},
		{[]string{"--pool", "a", "--env", "1X=2"}, `invalid --env name "1X": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`},
		{[]string{"--pool", "a", "-l", "team"}, `invalid --labels "team": use key=value,key2=value2`},
		{[]string{"--pool", "a", "-l", "bad key=x"}, `invalid label key "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`},
		{[]string{"--pool", "a", "--dry-run=maybe"}, `invalid --dry-run "maybe": must be "none", "server", or "client"`},
		{[]string{"--pool", "Not_A_Pool"}, `invalid pool name "Not_A_Pool": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
	} {
		res, ext := run(t, NewCmdCreate, tc.args)
		if res.err == nil || res.err.Error() != tc.want {
			t.Errorf("%v: error %v\nwant %s", tc.args, res.err, tc.want)
		}
		if len(ext.Actions()) != 0 {
			t.Errorf("%v: invalid input reached the API: %v", tc.args, ext.Actions())
		}
	}
}

func claimObj(name, pool, sandbox string, created time.Time, ready metav1.ConditionStatus, reason string) *extv1beta1.SandboxClaim {
	c := &extv1beta1.SandboxClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: metav1.NewTime(created)},
		Spec:       extv1beta1.SandboxClaimSpec{WarmPoolRef: extv1beta1.SandboxWarmPoolRef{Name: pool}},
	}
	c.Status.SandboxStatus.Name = sandbox
	if sandbox != "" {
		c.Status.SandboxStatus.PodIPs = []string{"fd00::5", "10.0.0.5"}
	}
	if ready != "" {
		c.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: ready, Reason: reason}}
	}
	return c
}

func poolObj(name, template string, replicas, ready int32) *extv1beta1.SandboxWarmPool {
	return &extv1beta1.SandboxWarmPool{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: metav1.NewTime(testNow.Add(-time.Hour))},
		Spec:       extv1beta1.SandboxWarmPoolSpec{Replicas: ptr.To(replicas), TemplateRef: extv1beta1.SandboxTemplateRef{Name: template}},
		Status:     extv1beta1.SandboxWarmPoolStatus{ReadyReplicas: ready},
	}
}

func TestGetTable(t *testing.T) {
	warm := claimObj("warm-1", "python", "python-abcde", testNow.Add(-90*time.Second), metav1.ConditionTrue, "DependenciesReady")
	ttl := metav1.NewTime(testNow.Add(time.Hour))
	warm.Spec.Lifecycle = &extv1beta1.Lifecycle{ShutdownTime: &ttl, ShutdownPolicy: extv1beta1.ShutdownPolicyDelete}
	cold := claimObj("cold-1", "python-cold", "cold-1", testNow.Add(-3*time.Minute), metav1.ConditionTrue, "DependenciesReady")
	pending := claimObj("new-1", "gone", "", testNow.Add(-5*time.Second), metav1.ConditionFalse, "WarmPoolNotFound")
	objs := []runtime.Object{warm, cold, pending, poolObj("python", "python", 2, 2), poolObj("python-cold", "python", 0, 0)}

	res, _ := run(t, NewCmdGet, []string{"--sort-by=.metadata.name"}, objs...)
	want := `NAME     POOL          TEMPLATE    READY   REASON              SANDBOX        AGE
cold-1   python-cold   python      True    DependenciesReady   cold-1         3m
new-1    gone          <unknown>   False   WarmPoolNotFound    <none>         5s
warm-1   python        python      True    DependenciesReady   python-abcde   90s
`
	if res.err != nil || res.out != want {
		t.Errorf("err %v, got\n%s\nwant\n%s", res.err, res.out, want)
	}
	res, _ = run(t, NewCmdGet, []string{"warm-1", "-o", "wide", "--no-headers"}, objs...)
	want = "warm-1   python   python   True   DependenciesReady   python-abcde   90s   10.0.0.5   warm   in 60m\n"
	if res.err != nil || res.out != want {
		t.Errorf("err %v, got\n%q\nwant\n%q", res.err, res.out, want)
	}
	res, _ = run(t, NewCmdGet, []string{"warm-1", "nope", "-o", "name"}, objs...)
	if res.out != "sandboxclaim.extensions.agents.x-k8s.io/warm-1\n" || res.err == nil ||
		res.err.Error() != `sandboxclaim.extensions.agents.x-k8s.io "nope" not found in namespace "default"` {
		t.Errorf("%+v", res)
	}
	res, _ = run(t, NewCmdGet, nil)
	if res.out != "" || res.errOut != "No resources found in default namespace.\n" {
		t.Errorf("%+v", res)
	}
}

func TestPoolsAndTemplatesTables(t *testing.T) {
	tpl := &extv1beta1.SandboxTemplate{ObjectMeta: metav1.ObjectMeta{Name: "python", Namespace: "default", CreationTimestamp: metav1.NewTime(testNow.Add(-2 * time.Hour))}}
	objs := []runtime.Object{tpl, poolObj("python", "python", 2, 1), poolObj("python-cold", "python", 0, 0)}
	res, _ := run(t, NewCmdPools, nil, objs...)
	want := "NAME          TEMPLATE   READY   AGE\npython        python     1/2     60m\npython-cold   python     0/0     60m\n"
	if res.err != nil || res.out != want {
		t.Errorf("err %v, got\n%s\nwant\n%s", res.err, res.out, want)
	}
	res, _ = run(t, NewCmdTemplates, nil, objs...)
	want = "NAME     IMAGE    POOLS                ENV          AGE\npython   <none>   python,python-cold   Disallowed   120m\n"
	if res.err != nil || res.out != want {
		t.Errorf("err %v, got\n%s\nwant\n%s", res.err, res.out, want)
	}
}

func TestDeleteOutputAndNotFound(t *testing.T) {
	objs := []runtime.Object{claimObj("a", "p", "", testNow, "", ""), claimObj("b", "p", "", testNow, "", "")}
	res, ext := run(t, NewCmdDelete, []string{"a", "missing", "--wait=false"}, objs...)
	if res.out != `sandboxclaim.extensions.agents.x-k8s.io "a" deleted`+"\n" || res.err == nil ||
		res.err.Error() != `sandboxclaim.extensions.agents.x-k8s.io "missing" not found in namespace "default"` {
		t.Errorf("%+v", res)
	}
	if _, err := ext.ExtensionsV1beta1().SandboxClaims("default").Get(context.Background(), "b", metav1.GetOptions{}); err != nil {
		t.Errorf("b must survive: %v", err)
	}
	res, _ = run(t, NewCmdDelete, []string{"--all", "--dry-run"}, objs...)
	want := `sandboxclaim.extensions.agents.x-k8s.io "a" deleted (dry run)` + "\n" + `sandboxclaim.extensions.agents.x-k8s.io "b" deleted (dry run)` + "\n"
	if res.err != nil || res.out != want {
		t.Errorf("%+v", res)
	}
	res, _ = run(t, NewCmdDelete, []string{"a", "--all"}, objs...)
	if res.err == nil || res.err.Error() != "give claim names, --all or --selector (exactly one of them)" {
		t.Errorf("%+v", res)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestDescribeErrorHints(t *testing.T) {
	gr := schema.GroupResource{Group: "extensions.agents.x-k8s.io", Resource: "sandboxclaims"}
	missingAPI := &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 404,
		Reason: metav1.StatusReasonNotFound, Message: "the server could not find the requested resource"}}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("listing sandboxclaims: %w", missingAPI), "listing sandboxclaims: the server could not find the requested resource: the server does not serve the agent-sandbox v1beta1 APIs: is agent-sandbox installed? (check with: kubectl get crd sandboxclaims.extensions.agents.x-k8s.io)"},
		{apierrors.NewNotFound(gr, "x"), `sandboxclaims.extensions.agents.x-k8s.io "x" not found`},
		{apierrors.NewForbidden(gr, "", errors.New(`User "bob" cannot list resource "sandboxclaims" in API group "extensions.agents.x-k8s.io" in the namespace "default"`)),
			`sandboxclaims.extensions.agents.x-k8s.io is forbidden: User "bob" cannot list resource "sandboxclaims" in API group "extensions.agents.x-k8s.io" in the namespace "default" (ask a cluster admin for RBAC access; check with: kubectl auth can-i --list)`},
		{errString("line one\nline two"), "line one; line two"},
		// sandboxd's answers: its own, never the router's.
		{&sandbox.HTTPError{Op: "remove d", Status: 409, Code: "CONFLICT", Detail: "directory not empty", Server: "sandboxd", FromRuntime: true},
			"remove d: sandboxd answered 409 CONFLICT: directory not empty: use -r to remove a directory and what it holds"},
		{&sandbox.HTTPError{Op: "download ../x", Status: 403, Code: "PERMISSION_DENIED", Server: "sandboxd", FromRuntime: true},
			"download ../x: sandboxd answered 403 PERMISSION_DENIED: Forbidden: the path is outside the sandbox's root directory"},
		{&sandbox.HTTPError{Op: "download x", Status: 404, Code: "NOT_FOUND", Server: "sandboxd", FromRuntime: true},
			"download x: sandboxd answered 404 NOT_FOUND: Not Found: no such file or directory in the sandbox"},
		{&sandbox.HTTPError{Op: "list d", Status: 502, Server: "sandboxd", FromRuntime: true}, "list d: sandboxd answered 502 : Bad Gateway"},
	} {
		if got := describeError(tc.err, "get"); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}

// verbCtor makes a verb.
type verbCtor = func(Factory, genericiooptions.IOStreams) *cobra.Command

// apiCalls counts the calls made on every fake clientset of f.
func apiCalls(f *fakeFactory) []k8stesting.Action {
	var all []k8stesting.Action
	all = append(all, f.ext.Actions()...)
	all = append(all, f.agents.Actions()...)
	all = append(all, f.core.Actions()...)
	all = append(all, f.gateway.Actions()...)
	return all
}

type refusal struct {
	args []string
	want string // a prefix of the error
}

// checkRefused runs each case against an empty fake cluster and checks that
// it is refused with the error asked for, before any API call.
func checkRefused(t *testing.T, name string, newCmd verbCtor, cases []refusal) {
	t.Helper()
	for _, tc := range cases {
		f := newFakeFactory()
		res := runWith(t, f, newCmd, "", tc.args)
		if res.err == nil || !strings.HasPrefix(res.err.Error(), tc.want) {
			t.Errorf("%s %q: error %v\nwant %s", name, tc.args, res.err, tc.want)
		}
		if calls := apiCalls(f); len(calls) != 0 {
			t.Errorf("%s %q: invalid input reached the API: %v", name, tc.args, calls)
		}
		if res.out != "" {
			t.Errorf("%s %q: printed %q", name, tc.args, res.out)
		}
	}
}
