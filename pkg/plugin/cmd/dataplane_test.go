package cmd

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python/pythontest"
)

// readyClaim is a Ready claim bound to sandbox sb.
func readyClaim(name, sb string) *extv1beta1.SandboxClaim {
	return claimObj(name, "python", sb, testNow, metav1.ConditionTrue, "DependenciesReady")
}

// dataPlane is a fake cluster with Ready claims a (sandbox sb-a) and b
// (sandbox sb-b), a pending claim p, and a fake router.
func dataPlane(t *testing.T) (*fakeFactory, *pythontest.Router, []string) {
	t.Helper()
	r := pythontest.NewRouter(t)
	a, b := readyClaim("a", "sb-a"), readyClaim("b", "sb-b")
	a.Labels, b.Labels = map[string]string{"team": "x"}, map[string]string{"team": "x"}
	p := claimObj("p", "python", "", testNow, metav1.ConditionFalse, "SandboxNotReady")
	p.Labels = map[string]string{"team": "x"}
	return newFakeFactory(a, b, p), r, []string{"--router-url", r.URL}
}

func echoExec(id string, argv []string) (string, string, int) {
	switch argv[0] {
	case "echo":
		return id + ": " + strings.Join(argv[1:], " ") + "\n", "", 0
	case "fail":
		return "", "oops\n", 3
	}
	return "", "unknown\n", 127
}

func TestExecOneClaim(t *testing.T) {
	f, r, router := dataPlane(t)
	r.Exec = echoExec
	for _, tc := range []struct {
		args            []string
		out, errOut     string
		code            int
		wantErrContains string
	}{
		{args: []string{"a", "--", "echo", "it's", "a b"}, out: "sb-a: it's a b\n"},
		{args: []string{"a", "--", "fail"}, errOut: "oops\n", code: 3},
		{args: []string{"a", "-o", "json", "--", "fail"}, out: `{"stdout":"","stderr":"oops\n","exitCode":3}` + "\n", code: 3},
		{args: []string{"p", "--", "echo"}, wantErrContains: `sandboxclaim "p" is not Ready (SandboxNotReady)`},
		{args: []string{"zz", "--", "echo"}, wantErrContains: `sandboxclaim "zz" not found in namespace "default"`},
	} {
		res := runWith(t, f, NewCmdExec, "", append(router, tc.args...))
		code := 0
		var exit *ExitError
		if errors.As(res.err, &exit) {
			code = exit.Code
		} else if res.err != nil && (tc.wantErrContains == "" || !strings.Contains(res.err.Error(), tc.wantErrContains)) {
			t.Errorf("%v: error %v", tc.args, res.err)
		}
		if res.out != tc.out || res.errOut != tc.errOut || code != tc.code {
			t.Errorf("%v: got out %q err %q code %d, want %q %q %d", tc.args, res.out, res.errOut, code, tc.out, tc.errOut, tc.code)
		}
	}
	// The router saw the sandbox's name, not the claim's, and its IPv4.
	req := r.Requests()[0]
	if req.Header.Get("X-Sandbox-ID") != "sb-a" || req.Header.Get("X-Sandbox-Pod-IP") != "10.0.0.5" || req.Header.Get("X-Sandbox-Port") != "8888" {
		t.Errorf("headers %v", req.Header)
	}
}

func TestExecSelector(t *testing.T) {
	f, r, router := dataPlane(t)
	r.Exec = echoExec
	res := runWith(t, f, NewCmdExec, "", append(router, "-l", "team=x", "--", "echo", "hi"))
	if res.err != nil || res.out != "[a] sb-a: hi\n[b] sb-b: hi\n" && res.out != "[b] sb-b: hi\n[a] sb-a: hi\n" {
		t.Errorf("%+v", res)
	}
	if res.errOut != "Warning: skipping sandboxclaim \"p\": it is not Ready\n" {
		t.Errorf("stderr %q", res.errOut)
	}
	res = runWith(t, f, NewCmdExec, "", append(router, "-l", "team=x", "-o", "json", "--", "fail"))
	// JSON lines, in the order the sandboxes finish.
	a, b := `{"claim":"a","stdout":"","stderr":"oops\n","exitCode":3}`+"\n", `{"claim":"b","stdout":"","stderr":"oops\n","exitCode":3}`+"\n"
	want := a + b
	var exit *ExitError
	if !errors.As(res.err, &exit) || exit.Code != 3 || res.out != a+b && res.out != b+a {
		t.Errorf("%+v\nwant %s", res, want)
	}
	res = runWith(t, f, NewCmdExec, "", append(router, "-l", "team=none", "--", "echo"))
	if res.err == nil || res.err.Error() != `no Ready sandboxclaim in namespace "default" matches -l team=none` {
		t.Errorf("%+v", res)
	}
}

func TestExecValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"a", "echo"}, "put the command after --, as in: kubectl sandbox exec CLAIM -- COMMAND [ARG...]"},
		{[]string{"--", "echo"}, "give exactly one claim before --, or -l SELECTOR"},
		{[]string{"a", "-l", "x=y", "--", "echo"}, "give a claim or -l SELECTOR, not both"},
		{[]string{"A_B", "--", "echo"}, `invalid claim name "A_B"`},
		{[]string{"-l", "x in (", "--", "echo"}, `invalid --selector "x in ("`},
		{[]string{"a", "--"}, "no command given"},
		{[]string{"a", "--", "echo", "a\x00b"}, "an argument contains a NUL byte, which no process can receive"},
		{[]string{"a", "-o", "yaml", "--", "echo"}, `invalid --output "yaml": only "json" is supported`},
		{[]string{"a", "--max-parallel", "0", "--", "echo"}, "--timeout must not be negative and --max-parallel must be at least 1"},
		{[]string{"a", "--router-url", "ftp://x", "--", "echo"}, `invalid --router-url "ftp://x": use http://HOST[:PORT] or https://HOST[:PORT]`},
		{[]string{"a", "--router-url", "http://x", "--gateway", "g", "--", "echo"}, "--router-url and --gateway cannot be used together"},
		{[]string{"a", "--server-port", "0", "--", "echo"}, "invalid --server-port 0: must be 1-65535"},
		{[]string{"a", "--gateway-timeout", "0s", "--", "echo"}, "--gateway-timeout must be positive"},
		{[]string{"a", "--gateway", "g", "--gateway-scheme", "tls", "--", "echo"}, `invalid --gateway-scheme "tls": use http or https (check $KUBECTL_SANDBOX_GATEWAY_SCHEME)`},
		{[]string{"a", "--router-token-file", "/nonexistent/token", "--", "echo"}, "reading --router-token-file: open /nonexistent/token: no such file or directory"},
		{[]string{"a", "--router-ca-file", "/nonexistent/ca", "--", "echo"}, "reading --router-ca-file: open /nonexistent/ca: no such file or directory"},
	} {
		res, ext := run(t, NewCmdExec, tc.args)
		if res.err == nil || !strings.HasPrefix(res.err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %s", tc.args, res.err, tc.want)
		}
		if len(ext.Actions()) != 0 {
			t.Errorf("%q: invalid input reached the API: %v", tc.args, ext.Actions())
		}
	}
}

