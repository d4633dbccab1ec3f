//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const claimRes = "sandboxclaim.extensions.agents.x-k8s.io"

// jsonpath reads one field of a claim with the real kubectl.
func jsonpath(t *testing.T, claim, path string) string {
	t.Helper()
	return Kubectl(t, "get", "sandboxclaim", claim, "-o", "jsonpath="+path).RunOrFail().Stdout
}

// cleanupClaim deletes a claim when the test ends, whatever happened.
func cleanupClaim(t *testing.T, name string) {
	t.Cleanup(func() { Kubectl(t, "delete", "sandboxclaim", name, "--ignore-not-found", "--wait=false").Run() })
}

func TestCreateWarmAdoption(t *testing.T) {
	cleanupClaim(t, "e2e-warm")
	res := Sandbox(t, "create", "e2e-warm", "--pool", "python").RunOrFail()
	sandbox := jsonpath(t, "e2e-warm", "{.status.sandbox.name}")
	want := fmt.Sprintf("%s/e2e-warm created\n%s/e2e-warm ready (sandbox %s)\n", claimRes, claimRes, sandbox)
	if res.Stdout != want {
		t.Fatalf("stdout %q, want %q", res.Stdout, want)
	}
	if sandbox == "e2e-warm" || !strings.HasPrefix(sandbox, "python-") {
		t.Fatalf("claim on the warm pool got sandbox %q; want an adopted python-xxxxx", sandbox)
	}
	if got := jsonpath(t, "e2e-warm", `{.metadata.labels.agents\.x-k8s\.io/created-by}`); got != "kubectl-sandbox" {
		t.Errorf("created-by label %q", got)
	}
	if got := jsonpath(t, "e2e-warm", `{.metadata.annotations.agents\.x-k8s\.io/client-first-requested-at}`); got == "" {
		t.Error("client-first-requested-at annotation missing")
	}
	wide := Sandbox(t, "get", "e2e-warm", "-o", "wide").RunOrFail().Stdout
	if !regexp.MustCompile(`e2e-warm\s+python\s+python\s+True\s+DependenciesReady\s+` + sandbox + `\s+\S+\s+10\.244\.0\.\d+\s+warm\s+<none>`).MatchString(wide) {
		t.Errorf("get -o wide:\n%s", wide)
	}
}

func TestCreateColdWithGeneratedName(t *testing.T) {
	res := Sandbox(t, "create", "--pool", "python-cold", "-o", "name").RunOrFail()
	m := regexp.MustCompile(`^` + regexp.QuoteMeta(claimRes) + `/(sandbox-claim-[a-z0-9]{5})\n$`).FindStringSubmatch(res.Stdout)
	if m == nil {
		t.Fatalf("stdout %q", res.Stdout)
	}
	cleanupClaim(t, m[1])
	if got := jsonpath(t, m[1], "{.status.sandbox.name}"); got != m[1] {
		t.Errorf("cold start: sandbox %q, want the claim name %q", got, m[1])
	}
	if got := jsonpath(t, m[1], `{.status.conditions[?(@.type=="Ready")].status}`); got != "True" {
		t.Errorf("Ready=%q", got)
	}
}

func TestCreateFromTemplate(t *testing.T) {
	cleanupClaim(t, "e2e-tpl")
	Sandbox(t, "create", "e2e-tpl", "--template", "python").RunOrFail()
	// Both pools serve "python"; the one with more ready replicas wins.
	if got := jsonpath(t, "e2e-tpl", "{.spec.warmPoolRef.name}"); got != "python" {
		t.Errorf("pool %q, want python", got)
	}
	res := Sandbox(t, "create", "e2e-none", "--template", "ruby").Run()
	want := `error: no SandboxWarmPool in namespace "default" uses SandboxTemplate "ruby"; pools: python (template python), python-cold (template python), python-gvisor (template python-gvisor), sandboxd (template sandboxd), sandboxd-cold (template sandboxd), sandboxd-gvisor (template sandboxd-gvisor), shadow-pool-python (template python); templates: python, python-gvisor, sandboxd, sandboxd-gvisor; check the template name, or use --pool` + "\n"
	if res.ExitCode != 1 || res.Stderr != want {
		t.Fatalf("exit %d stderr %q\nwant %q", res.ExitCode, res.Stderr, want)
	}
	if out := Kubectl(t, "get", "sandboxclaim", "e2e-none", "--ignore-not-found").RunOrFail().Stdout; out != "" {
		t.Errorf("a failed create left %q", out)
	}
}

