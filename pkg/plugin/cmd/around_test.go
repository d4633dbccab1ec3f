package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/doctor"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
)

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

func TestLogsValidation(t *testing.T) {
	checkRefused(t, "logs", NewCmdLogs, []refusal{
		{[]string{"c1", "--since", "5m", "--since-time", "2026-01-02T15:04:05Z"}, "only one of --since and --since-time may be used"},
		{[]string{"c1", "--since", "-5m"}, "--since must be positive"},
		{[]string{"c1", "--tail", "-2"}, "--tail must be -1 (all lines) or more"},
		{[]string{"c1", "--limit-bytes", "-1"}, "--limit-bytes must not be negative"},
		{[]string{"c1", "--since-time", "yesterday"}, `invalid --since-time "yesterday": use RFC3339, as in 2026-01-02T15:04:05Z`},
		{[]string{"c1", "--since-time", "2026-01-02 15:04:05"}, `invalid --since-time "2026-01-02 15:04:05"`},
		{[]string{"Bad_Name"}, `invalid claim name "Bad_Name"`},
		{[]string{"c1", "c2"}, "accepts 1 arg(s), received 2"},
	})
}

func TestParsePortSpec(t *testing.T) {
	for _, tc := range []struct {
		spec          string
		local, remote int
		ok            bool
	}{
		{"8080", 8080, 8080, true},
		{":8080", 0, 8080, true},
		{"0:80", 0, 80, true},
		{"8080:80", 8080, 80, true},
		{"65535", 65535, 65535, true},
		{"1:65535", 1, 65535, true},
		{"0", 0, 0, false},
		{"70000", 0, 0, false},
		{"a:b", 0, 0, false},
		{"a:80", 0, 0, false},
		{"80:", 0, 0, false},
		{"8080:0", 0, 0, false},
		{"-1:80", 0, 0, false},
		{"70000:80", 0, 0, false},
		{"1:2:3", 0, 0, false},
		{"", 0, 0, false},
		{":", 0, 0, false},
	} {
		local, remote, err := parsePortSpec(tc.spec)
		if (err == nil) != tc.ok || local != tc.local || remote != tc.remote {
			t.Errorf("parsePortSpec(%q) = %d, %d, %v; want %d, %d, ok %v", tc.spec, local, remote, err, tc.local, tc.remote, tc.ok)
		}
		want := fmt.Sprintf("invalid port %q: use [LOCAL_PORT:]REMOTE_PORT with ports 1-65535 (LOCAL_PORT may be empty or 0 for a free one)", tc.spec)
		if err != nil && err.Error() != want {
			t.Errorf("parsePortSpec(%q): error %q\nwant %q", tc.spec, err, want)
		}
	}
}

func TestExpandLocalhost(t *testing.T) {
	got := expandLocalhost([]string{"0.0.0.0", "localhost"})
	if len(got) < 2 || got[0] != "0.0.0.0" || got[1] != "127.0.0.1" || len(got) == 3 && got[2] != "::1" || len(got) > 3 {
		t.Errorf("expandLocalhost = %q", got)
	}
}

func TestPortForwardValidation(t *testing.T) {
	checkRefused(t, "port-forward", NewCmdPortForward, []refusal{
		{[]string{"c1", "0"}, `invalid port "0"`},
		{[]string{"c1", "8080", "70000"}, `invalid port "70000"`},
		{[]string{"c1", "a:b"}, `invalid port "a:b"`},
		{[]string{"c1", ""}, `invalid port ""`},
		{[]string{"c1", "8080", "--address", "example.com"}, `invalid --address "example.com": use an IP address or localhost`},
		{[]string{"c1", "8080", "--address", "127.0.0.1,nope"}, `invalid --address "nope"`},
		{[]string{"Bad_Name", "8080"}, `invalid claim name "Bad_Name"`},
		{[]string{"c1"}, "requires at least 2 arg(s), only received 1"},
	})
}

func TestProxyValidation(t *testing.T) {
	checkRefused(t, "proxy", NewCmdProxy, []refusal{
		{[]string{"c1", "0"}, `invalid port "0": must be 1-65535`},
		{[]string{"c1", "70000"}, `invalid port "70000": must be 1-65535`},
		{[]string{"c1", "x"}, `invalid port "x": must be 1-65535`},
		{[]string{"c1", "8000", "--port", "-1"}, "invalid --port -1: must be 0-65535"},
		{[]string{"c1", "8000", "--port", "70000"}, "invalid --port 70000: must be 0-65535"},
		{[]string{"c1", "8000", "--address", "example.com"}, `invalid --address "example.com": use an IP address or localhost`},
		{[]string{"Bad_Name", "8000"}, `invalid claim name "Bad_Name"`},
		{[]string{"c1", "8000", "--router-url", "ftp://x"}, `invalid --router-url "ftp://x"`},
		{[]string{"c1"}, "accepts 2 arg(s), received 1"},
	})
}

