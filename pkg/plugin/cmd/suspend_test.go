package cmd

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/creack/pty"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
)

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

// suspendedSandbox is a Sandbox whose suspension the controller finished.
func suspendedSandbox(name string) *sandboxv1beta1.Sandbox {
	s := sandboxObj(name, "")
	s.Status.Conditions = []metav1.Condition{
		{Type: claims.ConditionSuspended, Status: metav1.ConditionTrue, Reason: "Suspended"},
		{Type: claims.ConditionReady, Status: metav1.ConditionFalse, Reason: claims.ReasonSandboxSuspended},
	}
	return s
}

// resumedSandbox is a Sandbox Ready again with the pod IPs of claimObj.
func resumedSandbox(name string) *sandboxv1beta1.Sandbox {
	s := sandboxObj(name, "")
	s.Status.Conditions = []metav1.Condition{{Type: claims.ConditionReady, Status: metav1.ConditionTrue, Reason: "DependenciesReady"}}
	s.Status.PodIPs = []string{"fd00::5", "10.0.0.5"}
	return s
}

func TestSuspendAndResumeWait(t *testing.T) {
	// The controller has already done its part: suspending finds the
	// Sandbox suspended, resuming finds it and the claim Ready.
	claim := claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady")
	for _, tc := range []struct {
		newCmd verbCtor
		objs   []runtime.Object
		out    string
	}{
		{NewCmdSuspend, []runtime.Object{claim, suspendedSandbox("sb-a")}, "sandboxclaim.extensions.agents.x-k8s.io/a suspended\n"},
		{NewCmdResume, []runtime.Object{claim, resumedSandbox("sb-a")}, "sandboxclaim.extensions.agents.x-k8s.io/a resumed\n"},
	} {
		f := newFakeFactory(tc.objs...)
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
	for _, tc := range []struct {
		newCmd      verbCtor
		done        *sandboxv1beta1.Sandbox
		status, out string
	}{
		{NewCmdSuspend, suspendedSandbox("sb-a"), "waiting for sandboxclaim/a to be suspended", "sandboxclaim.extensions.agents.x-k8s.io/a suspended\n"},
		{NewCmdResume, resumedSandbox("sb-a"), "waiting for sandboxclaim/a to become Ready", "sandboxclaim.extensions.agents.x-k8s.io/a resumed\n"},
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
		f := newFakeFactory(claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady"), tc.done)
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