func TestCreateUnknownPoolFailsFastAndLeavesNothing(t *testing.T) {
	res := Sandbox(t, "create", "e2e-nopool", "--pool", "nope", "--timeout", "2m").Run()
	if res.ExitCode != 1 || !strings.Contains(res.Stderr, `error: sandboxclaim "e2e-nopool" failed: WarmPoolNotFound: SandboxWarmPool "nope" not found (sandboxclaim "e2e-nopool" was deleted)`) {
		t.Fatalf("exit %d stderr %q", res.ExitCode, res.Stderr)
	}
	Sandbox(t, "wait", "e2e-nopool", "--for=delete", "--timeout=30s").RunOrFail()
}

func TestTTLIsEnforcedByTheController(t *testing.T) {
	cleanupClaim(t, "e2e-ttl")
	Sandbox(t, "create", "e2e-ttl", "--pool", "python-cold", "--ttl", "15s").RunOrFail()
	if got := jsonpath(t, "e2e-ttl", "{.spec.lifecycle.shutdownPolicy}"); got != "Delete" {
		t.Errorf("shutdownPolicy %q", got)
	}
	if got := jsonpath(t, "e2e-ttl", "{.spec.lifecycle.shutdownTime}"); got == "" {
		t.Error("no shutdownTime")
	}
	Sandbox(t, "wait", "e2e-ttl", "--for=delete", "--timeout=60s").RunOrFail()
}

func TestDryRunManifestApplies(t *testing.T) {
	cleanupClaim(t, "e2e-dry")
	manifest := Sandbox(t, "create", "e2e-dry", "--pool", "python", "--ttl", "1h", "--dry-run=client", "-o", "yaml").RunOrFail().Stdout
	if out := Kubectl(t, "get", "sandboxclaim", "e2e-dry", "--ignore-not-found").RunOrFail().Stdout; out != "" {
		t.Fatalf("--dry-run=client created the claim: %q", out)
	}
	Kubectl(t, "apply", "-f", "-").WithStdin(bytes.NewBufferString(manifest)).RunOrFail()
	res := Sandbox(t, "wait", "e2e-dry", "--for=condition=Ready", "--timeout=60s").RunOrFail()
	if res.Stdout != claimRes+"/e2e-dry condition met\n" {
		t.Errorf("wait stdout %q", res.Stdout)
	}
	server := Sandbox(t, "create", "e2e-dry2", "--pool", "python", "--dry-run=server").RunOrFail()
	if server.Stdout != claimRes+"/e2e-dry2 created (server dry run)\n" {
		t.Errorf("server dry run stdout %q", server.Stdout)
	}
}