func TestSuspendAndResumeValidation(t *testing.T) {
	for name, newCmd := range map[string]verbCtor{"suspend": NewCmdSuspend, "resume": NewCmdResume} {
		checkRefused(t, name, newCmd, []refusal{
			{[]string{"Bad_Name"}, `invalid claim name "Bad_Name"`},
			{[]string{"c1", "c2", "Also-Bad_"}, `invalid claim name "Also-Bad_"`},
			{[]string{"c1", "--timeout", "0"}, "--timeout must be positive"},
			{[]string{"c1", "--timeout", "-1s"}, "--timeout must be positive"},
			{nil, "requires at least 1 arg(s), only received 0"},
		})
	}
}

func TestExtendValidation(t *testing.T) {
	checkRefused(t, "extend", NewCmdExtend, []refusal{
		{[]string{"c1"}, "give exactly one of --ttl and --until"},
		{[]string{"c1", "--ttl", "0s"}, "give exactly one of --ttl and --until"},
		{[]string{"c1", "--ttl", "1h", "--until", "2027-01-01T00:00:00Z"}, "give exactly one of --ttl and --until"},
		{[]string{"c1", "--ttl", "-1h"}, "invalid --ttl -1h0m0s: it must be positive (the expiry is now plus --ttl)"},
		{[]string{"c1", "--until", "2026-11-25T11:00:00Z"}, "refusing to set the expiry to 2026-11-25T11:00:00Z, which is not in the future"},
		{[]string{"c1", "--until", "2026-11-25T12:00:00Z"}, "refusing to set the expiry to 2026-11-25T12:00:00Z, which is not in the future"},
		{[]string{"c1", "--until", "2026-11-25T12:30:00+01:00"}, "refusing to set the expiry to 2026-11-25T11:30:00Z, which is not in the future"},
		{[]string{"c1", "--until", "tomorrow"}, `invalid --until "tomorrow": use RFC3339, as in 2026-01-02T15:04:05Z`},
		{[]string{"Bad_Name", "--ttl", "1h"}, `invalid claim name "Bad_Name"`},
		{nil, "requires at least 1 arg(s), only received 0"},
	})
}

func TestDoctorValidation(t *testing.T) {
	checkRefused(t, "doctor", NewCmdDoctor, []refusal{
		{[]string{"--pool", "Bad_Pool"}, `invalid pool name "Bad_Pool"`},
		{[]string{"-o", "yaml"}, `invalid --output "yaml": only "json" is supported`},
		{[]string{"--probe-timeout", "0"}, "--probe-timeout must be positive"},
		{[]string{"--router-url", "http://x", "--gateway", "g"}, "--router-url and --gateway cannot be used together"},
		{[]string{"extra"}, `unknown command "extra"`},
	})
}

// doctorProblems reads every Problem doctor.go can report out of its
// source: the literal ones, and "unreachable-"/"unhealthy-" + each way the
// router check is called with.
func doctorProblems(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("../doctor/doctor.go")
	if err != nil {
		t.Fatal(err)
	}
	var hows []string
	for _, m := range regexp.MustCompile(`checkRouter\([^\n]*, "([a-z-]+)"\)\n`).FindAllSubmatch(src, -1) {
		hows = append(hows, string(m[1]))
	}
	if len(hows) != 3 {
		t.Fatalf("found the router checked %d ways (%q), want port-forward, gateway and url", len(hows), hows)
	}
	seen := map[string]bool{}
	var problems []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			problems = append(problems, p)
		}
	}
	for _, m := range regexp.MustCompile(`Problem:\s*"([a-z-]+)"(\s*\+\s*how)?`).FindAllSubmatch(src, -1) {
		if len(m[2]) == 0 {
			add(string(m[1]))
			continue
		}
		for _, how := range hows {
			add(string(m[1]) + how)
		}
	}
	if len(problems) < 20 {
		t.Fatalf("found only %d problems in doctor.go: %q", len(problems), problems)
	}
	return problems
}

// TestDoctorHintCoversEveryProblem: every problem a check can report has a
// fix.
func TestDoctorHintCoversEveryProblem(t *testing.T) {
	for _, p := range doctorProblems(t) {
		h := doctorHint(doctor.Result{Problem: p}, "team")
		if !strings.HasPrefix(h, " (fix: ") || !strings.HasSuffix(h, ")") || len(h) < len(" (fix: x)") {
			t.Errorf("problem %q has no hint (%q)", p, h)
		}
	}
	if h := doctorHint(doctor.Result{}, "team"); h != "" {
		t.Errorf("no problem, hint %q", h)
	}
	if h := doctorHint(doctor.Result{Problem: "pools-filling"}, "team"); !strings.Contains(h, "kubectl get pods -n team") {
		t.Errorf("pools-filling hint %q does not name the namespace", h)
	}
}