func TestCpUpAndDown(t *testing.T) {
	f, r, router := dataPlane(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	mustWrite(t, filepath.Join(src, "top.txt"), "top")
	mustWrite(t, filepath.Join(src, "sub", "deep.txt"), "deep")
	for _, args := range [][]string{
		{src, "a:up"},
		{filepath.Join(src, "top.txt"), "a:/app/one/two.txt"},
		{filepath.Join(src, "top.txt"), "a:dir/"},
	} {
		if res := runWith(t, f, NewCmdCp, "", append(args, router...)); res.err != nil {
			t.Fatalf("%v: %+v", args, res)
		}
	}
	for p, want := range map[string]string{"up/top.txt": "top", "up/sub/deep.txt": "deep", "one/two.txt": "top", "dir/top.txt": "top"} {
		if got, ok := r.File("sb-a", p); !ok || string(got) != want {
			t.Errorf("sandbox %s = %q, %v; want %q", p, got, ok, want)
		}
	}
	// A file onto an existing remote directory lands in it.
	if res := runWith(t, f, NewCmdCp, "", append([]string{filepath.Join(src, "top.txt"), "a:up/sub"}, router...)); res.err != nil {
		t.Fatal(res.err)
	}
	if _, ok := r.File("sb-a", "up/sub/top.txt"); !ok {
		t.Error("a file copied onto an existing directory did not land in it")
	}
	// Stdin in, stdout out.
	if res := runWith(t, f, NewCmdCp, "piped\n", append([]string{"-", "a:in/p.txt"}, router...)); res.err != nil {
		t.Fatal(res.err)
	}
	if res := runWith(t, f, NewCmdCp, "", append([]string{"a:in/p.txt", "-"}, router...)); res.err != nil || res.out != "piped\n" {
		t.Errorf("%+v", res)
	}
	// A tree down, and a file into an existing local directory.
	down := filepath.Join(dir, "down")
	if res := runWith(t, f, NewCmdCp, "", append([]string{"a:up", down}, router...)); res.err != nil {
		t.Fatal(res.err)
	}
	if res := runWith(t, f, NewCmdCp, "", append([]string{"a:one/two.txt", down}, router...)); res.err != nil {
		t.Fatal(res.err)
	}
	for p, want := range map[string]string{"top.txt": "top", "sub/deep.txt": "deep", "two.txt": "top"} {
		if got, err := os.ReadFile(filepath.Join(down, p)); err != nil || string(got) != want {
			t.Errorf("local %s = %q, %v; want %q", p, got, err, want)
		}
		if info, err := os.Stat(filepath.Join(down, p)); err != nil || info.Mode().Perm() != 0o644 {
			t.Errorf("local %s mode %v, %v; want 0644", p, info.Mode(), err)
		}
	}
}

func TestCpErrors(t *testing.T) {
	f, _, router := dataPlane(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"x", "y"}, "exactly one of SRC and DST must be CLAIM:PATH"},
		{[]string{"a:x", "b:y"}, "exactly one of SRC and DST must be CLAIM:PATH"},
		{[]string{"-", "a:"}, "copying from stdin needs a file name in the sandbox, not a directory"},
		{[]string{"-", "a:dir/"}, "copying from stdin needs a file name in the sandbox, not a directory"},
		{[]string{"x", "a:../etc/passwd"}, `sandbox path "../etc/passwd" is outside the runtime's root (/app, or /workspace on sandboxd)`},
		{[]string{"x", "a:/etc/passwd"}, `sandbox path "/etc/passwd" is outside the runtime's root (/app, or /workspace on sandboxd)`},
		{[]string{"/nonexistent/file", "a:x"}, "cannot read /nonexistent/file: no such file or directory"},
		{[]string{"a:missing.txt", t.TempDir() + "/m"}, "download missing.txt: HTTP 404: File not found"},
		{[]string{"./x", "p:x"}, `sandboxclaim "p" is not Ready`},
	} {
		res := runWith(t, f, NewCmdCp, "", append(tc.args, router...))
		if res.err == nil || !strings.HasPrefix(res.err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %s", tc.args, res.err, tc.want)
		}
	}
}