func TestGetDescribeWaitDelete(t *testing.T) {
	cleanupClaim(t, "e2e-gd")
	Sandbox(t, "create", "e2e-gd", "--pool", "python", "-l", "e2e=gd").RunOrFail()
	table := Sandbox(t, "get", "-l", "e2e=gd").RunOrFail().Stdout
	if !regexp.MustCompile(`^NAME\s+POOL\s+TEMPLATE\s+READY\s+REASON\s+SANDBOX\s+AGE\ne2e-gd\s+python\s+python\s+True\s+DependenciesReady\s+python-\S+\s+\S+\n$`).MatchString(table) {
		t.Errorf("get table:\n%s", table)
	}
	if out := Sandbox(t, "get", "-l", "e2e=gd", "-o", "name").RunOrFail().Stdout; out != claimRes+"/e2e-gd\n" {
		t.Errorf("get -o name %q", out)
	}
	if out := Sandbox(t, "list", "-A", "-l", "e2e=gd", "--no-headers", "-o", "custom-columns=NS:.metadata.namespace,N:.metadata.name").RunOrFail().Stdout; out != "default   e2e-gd\n" {
		t.Errorf("custom-columns %q", out)
	}
	desc := Sandbox(t, "describe", "e2e-gd").RunOrFail().Stdout
	for _, want := range []string{"Name:         e2e-gd", "Pool:         python", "Sandbox:\n  Name:", "Launch:   warm", "Pod:\n  Name:", "Phase:  Running", "SandboxAdopted"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe lacks %q:\n%s", want, desc)
		}
	}
	pools := Sandbox(t, "pools").RunOrFail().Stdout
	if !regexp.MustCompile(`(?m)^python\s+python\s+\d/2\s+\S+$`).MatchString(pools) || !regexp.MustCompile(`(?m)^python-cold\s+python\s+0/0\s+\S+$`).MatchString(pools) {
		t.Errorf("pools:\n%s", pools)
	}
	if tpl := Sandbox(t, "templates", "-o", "name").RunOrFail().Stdout; tpl != "sandboxtemplate.extensions.agents.x-k8s.io/python\nsandboxtemplate.extensions.agents.x-k8s.io/python-gvisor\n"+
		"sandboxtemplate.extensions.agents.x-k8s.io/sandboxd\nsandboxtemplate.extensions.agents.x-k8s.io/sandboxd-gvisor\n" {
		t.Errorf("templates -o name %q", tpl)
	}
	sandbox := jsonpath(t, "e2e-gd", "{.status.sandbox.name}")
	del := Sandbox(t, "delete", "e2e-gd").RunOrFail()
	if del.Stdout != claimRes+` "e2e-gd" deleted`+"\n" {
		t.Errorf("delete stdout %q", del.Stdout)
	}
	if out := Kubectl(t, "get", "sandboxclaim", "e2e-gd", "--ignore-not-found").RunOrFail().Stdout; out != "" {
		t.Errorf("claim still there after delete --wait: %q", out)
	}
	// The Sandbox goes by cascade.
	Kubectl(t, "wait", "--for=delete", "sandbox/"+sandbox, "--timeout=60s").RunOrFail()
	if res := Sandbox(t, "delete", "e2e-gd").Run(); res.ExitCode != 1 || !strings.Contains(res.Stderr, `"e2e-gd" not found`) {
		t.Errorf("second delete: exit %d stderr %q", res.ExitCode, res.Stderr)
	}
	Sandbox(t, "delete", "e2e-gd", "--ignore-not-found").RunOrFail()
}

func TestRestrictedUserIsForbidden(t *testing.T) {
	rbac := `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: e2e-claim-reader, namespace: default}
rules:
- apiGroups: [extensions.agents.x-k8s.io]
  resources: [sandboxclaims, sandboxwarmpools, sandboxtemplates]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-claim-reader, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: e2e-claim-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: e2e-reader}
`
	Kubectl(t, "apply", "-f", "-").WithStdin(bytes.NewBufferString(rbac)).RunOrFail()
	t.Cleanup(func() { Kubectl(t, "delete", "role,rolebinding", "e2e-claim-reader").Run() })
	Sandbox(t, "get", "--as", "e2e-reader").RunOrFail()
	res := Sandbox(t, "create", "e2e-forbidden", "--pool", "python", "--as", "e2e-reader").Run()
	want := `error: creating sandboxclaim: sandboxclaims.extensions.agents.x-k8s.io is forbidden: User "e2e-reader" cannot create resource "sandboxclaims" in API group "extensions.agents.x-k8s.io" in the namespace "default" (ask a cluster admin for RBAC access; check with: kubectl auth can-i --list)` + "\n"
	if res.ExitCode != 1 || res.Stderr != want {
		t.Fatalf("exit %d stderr %q\nwant %q", res.ExitCode, res.Stderr, want)
	}
}