// TestDoctorRunAgainstAnUnreachableCluster: the API server check fails
// first, with its fix, and nothing else runs; -o json says the same.
func TestDoctorRunAgainstAnUnreachableCluster(t *testing.T) {
	res := runWith(t, newFakeFactory(), NewCmdDoctor, "", nil)
	var failed *errDoctorFailed
	if !errors.As(res.err, &failed) || res.err.Error() != "1 check(s) failed" {
		t.Fatalf("error %v, want 1 check failed", res.err)
	}
	if !strings.HasPrefix(res.out, "FAIL  api                 ") || strings.Count(res.out, "\n") != 1 ||
		!strings.HasSuffix(res.out, " (fix: is the cluster reachable? check --context and --kubeconfig)\n") {
		t.Errorf("output %q", res.out)
	}
	res = runWith(t, newFakeFactory(), NewCmdDoctor, "", []string{"-o", "json"})
	var lines []map[string]any
	if err := json.Unmarshal([]byte(res.out), &lines); err != nil {
		t.Fatalf("output %q: %v", res.out, err)
	}
	if len(lines) != 1 || lines[0]["check"] != "api" || lines[0]["status"] != "fail" || lines[0]["problem"] != "unreachable" ||
		lines[0]["hint"] != " (fix: is the cluster reachable? check --context and --kubeconfig)" {
		t.Errorf("json %v", lines)
	}
	if _, ok := lines[0]["tookMs"]; !ok {
		t.Errorf("json %v has no tookMs", lines)
	}
}

