package cmd

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/doctor"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
)

func TestDoctorValidation(t *testing.T) {
	checkRefused(t, "doctor", NewCmdDoctor, []refusal{
		{[]string{"--pool", "Bad_Pool"}, `invalid pool name "Bad_Pool"`},
		{[]string{"-o", "yaml"}, `invalid --output "yaml": only "json" is supported`},
		{[]string{"--probe-timeout", "0"}, "--probe-timeout must be positive"},
		{[]string{"--router-url", "http://x", "--gateway", "g"}, "--router-url and --gateway cannot be used together"},
		{[]string{"extra"}, `unknown command "extra"`},
	})
}

// TestDoctorHint: a problem's fix, in the namespace checked, as the hint
// beside its line; no problem, no hint. (Every problem has its fix: the
// doctor package cannot name one without it.)
func TestDoctorHint(t *testing.T) {
	for _, tc := range []struct {
		problem *doctor.Problem
		want    string
	}{
		{nil, ""},
		{doctor.Unreachable, " (fix: is the cluster reachable? check --context and --kubeconfig)"},
		{doctor.PoolsFilling, " (fix: pools fill as the controller starts sandboxes; if they stay short, check: kubectl get pods -n team)"},
		{doctor.UnhealthyPortForward, " (fix: deploy the sandbox router (Service sandbox-router-svc with a ready pod) in team or agent-sandbox-system, or set --router-namespace)"},
	} {
		if got := doctorHint(doctor.Result{Problem: tc.problem}, "team"); got != tc.want {
			t.Errorf("%v: hint %q, want %q", tc.problem, got, tc.want)
		}
	}
	// A router's refusal is explained as the verbs explain it.
	refused := routerRefusal(401, router.Credential{Identity: router.IdentityClientCert}, false)
	want := " (fix: the router asks for tokens (tokenreview mode requiring them, or scoped-token mode); give it one with --router-token-file: " +
		"a ServiceAccount's for tokenreview mode (kubectl create token NAME > FILE), one minted for the sandbox for scoped-token mode)"
	if got := doctorHint(doctor.Result{Problem: doctor.RouterRefused, Err: refused}, "team"); got != want {
		t.Errorf("refusal: hint %q\nwant %q", got, want)
	}
	if got, want := doctorHint(doctor.Result{Problem: doctor.RouterRefused}, "team"), " (fix: "+doctor.RouterRefused.Fix("team")+")"; got != want {
		t.Errorf("refusal without its error: hint %q, want %q", got, want)
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

// TestDoctorHelpProbe: --probe is a bare switch in the help (pflag takes a
// back-quoted word in a usage string for the flag's value).
func TestDoctorHelpProbe(t *testing.T) {
	usage := NewCmdDoctor(newFakeFactory(), genericiooptions.NewTestIOStreamsDiscard()).Flags().FlagUsages()
	if !regexp.MustCompile(`(?m)^ +--probe +Claim a sandbox, run 'true' in it and delete it$`).MatchString(usage) {
		t.Errorf("--probe in the help:\n%s", usage)
	}
}