func TestInvalidInputFailsBeforeAnyAPICall(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "Bad_Name", "--pool", "python"}, `error: invalid claim name "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		{[]string{"create", "--pool", "python", "--ttl", "soon"}, `error: invalid --ttl "soon": use a positive duration such as 30m or 2h, or 0 for none`},
		{[]string{"create", "--pool", "python", "--env", "NOVALUE"}, `error: invalid --env "NOVALUE": use KEY=VALUE`},
		{[]string{"create"}, `error: exactly one of --pool or --template is required (list them with: kubectl sandbox pools)`},
		{[]string{"wait", "x", "--for=ready"}, `error: invalid --for "ready": use --for=condition=Ready, --for=condition=Ready=False or --for=delete`},
		{[]string{"get", "x", "-A"}, `error: a resource cannot be retrieved by name across all namespaces (drop -A, or use -n NAMESPACE)`},
		{[]string{"lss", "x"}, `error: unknown command "lss" for "kubectl sandbox" (did you mean "ls" or "logs"?); see 'kubectl sandbox --help'`},
	} {
		// An unreachable server proves no API call is made.
		res := Sandbox(t, append(tc.args, "--server", "https://127.0.0.1:1")...).Run()
		if res.ExitCode != 1 || res.Stderr != tc.want+"\n" {
			t.Errorf("%v: exit %d stderr %q\nwant %q", tc.args, res.ExitCode, res.Stderr, tc.want)
		}
	}
}

// TestGetWatch prints the initial list, then every change, until interrupted.
func TestGetWatch(t *testing.T) {
	cleanupClaim(t, "e2e-watch")
	cmd := Sandbox(t, "get", "-w", "-l", "e2e=watch").command()
	var out, errOut bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, &out}, lockedWriter{&mu, &errOut}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	Sandbox(t, "create", "e2e-watch", "--pool", "python", "-l", "e2e=watch").RunOrFail()
	ready := regexp.MustCompile(`(?m)^e2e-watch\s+python\s+python\s+True\s+DependenciesReady\s+python-\S+\s+\S+$`)
	eventually(t, 30*time.Second, "the watch to print the Ready claim", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return ready.MatchString(out.String())
	})
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// Interrupted, a watch ends quietly with a shell's code for SIGINT
	// (stderr may say the list was empty when the watch began).
	if err := cmd.Wait(); cmd.ProcessState.ExitCode() != 130 || strings.Contains(errOut.String(), "error") {
		t.Errorf("get -w after Ctrl-C: %v; stderr %q", err, errOut.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestProgressOnlyOnATerminal: on a terminal (script(1) gives one), create
// shows what it waits on on stderr; elsewhere stderr stays empty, as the
// exact-output tests check.
func TestProgressOnlyOnATerminal(t *testing.T) {
	cleanupClaim(t, "e2e-tty")
	kubectlPath, _ := exec.LookPath("kubectl")
	line := fmt.Sprintf("%s sandbox create e2e-tty --pool python-cold", kubectlPath)
	res := (&Cmd{t: t, args: nil}).runScript("script", "-qec", line, "/dev/null")
	if !strings.Contains(res, "waiting for sandboxclaim/e2e-tty") || !strings.Contains(res, "e2e-tty ready (sandbox e2e-tty)") {
		t.Errorf("terminal transcript %q", res)
	}
}

// TestDeleteBySelectorAndAll deletes with -l and with --all, and waits.
func TestDeleteBySelectorAndAll(t *testing.T) {
	Kubectl(t, "create", "namespace", "e2e-delete").RunOrFail()
	t.Cleanup(func() { Kubectl(t, "delete", "namespace", "e2e-delete", "--wait=false").Run() })
	for _, n := range []string{"a", "b", "c"} {
		args := []string{"create", n, "-n", "e2e-delete", "--pool", "none", "--wait=false"}
		if n != "c" {
			args = append(args, "-l", "group=ab")
		}
		Sandbox(t, args...).RunOrFail()
	}
	res := Sandbox(t, "delete", "-n", "e2e-delete", "-l", "group=ab").RunOrFail()
	if res.Stdout != claimRes+` "a" deleted`+"\n"+claimRes+` "b" deleted`+"\n" {
		t.Errorf("delete -l: %q", res.Stdout)
	}
	if left := Sandbox(t, "get", "-n", "e2e-delete", "-o", "name").RunOrFail().Stdout; left != claimRes+"/c\n" {
		t.Errorf("after delete -l: %q", left)
	}
	Sandbox(t, "delete", "-n", "e2e-delete", "--all").RunOrFail()
	res = Sandbox(t, "get", "-n", "e2e-delete").RunOrFail()
	if res.Stdout != "" || res.Stderr != "No resources found in e2e-delete namespace.\n" {
		t.Errorf("after delete --all: %q %q", res.Stdout, res.Stderr)
	}
}