// patchesOf returns the patch actions a fake saw.
func patchesOf(actions []k8stesting.Action) []k8stesting.PatchActionImpl {
	var ps []k8stesting.PatchActionImpl
	for _, a := range actions {
		if p, ok := a.(k8stesting.PatchActionImpl); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

func TestExtendRun(t *testing.T) {
	objs := []runtime.Object{claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady"),
		claimObj("b", "python", "sb-b", testNow, metav1.ConditionTrue, "DependenciesReady")}
	for _, tc := range []struct {
		args  []string
		out   string
		patch string
	}{
		{[]string{"a", "--ttl", "2h"}, "sandboxclaim.extensions.agents.x-k8s.io/a expires at 2026-11-25T14:00:00Z (in 120m)\n", "2026-11-25T14:00:00Z"},
		{[]string{"a", "--ttl", "5h"}, "sandboxclaim.extensions.agents.x-k8s.io/a expires at 2026-11-25T17:00:00Z (in 5h)\n", "2026-11-25T17:00:00Z"},
		{[]string{"a", "--until", "2026-11-25T14:30:00+01:00"}, "sandboxclaim.extensions.agents.x-k8s.io/a expires at 2026-11-25T13:30:00Z (in 90m)\n", "2026-11-25T13:30:00Z"},
	} {
		res, ext := run(t, NewCmdExtend, tc.args, objs...)
		if res.err != nil || res.out != tc.out {
			t.Errorf("%q: %+v\nwant out %q", tc.args, res, tc.out)
		}
		ps := patchesOf(ext.Actions())
		want := `{"spec":{"lifecycle":{"shutdownTime":"` + tc.patch + `"}}}`
		if len(ps) != 1 || string(ps[0].GetPatch()) != want || ps[0].GetPatchType() != types.MergePatchType || ps[0].GetName() != "a" {
			t.Errorf("%q: patches %v, want %s of a", tc.args, ps, want)
		}
		c, err := ext.ExtensionsV1beta1().SandboxClaims("default").Get(context.Background(), "a", metav1.GetOptions{})
		if err != nil || c.Spec.Lifecycle == nil || c.Spec.Lifecycle.ShutdownTime.UTC().Format(time.RFC3339) != tc.patch {
			t.Errorf("%q: claim %+v, %v", tc.args, c, err)
		}
	}
	// Each claim in turn; a missing one stops it.
	res, ext := run(t, NewCmdExtend, []string{"b", "missing", "a", "--ttl", "1h"}, objs...)
	if res.out != "sandboxclaim.extensions.agents.x-k8s.io/b expires at 2026-11-25T13:00:00Z (in 60m)\n" ||
		res.err == nil || res.err.Error() != `sandboxclaim "missing" not found in namespace "default"` {
		t.Errorf("%+v", res)
	}
	if ps := patchesOf(ext.Actions()); len(ps) != 2 {
		t.Errorf("patches %v, want b's and the missing one's", ps)
	}
}

// sandboxObj is Sandbox name in default, whose pod has the given name (""
// for its own).
func sandboxObj(name, pod string) *sandboxv1beta1.Sandbox {
	s := &sandboxv1beta1.Sandbox{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if pod != "" {
		s.Annotations = map[string]string{claims.PodNameAnnotation: pod}
	}
	return s
}

func TestSuspendAndResumeNoWait(t *testing.T) {
	objs := []runtime.Object{
		claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady"), sandboxObj("sb-a", ""),
		claimObj("b", "python", "sb-b", testNow, metav1.ConditionTrue, "DependenciesReady"), sandboxObj("sb-b", ""),
	}
	for _, tc := range []struct {
		newCmd     verbCtor
		mode, word string
	}{
		{NewCmdSuspend, "Suspended", "suspended"},
		{NewCmdResume, "Running", "resumed"},
	} {
		f := newFakeFactory(objs...)
		f.agents.ClearActions()
		res := runWith(t, f, tc.newCmd, "", []string{"a", "b", "--wait=false"})
		want := "sandboxclaim.extensions.agents.x-k8s.io/a " + tc.word + "\nsandboxclaim.extensions.agents.x-k8s.io/b " + tc.word + "\n"
		if res.err != nil || res.out != want {
			t.Errorf("%s: %+v\nwant %q", tc.word, res, want)
		}
		ps := patchesOf(f.agents.Actions())
		if len(ps) != 2 {
			t.Fatalf("%s: patches %v", tc.word, ps)
		}
		for i, p := range ps {
			if wantPatch := `{"spec":{"operatingMode":"` + tc.mode + `"}}`; string(p.GetPatch()) != wantPatch || p.GetPatchType() != types.MergePatchType ||
				p.GetName() != []string{"sb-a", "sb-b"}[i] || p.GetResource().Resource != "sandboxes" {
				t.Errorf("%s: patch %s %s of %s, want %s", tc.word, p.GetPatchType(), p.GetPatch(), p.GetName(), wantPatch)
			}
		}
	}
	// A claim with no sandbox stops it before the rest are patched.
	f := newFakeFactory(append(objs, claimObj("p", "python", "", testNow, metav1.ConditionFalse, "SandboxNotReady"))...)
	f.agents.ClearActions()
	res := runWith(t, f, NewCmdSuspend, "", []string{"p", "a", "--wait=false"})
	var noSandbox *claims.NoSandboxError
	if !errors.As(res.err, &noSandbox) || res.out != "" || len(patchesOf(f.agents.Actions())) != 0 {
		t.Errorf("%+v, patches %v", res, patchesOf(f.agents.Actions()))
	}
}

func TestSuspendAndResumeWait(t *testing.T) {
	// The controller has already done its part: suspending finds the
	// Sandbox suspended, resuming finds the claim Ready.
	done := sandboxObj("sb-a", "")
	done.Status.Conditions = []metav1.Condition{
		{Type: claims.ConditionSuspended, Status: metav1.ConditionTrue, Reason: "Suspended"},
		{Type: claims.ConditionReady, Status: metav1.ConditionFalse, Reason: claims.ReasonSandboxSuspended},
	}
	objs := []runtime.Object{claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady"), done}
	for _, tc := range []struct {
		newCmd verbCtor
		out    string
	}{
		{NewCmdSuspend, "sandboxclaim.extensions.agents.x-k8s.io/a suspended\n"},
		{NewCmdResume, "sandboxclaim.extensions.agents.x-k8s.io/a resumed\n"},
	} {
		f := newFakeFactory(objs...)
		f.agents.PrependWatchReactor("*", kubetest.NoStreamingList)
		res := runWith(t, f, tc.newCmd, "", []string{"a"})
		if res.err != nil || res.out != tc.out || res.errOut != "" {
			t.Errorf("%+v, want %q and nothing drawn off a terminal", res, tc.out)
		}
	}
	// A Sandbox that never reports Suspended, a claim that never becomes
	// Ready: the wait times out, and says after the --timeout given.
	for _, tc := range []struct {
		newCmd verbCtor
		ready  metav1.ConditionStatus
		want   string
	}{
		{NewCmdSuspend, metav1.ConditionTrue, `timed out after 50ms waiting for sandboxclaim "a" to be suspended`},
		{NewCmdResume, metav1.ConditionFalse, `timed out after 50ms waiting for sandboxclaim "a" to become Ready`},
	} {
		f := newFakeFactory(claimObj("a", "python", "sb-a", testNow, tc.ready, "SandboxNotReady"), sandboxObj("sb-a", ""))
		f.agents.PrependWatchReactor("*", kubetest.NoStreamingList)
		res := runWith(t, f, tc.newCmd, "", []string{"a", "--timeout", "50ms"})
		var te *claims.TimeoutError
		if !errors.As(res.err, &te) || res.out != "" || !strings.HasPrefix(res.err.Error(), tc.want) {
			t.Errorf("error %v\nwant  %s...", res.err, tc.want)
		}
	}
}

// sandboxPod is a Running pod with containers runtime and sidecar.
func sandboxPod(name string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "runtime"}, {Name: "sidecar"}}},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

// logOptions returns the options of each pods/log read (the fake records
// no pod name for them).
func logOptions(f *fakeFactory) []string {
	var got []string
	for _, a := range f.core.Actions() {
		if a.GetVerb() == "get" && a.GetSubresource() == "log" {
			g := a.(k8stesting.GenericActionImpl)
			o := g.Value.(*corev1.PodLogOptions)
			s := "container=" + o.Container
			if o.TailLines != nil {
				s += " tail=" + strconv.FormatInt(*o.TailLines, 10)
			}
			if o.SinceSeconds != nil {
				s += " since=" + strconv.FormatInt(*o.SinceSeconds, 10)
			}
			if o.SinceTime != nil {
				s += " since-time=" + o.SinceTime.UTC().Format(time.RFC3339)
			}
			if o.LimitBytes != nil {
				s += " limit=" + strconv.FormatInt(*o.LimitBytes, 10)
			}
			if o.Follow {
				s += " follow"
			}
			if o.Timestamps {
				s += " timestamps"
			}
			if o.Previous {
				s += " previous"
			}
			got = append(got, a.GetNamespace()+" "+s)
		}
	}
	return got
}

// podGets names the pods read (not their logs).
func podGets(f *fakeFactory) []string {
	var got []string
	for _, a := range f.core.Actions() {
		if g, ok := a.(k8stesting.GetActionImpl); ok && g.GetResource().Resource == "pods" && g.GetSubresource() == "" {
			got = append(got, g.GetName())
		}
	}
	return got
}

// podWatches lists the lists and watches of pods.
func podWatches(f *fakeFactory) []string {
	var got []string
	for _, a := range f.core.Actions() {
		if a.GetResource().Resource == "pods" && (a.GetVerb() == "watch" || a.GetVerb() == "list") {
			got = append(got, a.GetVerb())
		}
	}
	return got
}

func TestLogsRun(t *testing.T) {
	objs := []runtime.Object{
		claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady"), sandboxObj("sb-a", "warm-pod-1"),
		sandboxPod("warm-pod-1", corev1.PodRunning), sandboxPod("sb-a", corev1.PodRunning),
	}
	for _, tc := range []struct {
		args []string
		opts string
	}{
		{[]string{"a"}, "container=runtime"},
		{[]string{"a", "-c", "sidecar", "--tail", "10", "--timestamps", "-f"}, "container=sidecar tail=10 follow timestamps"},
		{[]string{"a", "--since", "90s", "--limit-bytes", "100", "-p"}, "container=runtime since=90 limit=100 previous"},
		{[]string{"a", "--since-time", "2026-11-25T10:00:00+01:00", "--tail", "0"}, "container=runtime tail=0 since-time=2026-11-25T09:00:00Z"},
	} {
		f := newFakeFactory(objs...)
		res := runWith(t, f, NewCmdLogs, "", tc.args)
		if res.err != nil || res.out != "fake logs" {
			t.Errorf("%q: %+v", tc.args, res)
		}
		if got := logOptions(f); len(got) != 1 || got[0] != "default "+tc.opts {
			t.Errorf("%q: log reads %q, want one with %s", tc.args, got, tc.opts)
		}
		// The adopted pod the Sandbox names, not a pod of its own name.
		if got := podGets(f); len(got) != 1 || got[0] != "warm-pod-1" {
			t.Errorf("%q: pods read %q, want warm-pod-1", tc.args, got)
		}
		// Without -f, nothing watches the pod.
		if got := podWatches(f); !slices.Contains(tc.args, "-f") && len(got) != 0 {
			t.Errorf("%q: %v, want no pod watch without -f", tc.args, got)
		}
	}
	t.Run("an unknown container", func(t *testing.T) {
		f := newFakeFactory(objs...)
		res := runWith(t, f, NewCmdLogs, "", []string{"a", "-c", "nope"})
		if res.err == nil || res.err.Error() != `container "nope" is not in pod warm-pod-1 of sandboxclaim "a" (it has: runtime, sidecar)` {
			t.Errorf("%+v", res)
		}
		if got := logOptions(f); len(got) != 0 {
			t.Errorf("logs read: %q", got)
		}
	})
	t.Run("a suspended sandbox", func(t *testing.T) {
		suspended := sandboxObj("sb-a", "")
		suspended.Spec.OperatingMode = sandboxv1beta1.SandboxOperatingModeSuspended
		res, _ := run(t, NewCmdLogs, []string{"a"}, objs[0], suspended)
		var noPod *claims.NoPodError
		if !errors.As(res.err, &noPod) || !noPod.Suspended || res.err.Error() != `sandbox sb-a of sandboxclaim "a" is suspended: it has no pod` {
			t.Errorf("%+v", res)
		}
	})
	t.Run("the log read fails", func(t *testing.T) {
		f := newFakeFactory(objs...)
		f.core.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() == "log" {
				return true, nil, errors.New("container runtime is not running")
			}
			return false, nil, nil
		})
		res := runWith(t, f, NewCmdLogs, "", []string{"a"})
		// The fake wraps the error in a URL error.
		if res.err == nil || !strings.HasPrefix(res.err.Error(), "logs of pod warm-pod-1: ") ||
			!strings.HasSuffix(res.err.Error(), ": container runtime is not running") || res.out != "" {
			t.Errorf("%+v: %v", res, res.err)
		}
	})
	t.Run("an unknown claim", func(t *testing.T) {
		res, _ := run(t, NewCmdLogs, []string{"zz"}, objs...)
		var nf *claims.NotFoundError
		if !errors.As(res.err, &nf) {
			t.Errorf("%+v", res)
		}
	})
}