func TestLsAndCat(t *testing.T) {
	f, r, router := dataPlane(t)
	r.WriteFile("sb-a", "d/f.txt", []byte("hello"))
	r.WriteFile("sb-a", "d/e/g.txt", nil)
	res := runWith(t, f, NewCmdLs, "", append([]string{"a:d"}, router...))
	want := "NAME    TYPE        SIZE   MODIFIED\ne       directory   0      2026-11-25T12:00:00Z\nf.txt   file        5      2026-11-25T12:00:00Z\n"
	if res.err != nil || res.out != want {
		t.Errorf("%+v\nwant\n%s", res, want)
	}
	res = runWith(t, f, NewCmdLs, "", append([]string{"a:/app/d/e", "-o", "json"}, router...))
	want = "[\n  {\n    \"name\": \"g.txt\",\n    \"type\": \"file\",\n    \"size\": 0,\n    \"modified\": \"2026-11-25T12:00:00Z\"\n  }\n]\n"
	if res.err != nil || res.out != want {
		t.Errorf("%+v\nwant\n%s", res, want)
	}
	res = runWith(t, f, NewCmdLs, "", append([]string{"a:nope"}, router...))
	if res.err == nil || res.err.Error() != "a:/app/nope is not a directory in the sandbox" {
		t.Errorf("%+v", res)
	}
	res = runWith(t, f, NewCmdCat, "", append([]string{"a:d/f.txt"}, router...))
	if res.err != nil || res.out != "hello" {
		t.Errorf("%+v", res)
	}
	for _, tc := range []struct {
		cmd  string
		args []string
		want string
	}{
		{"cat", []string{"a"}, `give the file as CLAIM:PATH, not "a"`},
		{"cat", []string{"a:"}, `give the file as CLAIM:PATH, not "a:"`},
		{"ls", []string{"a", "-o", "yaml"}, `invalid --output "yaml": only "json" is supported`},
		{"ls", []string{"a:../x"}, `sandbox path "../x" is outside the runtime's root (/app, or /workspace on sandboxd)`},
		{"ls", []string{"Bad:x"}, `invalid claim name "Bad"`},
	} {
		newCmd := NewCmdLs
		if tc.cmd == "cat" {
			newCmd = NewCmdCat
		}
		res := runWith(t, f, newCmd, "", append(tc.args, router...))
		if res.err == nil || !strings.HasPrefix(res.err.Error(), tc.want) {
			t.Errorf("%s %q: error %v, want %s", tc.cmd, tc.args, res.err, tc.want)
		}
	}
}

// readyOnCreate makes every created claim Ready at once, bound to a sandbox
// named after it, as the controller would.
func readyOnCreate(f *fakeFactory) {
	f.ext.PrependReactor("create", "sandboxclaims", func(a k8stesting.Action) (bool, runtime.Object, error) {
		c := a.(k8stesting.CreateAction).GetObject().(*extv1beta1.SandboxClaim)
		if c.Name == "" {
			c.Name = c.GenerateName + "abcde"
		}
		ready := readyClaim(c.Name, "sb-"+c.Name)
		c.Status = ready.Status
		return false, nil, nil
	})
}

func TestRun(t *testing.T) {
	f, r, router := dataPlane(t)
	readyOnCreate(f)
	r.Exec = func(id string, argv []string) (string, string, int) {
		if argv[0] == "job" {
			in, _ := r.File(id, "in.txt")
			r.WriteFile(id, "out/result.txt", append(in, '!'))
			return "done\n", "warn\n", 0
		}
		return echoExec(id, argv)
	}
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "in.txt"), "data")
	res := runWith(t, f, NewCmdRun, "", append(router, "--pool", "python", "--cp-in", filepath.Join(dir, "in.txt")+":in.txt",
		"--cp-out", "out:"+filepath.Join(dir, "out"), "--", "job"))
	if res.err != nil || res.out != "done\n" || res.errOut != "warn\n" {
		t.Fatalf("%+v", res)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "out", "result.txt")); err != nil || string(got) != "data!" {
		t.Errorf("copied out %q, %v", got, err)
	}
	if left := claimNames(t, f); len(left) != 3 {
		t.Errorf("run left claims behind: %v", left)
	}
	created := false
	for _, a := range f.ext.Actions() {
		if c, ok := a.(k8stesting.CreateAction); ok {
			created = true
			obj := c.GetObject().(*extv1beta1.SandboxClaim)
			if obj.Labels[RunLabel] != "true" || obj.Spec.Lifecycle == nil || !obj.Spec.Lifecycle.ShutdownTime.Equal(&metav1.Time{Time: testNow.Add(3600e9)}) {
				t.Errorf("created claim %+v", obj)
			}
		}
	}
	if !created {
		t.Error("run created no claim")
	}
}

