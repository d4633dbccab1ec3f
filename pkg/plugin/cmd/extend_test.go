package cmd

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
)

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