// lines is a writer that hands each write (a verb prints a line at a time)
// to the test.
type lines chan string

func (l lines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

// started is a verb running in the background until stop is called.
type started struct {
	out, errOut lines
	cancel      context.CancelFunc
	done        chan error
}

// start runs a verb with a cancellable context.
func start(t *testing.T, f Factory, newCmd verbCtor, args []string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	return startCtx(t, ctx, cancel, f, newCmd, args)
}

// startCtx runs a verb with ctx, which cancel ends.
func startCtx(t *testing.T, ctx context.Context, cancel context.CancelFunc, f Factory, newCmd verbCtor, args []string) *started {
	t.Helper()
	s := &started{out: make(lines, 16), errOut: make(lines, 16), cancel: cancel, done: make(chan error, 1)}
	cmd := newCmd(f, genericiooptions.IOStreams{In: strings.NewReader(""), Out: s.out, ErrOut: s.errOut})
	cmd.SetArgs(args)
	cmd.SetOut(s.out)
	cmd.SetErr(s.errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	go func() { s.done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(cancel)
	return s
}

// line is the verb's next output line, or its early end.
func (s *started) line(t *testing.T) string {
	t.Helper()
	select {
	case l := <-s.out:
		return l
	case err := <-s.done:
		t.Fatalf("the verb ended before printing: %v", err)
	}
	return ""
}

// stop cancels the verb and returns its error.
func (s *started) stop() error {
	s.cancel()
	return <-s.done
}

// freePort is a local port nothing listens on (just now).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestProxyRun(t *testing.T) {
	f, r, routerArgs := dataPlane(t)
	port := freePort(t)
	v := start(t, f, NewCmdProxy, append([]string{"a", "8000", "--port", strconv.Itoa(port), "--router-token", "s3cret"}, routerArgs...))
	if got, want := v.line(t), fmt.Sprintf("Serving sandboxclaim a port 8000 on http://127.0.0.1:%d/\n", port); got != want {
		t.Fatalf("printed %q, want %q", got, want)
	}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/exists/some/file", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer the-user's-own")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"exists":false`) {
		t.Errorf("answer %s %s", resp.Status, body)
	}
	reqs := r.Requests()
	if len(reqs) != 1 {
		t.Fatalf("router saw %d requests", len(reqs))
	}
	h := reqs[0].Header
	if reqs[0].Path != "/exists/some/file" || h.Get("X-Sandbox-Port") != "8000" || h.Get("X-Sandbox-ID") != "sb-a" ||
		h.Get("X-Sandbox-Namespace") != "default" || h.Get("Authorization") != "Bearer s3cret" {
		t.Errorf("router saw %s with %v", reqs[0].Path, h)
	}
	if err := v.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("the verb returned %v, want %v", err, context.Canceled)
	}
	if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
		c.Close()
		t.Error("the proxy still listens after it returned")
	}
	// A local port already taken.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	res := runWith(t, f, NewCmdProxy, "", append([]string{"a", "8000", "--port", strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)}, routerArgs...))
	if res.err == nil || !strings.HasPrefix(res.err.Error(), "listening on "+addr+": ") || res.out != "" {
		t.Errorf("%+v", res)
	}
	// A claim that is not Ready is refused before anything listens.
	res = runWith(t, f, NewCmdProxy, "", append([]string{"p", "8000"}, routerArgs...))
	if res.err == nil || res.err.Error() != `sandboxclaim "p" is not Ready (SandboxNotReady)` || res.out != "" {
		t.Errorf("%+v", res)
	}
}

// coreWithRealREST is a fake core client whose RESTClient is real: the
// port-forward URL is built from it.
type coreWithRealREST struct {
	corev1client.CoreV1Interface
	rest rest.Interface
}

func (c coreWithRealREST) RESTClient() rest.Interface { return c.rest }

// forwardingFactory is a fake cluster whose port-forwards go to an API
// server for tests.
type forwardingFactory struct {
	*fakeFactory
	clients *kube.Clients
}

func (f forwardingFactory) Clients() (*kube.Clients, error) { return f.clients, nil }

func newForwardingFactory(t *testing.T, srv *podforwardtest.APIServer, objs ...runtime.Object) forwardingFactory {
	t.Helper()
	f := newFakeFactory(objs...)
	clients, _ := f.Clients()
	cfg := &rest.Config{Host: srv.URL}
	real, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clients.Config, clients.Core = cfg, coreWithRealREST{clients.Core, real.RESTClient()}
	return forwardingFactory{f, clients}
}

func TestPortForwardRun(t *testing.T) {
	srv := podforwardtest.NewAPIServer(t, func(port string, conn io.ReadWriter) {
		fmt.Fprintf(conn, "pod port %s\n", port)
	})
	objs := []runtime.Object{claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady"), sandboxObj("sb-a", ""),
		sandboxPod("sb-a", corev1.PodRunning)}
	f := newForwardingFactory(t, srv, objs...)
	v := start(t, f, NewCmdPortForward, []string{"a", ":8080", "0:9090", "--address", "127.0.0.1"})
	re := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:([0-9]+) -> ([0-9]+)\n$`)
	for _, remote := range []string{"8080", "9090"} {
		l := v.line(t)
		m := re.FindStringSubmatch(l)
		if m == nil || m[2] != remote {
			t.Fatalf("printed %q, want a forward to %s", l, remote)
		}
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", m[1]))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != "pod port "+remote+"\n" {
			t.Errorf("local port %s reached %q, %v; want pod port %s", m[1], got, err, remote)
		}
	}
	if err := v.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("the verb returned %v, want %v", err, context.Canceled)
	}
	<-srv.Ended
	if got := srv.Requests(); len(got) != 2 || got[1] != "POST /api/v1/namespaces/default/pods/sb-a/portforward spdy/3.1" {
		t.Errorf("requests %q", got)
	}
}