// TestRunKeepOnNonZeroExit is the regression test of `run --keep` deleting
// the sandbox when the command exits non-zero.
func TestRunKeepOnNonZeroExit(t *testing.T) {
	f, r, router := dataPlane(t)
	readyOnCreate(f)
	r.Exec = echoExec
	res := runWith(t, f, NewCmdRun, "", append(router, "--pool", "python", "--keep", "--", "fail"))
	var exit *ExitError
	if !errors.As(res.err, &exit) || exit.Code != 3 {
		t.Fatalf("%+v", res)
	}
	want := "oops\nsandboxclaim.extensions.agents.x-k8s.io/sandbox-claim-abcde kept: use it with: kubectl sandbox exec sandbox-claim-abcde -- COMMAND\n"
	if res.errOut != want {
		t.Errorf("stderr %q\nwant   %q", res.errOut, want)
	}
	if !strings.Contains(strings.Join(claimNames(t, f), ","), "sandbox-claim-abcde") {
		t.Error("--keep deleted the sandbox after a non-zero exit")
	}
	// Without --keep, a non-zero exit still deletes it.
	f, r, router = dataPlane(t)
	readyOnCreate(f)
	r.Exec = echoExec
	res = runWith(t, f, NewCmdRun, "", append(router, "--pool", "python", "--", "fail"))
	if !errors.As(res.err, &exit) || exit.Code != 3 || len(claimNames(t, f)) != 3 {
		t.Errorf("%+v, claims %v", res, claimNames(t, f))
	}
}

func TestRunValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pool", "p", "echo"}, "put the command after --, as in: kubectl sandbox run --pool POOL -- COMMAND [ARG...]"},
		{[]string{"--", "echo"}, "exactly one of --pool or --template is required"},
		{[]string{"--pool", "p", "--cp-in", "nocolon", "--", "echo"}, `invalid --cp-in "nocolon": use LOCAL:REMOTE`},
		{[]string{"--pool", "p", "--cp-out", ":x", "--", "echo"}, `invalid --cp-out ":x": use REMOTE:LOCAL`},
		{[]string{"--pool", "p", "--cp-in", "x:../y", "--", "echo"}, `sandbox path "../y" is outside the runtime's root (/app, or /workspace on sandboxd)`},
		{[]string{"--pool", "p", "--command-timeout", "-1s", "--", "echo"}, "--command-timeout must not be negative"},
		{[]string{"--pool", "p", "--"}, "no command given"},
	} {
		res, ext := run(t, NewCmdRun, tc.args)
		if res.err == nil || !strings.HasPrefix(res.err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %s", tc.args, res.err, tc.want)
		}
		if len(ext.Actions()) != 0 {
			t.Errorf("%q: invalid input reached the API: %v", tc.args, ext.Actions())
		}
	}
}

func claimNames(t *testing.T, f *fakeFactory) []string {
	t.Helper()
	list, err := f.ext.ExtensionsV1beta1().SandboxClaims("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list.Items {
		names = append(names, c.Name)
	}
	return names
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestExecSelectorOneFailureStopsNoOther: the connection of one sandbox's
// command breaks after it was sent while another's still runs; that one
// says its command may have run, and the other still prints its output
// (one sandbox's failure does not cancel the rest).
func TestExecSelectorOneFailureStopsNoOther(t *testing.T) {
	f, _, _ := dataPlane(t)
	aDone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Sandbox-ID") == "sb-a" {
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close() // the command arrived; the answer never leaves
			}
			close(aDone)
			return
		}
		select { // sb-b answers once sb-a's connection broke
		case <-aDone:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"stdout":"still here\n","stderr":"","exit_code":0}`)
	}))
	defer srv.Close()
	res := runWith(t, f, NewCmdExec, "", []string{"--router-url", srv.URL, "-l", "team=x", "--", "echo"})
	var exit *ExitError
	if !errors.As(res.err, &exit) || exit.Code != 1 || res.out != "[b] still here\n" {
		t.Errorf("%+v", res)
	}
	if !regexp.MustCompile(`\[a\] error: execute: the connection to the sandbox router failed after the request was sent: .*: the command may have run; it was not retried\n`).MatchString(res.errOut) {
		t.Errorf("stderr %q", res.errOut)
	}
}