func TestPortForwardNeedsARunningPod(t *testing.T) {
	claim := claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady")
	res, _ := run(t, NewCmdPortForward, []string{"a", "8080"}, claim, sandboxObj("sb-a", ""), sandboxPod("sb-a", corev1.PodPending))
	if res.err == nil || res.err.Error() != `pod sb-a of sandboxclaim "a" is Pending, not Running` || res.out != "" {
		t.Errorf("%+v", res)
	}
	res, _ = run(t, NewCmdPortForward, []string{"a", "8080"}, claim, sandboxObj("sb-a", ""))
	var noPod *claims.NoPodError
	if !errors.As(res.err, &noPod) || noPod.Suspended {
		t.Errorf("%+v", res)
	}
}

// pipeLogs opens log streams that the test writes through the writers sent
// on streams, and that end when their context does: the API server's
// stream, for a pod the server says still runs (kwok's stub always does).
func pipeLogs(streams chan<- *io.PipeWriter) func(context.Context, corev1client.PodsGetter, *corev1.Pod, *corev1.PodLogOptions) (io.ReadCloser, error) {
	return func(ctx context.Context, _ corev1client.PodsGetter, _ *corev1.Pod, _ *corev1.PodLogOptions) (io.ReadCloser, error) {
		r, w := io.Pipe()
		context.AfterFunc(ctx, func() { w.CloseWithError(context.Cause(ctx)) })
		streams <- w
		return r, nil
	}
}

// logsWith is the logs verb with open as its log streams and no drain time.
func logsWith(open func(context.Context, corev1client.PodsGetter, *corev1.Pod, *corev1.PodLogOptions) (io.ReadCloser, error)) verbCtor {
	return func(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
		o := newLogsOptions(f, streams)
		o.OpenLogs, o.Drain = open, 0
		return newLogsCommand(o)
	}
}

// livePod is a Running pod with containers runtime and sidecar, a UID and a
// resourceVersion (a watch from a resourceVersion needs one in each event).
func livePod(name, uid, rv string) *corev1.Pod {
	p := sandboxPod(name, corev1.PodRunning)
	p.UID, p.ResourceVersion = types.UID(uid), rv
	return p
}

// following starts `logs a -f` against a claim whose sandbox's pod is
// warm-pod-1 (uid-1), next to another pod, with the log stream and the pod
// watch in the test's hands.
func following(t *testing.T, ctx context.Context, cancel context.CancelFunc) (*started, *io.PipeWriter, *watch.FakeWatcher) {
	t.Helper()
	f := newFakeFactory(claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady"), sandboxObj("sb-a", "warm-pod-1"),
		livePod("warm-pod-1", "uid-1", "5"), livePod("other", "uid-2", "6"))
	reactor, watchers := kubetest.DrivenWatches()
	f.core.PrependWatchReactor("pods", reactor)
	streams := make(chan *io.PipeWriter, 1)
	v := startCtx(t, ctx, cancel, f, logsWith(pipeLogs(streams)), []string{"a", "-f"})
	var stream *io.PipeWriter
	var w *watch.FakeWatcher
	for stream == nil || w == nil {
		select {
		case stream = <-streams:
		case w = <-watchers:
		case err := <-v.done:
			t.Fatalf("the follow ended before it began: %v", err)
		case <-time.After(hang):
			t.Fatalf("no log stream (%v) or no pod watch (%v) after %s", stream != nil, w != nil, hang)
		}
	}
	writeLine(t, v, stream, "line 1\n")
	return v, stream, w
}

// writeLine writes a line to the log stream and checks the verb prints it.
func writeLine(t *testing.T, v *started, stream *io.PipeWriter, line string) {
	t.Helper()
	if _, err := io.WriteString(stream, line); err != nil {
		t.Fatalf("the log stream ended before %q: %v", line, err)
	}
	if got := v.line(t); got != line {
		t.Fatalf("printed %q, want %q", got, line)
	}
}

// hang is how long a test waits for a verb that should end before it
// fails instead of hanging.
const hang = 10 * time.Second

// ended is the verb's error once it ends; one that goes on fails the test.
func (s *started) ended(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(hang):
		t.Fatalf("the verb did not end within %s", hang)
	}
	return nil
}

// sendEvents sends evs to the pod watch; the follow ending before the last
// is received fails the test. The watch passes one event on at a time, so
// once the last is received the ones before it were looked at, and did not
// end the follow. (A follow that ends stops the watch: a send then panics,
// recovered here.)
func sendEvents(t *testing.T, v *started, w *watch.FakeWatcher, evs ...watch.Event) {
	t.Helper()
	sent := make(chan struct{})
	go func() {
		defer func() { _ = recover() }()
		for _, ev := range evs {
			w.Action(ev.Type, ev.Object)
		}
		close(sent)
	}()
	select {
	case <-sent:
	case err := <-v.done:
		v.done <- err
		t.Fatalf("the follow ended (%v) on a change that is not its pod's going", err)
	case <-time.After(hang):
		t.Fatalf("the pod watch took no events within %s", hang)
	}
}

// TestLogsFollowEndsWhenThePodGoes: `logs -f` ends, printing what arrived
// and with no error, when its pod is deleted, replaced by a new pod of the
// same name, or ends; not when another pod is deleted or its pod changes.
func TestLogsFollowEndsWhenThePodGoes(t *testing.T) {
	succeeded := livePod("warm-pod-1", "uid-1", "10")
	succeeded.Status.Phase = corev1.PodSucceeded
	for _, tc := range []struct {
		name string
		end  watch.Event
	}{
		{"deleted", watch.Event{Type: watch.Deleted, Object: livePod("warm-pod-1", "uid-1", "10")}},
		{"replaced", watch.Event{Type: watch.Added, Object: livePod("warm-pod-1", "uid-9", "10")}},
		{"succeeded", watch.Event{Type: watch.Modified, Object: succeeded}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			v, stream, w := following(t, ctx, cancel)
			changed := livePod("warm-pod-1", "uid-1", "8")
			changed.Labels = map[string]string{"seen": "yes"}
			sendEvents(t, v, w,
				watch.Event{Type: watch.Deleted, Object: livePod("other", "uid-2", "7")},
				watch.Event{Type: watch.Modified, Object: changed},
				watch.Event{Type: watch.Modified, Object: livePod("warm-pod-1", "uid-1", "9")})
			writeLine(t, v, stream, "line 2\n")
			w.Action(tc.end.Type, tc.end.Object)
			if err := v.ended(t); err != nil {
				t.Errorf("the follow ended with %v, want none", err)
			}
			select {
			case l := <-v.out:
				t.Errorf("printed %q after the end", l)
			default:
			}
			if _, err := io.WriteString(stream, "line 3\n"); err == nil {
				t.Error("the log stream is still open")
			}
		})
	}
}

// TestLogsFollowInterrupted: Ctrl-C ends a follow with the interruption (the
// exit code is 130 from it), not as the pod's going.
func TestLogsFollowInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	v, _, _ := following(t, ctx, func() { cancel(nil) })
	cancel(&Interrupt{Signal: syscall.SIGINT})
	var sig *Interrupt
	if err := v.ended(t); !errors.As(err, &sig) || sig.Signal != syscall.SIGINT {
		t.Errorf("the follow ended with %v, want the interruption", err)
	}
}

// TestSuspendAndResumeUnknownClaim: the usual not-found error, and nothing
// patched.
func TestSuspendAndResumeUnknownClaim(t *testing.T) {
	for name, newCmd := range map[string]verbCtor{"suspend": NewCmdSuspend, "resume": NewCmdResume} {
		f := newFakeFactory(claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady"), sandboxObj("sb-a", ""))
		f.agents.ClearActions()
		res := runWith(t, f, newCmd, "", []string{"zz"})
		var nf *claims.NotFoundError
		if !errors.As(res.err, &nf) || res.err.Error() != `sandboxclaim "zz" not found in namespace "default"` || res.out != "" {
			t.Errorf("%s: %+v", name, res)
		}
		if ps := patchesOf(f.agents.Actions()); len(ps) != 0 {
			t.Errorf("%s: patched %v", name, ps)
		}
	}
}

// TestSuspendAndResumeShowProgressOnATerminal: while they wait, suspend and
// resume draw create's spinner on stderr when it is a terminal, and erase
// it before printing the result.
func TestSuspendAndResumeShowProgressOnATerminal(t *testing.T) {
	done := sandboxObj("sb-a", "")
	done.Status.Conditions = []metav1.Condition{
		{Type: claims.ConditionSuspended, Status: metav1.ConditionTrue, Reason: "Suspended"},
		{Type: claims.ConditionReady, Status: metav1.ConditionFalse, Reason: claims.ReasonSandboxSuspended},
	}
	for _, tc := range []struct {
		newCmd      verbCtor
		status, out string
	}{
		{NewCmdSuspend, "waiting for sandboxclaim/a to be suspended", "sandboxclaim.extensions.agents.x-k8s.io/a suspended\n"},
		{NewCmdResume, "waiting for sandboxclaim/a to become Ready", "sandboxclaim.extensions.agents.x-k8s.io/a resumed\n"},
	} {
		master, tty, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		drawn := make(chan string)
		go func() {
			var all strings.Builder
			_, _ = io.Copy(&all, master) // ends when the tty side is closed
			drawn <- all.String()
		}()
		f := newFakeFactory(claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady"), done.DeepCopy())
		f.agents.PrependWatchReactor("*", kubetest.NoStreamingList)
		var out strings.Builder
		cmd := tc.newCmd(f, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: tty})
		cmd.SetArgs([]string{"a"})
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err = cmd.ExecuteContext(context.Background())
		tty.Close()
		got := <-drawn
		master.Close()
		if err != nil || out.String() != tc.out {
			t.Errorf("%v, printed %q; want %q", err, out.String(), tc.out)
		}
		if !strings.HasPrefix(got, "\r\033[K⠋ "+tc.status) || !strings.HasSuffix(got, "\r\033[K") {
			t.Errorf("terminal output %q, want a spinner saying %q, then erased", got, tc.status)
		}
	}
}
