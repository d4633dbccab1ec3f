package mcp

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

func names(list []SandboxOut) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// TestList: every claim of the namespace, those of this session marked
// mine; mine keeps only them, also with a selector.
func TestList(t *testing.T) {
	c := newCluster(t, pool("default", "python", "python-tmpl"), foreignClaim("foreign"))
	srv := newServer(t, c, Options{})
	a, b := connect(t, srv.MCP()), connect(t, srv.MCP())
	a.create(map[string]any{"name": "a1", "labels": map[string]string{"team": "a"}})
	a.create(map[string]any{"name": "a2"})
	b.create(map[string]any{"name": "b1"})

	all := callOK[ListOut](a, "sandbox_list", map[string]any{})
	if got := names(all.Sandboxes); !reflect.DeepEqual(got, []string{"a1", "a2", "b1", "foreign"}) {
		t.Errorf("list %q", got)
	}
	for _, s := range all.Sandboxes {
		if s.Mine != strings.HasPrefix(s.Name, "a") {
			t.Errorf("%s: mine %v", s.Name, s.Mine)
		}
		if !s.Ready || s.Sandbox != "sb-"+s.Name || s.Pool != "python" || s.Namespace != "default" {
			t.Errorf("%+v", s)
		}
	}
	if got := names(callOK[ListOut](a, "sandbox_list", map[string]any{"mine": true}).Sandboxes); !reflect.DeepEqual(got, []string{"a1", "a2"}) {
		t.Errorf("mine %q", got)
	}
	if got := names(callOK[ListOut](b, "sandbox_list", map[string]any{"mine": true}).Sandboxes); !reflect.DeepEqual(got, []string{"b1"}) {
		t.Errorf("b's %q", got)
	}
	if got := names(callOK[ListOut](a, "sandbox_list", map[string]any{"selector": "team=a"}).Sandboxes); !reflect.DeepEqual(got, []string{"a1", "foreign"}) {
		t.Errorf("team=a %q", got)
	}
	if got := names(callOK[ListOut](a, "sandbox_list", map[string]any{"selector": "team=a", "mine": true}).Sandboxes); !reflect.DeepEqual(got, []string{"a1"}) {
		t.Errorf("team=a, mine %q", got)
	}
	// A session with nothing gets an empty list.
	empty := connect(t, srv.MCP())
	res := empty.call("sandbox_list", map[string]any{"mine": true})
	if res.IsError || text(res) != `{"sandboxes":[]}` {
		t.Errorf("empty list %s", text(res))
	}
	if msg := callErr(a, "sandbox_list", map[string]any{"namespace": "kube-system"}); !strings.Contains(msg, `acts in namespace "default" only`) {
		t.Errorf("error %q", msg)
	}
}

// TestDelete: a claim this server created is deleted (waiting until it is
// gone) and forgotten; any other is refused without an API call.
func TestDelete(t *testing.T) {
	c := newCluster(t, pool("default", "python", "python-tmpl"), foreignClaim("foreign"))
	srv := newServer(t, c, Options{})
	a, b := connect(t, srv.MCP()), connect(t, srv.MCP())
	a.create(map[string]any{"name": "mine"})
	b.create(map[string]any{"name": "theirs"})

	if out := callOK[DeleteOut](a, "sandbox_delete", map[string]any{"name": "mine"}); out.Deleted != "mine" {
		t.Errorf("output %+v", out)
	}
	c.waitDeleted("mine")
	if c.claim("default", "mine") != nil {
		t.Error("claim still there")
	}
	if _, ok := srv.owns("default", "mine"); ok {
		t.Error("deleted claim still tracked")
	}
	for _, name := range []string{"foreign", "mine", "nope"} {
		msg := callErr(a, "sandbox_delete", map[string]any{"name": name})
		if want := `sandboxclaim "` + name + `" in namespace default was not created by this MCP server; it deletes only its own (use kubectl sandbox delete)`; msg != want {
			t.Errorf("error %q\nwant %q", msg, want)
		}
	}
	if c.claim("default", "foreign") == nil {
		t.Error("the foreign claim was deleted")
	}
	// The server's own, even of another session, may go.
	callOK[DeleteOut](a, "sandbox_delete", map[string]any{"name": "theirs"})
	c.waitDeleted("theirs")
	c.noDeletes()
	if n := len(c.actions("delete")); n != 2 {
		t.Errorf("%d deletes", n)
	}
	if msg := callErr(a, "sandbox_delete", map[string]any{"name": "x", "namespace": "other"}); !strings.Contains(msg, `acts in namespace "default" only`) {
		t.Errorf("error %q", msg)
	}
}

// TestRun: one shot: a claim, the files written, the command, the files
// read back, and the claim deleted before the answer.
func TestRun(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{})
	cl := connect(t, srv.MCP())
	var sandboxID string
	c.router.Exec = func(id string, argv []string) (string, string, int) {
		sandboxID = id
		if want := []string{"env", "MODE=test", "--", "python3", "src/main.py"}; !reflect.DeepEqual(argv, want) {
			t.Errorf("argv %q, want %q", argv, want)
		}
		src, _ := c.router.File(id, "src/main.py")
		data, _ := c.router.File(id, "data.txt")
		c.router.WriteFile(id, "out/result.txt", []byte("result of "+string(src)+string(data)))
		c.router.WriteFile(id, "out/raw", []byte{0xff, 0})
		return "ran\n", "warn\n", 2
	}
	out := callOK[RunOut](cl, "sandbox_run", map[string]any{
		"pool":    "python",
		"command": []string{"python3", "src/main.py"},
		"env":     map[string]string{"MODE": "test"},
		"files":   map[string]string{"src/main.py": "print(1)\n", "data.txt": "42"},
		"read":    []string{"out/result.txt", "out/raw"},
	})
	if !strings.HasPrefix(out.Sandbox, "sandbox-claim-") || "sb-"+out.Sandbox != sandboxID {
		t.Errorf("sandbox %q, ran in %q", out.Sandbox, sandboxID)
	}
	want := RunOut{
		ExecOut: ExecOut{ExitCode: 2, Stdout: "ran\n", Stderr: "warn\n"},
		Sandbox: out.Sandbox,
		Files: map[string]ReadOut{
			"out/result.txt": {Path: "out/result.txt", Content: "result of print(1)\n42", Encoding: "utf-8", Bytes: 21},
			"out/raw":        {Path: "out/raw", Content: "/wA=", Encoding: "base64", Bytes: 2},
		},
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("output %+v\nwant %+v", out, want)
	}
	c.waitDeleted(out.Sandbox)
	if c.claim("default", out.Sandbox) != nil {
		t.Error("the claim is still there")
	}
	if _, ok := srv.owns("default", out.Sandbox); ok {
		t.Error("the deleted claim is still tracked")
	}
	// Nothing is left for the session's end.
	cl.close()
	if err := srv.Cleanup(); err != nil {
		t.Fatal(err)
	}
	c.noDeletes()
}

// TestRunReportsAFailedDeletion: sandbox_run deletes its claim as the
// CLI's run does (oneshot): a deletion that fails is the call's error,
// naming the claim, and the claim stays the session's, for its end to
// delete.
func TestRunReportsAFailedDeletion(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{})
	cl := connect(t, srv.MCP())
	c.failDeletes(errors.New("etcd is down"))
	msg := callErr(cl, "sandbox_run", map[string]any{"pool": "python", "command": []string{"true"}})
	if want := `deleting sandboxclaim "sandbox-claim-00001" failed: etcd is down`; !strings.Contains(msg, want) {
		t.Errorf("error %q, want it to hold %q", msg, want)
	}
	c.waitDeleted("sandbox-claim-00001")
	if _, ok := srv.owns("default", "sandbox-claim-00001"); !ok {
		t.Error("the claim that could not be deleted is no longer tracked")
	}
	c.failDeletes(nil)
	cl.close()
	if err := srv.Cleanup(); err != nil {
		t.Fatal(err)
	}
	c.waitDeleted("sandbox-claim-00001")
}

// TestRunErrors: a command that is refused creates nothing; a failure after
// the claim was made still deletes it; a template names the pool.
func TestRunErrors(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{AllowPools: []string{"python"}})
	cl := connect(t, srv.MCP())
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"pool": "python", "command": []string{"x"}, "env": map[string]string{"A=B": "1"}}, `invalid environment variable name "A=B"`},
		{map[string]any{"pool": "python", "command": []string{}}, ""},
		{map[string]any{"command": []string{"x"}}, "give exactly one of pool and template"},
		{map[string]any{"pool": "go", "command": []string{"x"}}, `pool "go" (template "go-tmpl") is not allowed here`},
		{map[string]any{"pool": "python", "command": []string{"x"}, "namespace": "other"}, `this server acts in namespace "default" only`},
	} {
		if msg := callErr(cl, "sandbox_run", tc.args); !strings.HasPrefix(msg, tc.want) {
			t.Errorf("%v: error %q, want %q", tc.args, msg, tc.want)
		}
	}
	if n := len(c.actions("create")); n != 0 {
		t.Errorf("%d creates", n)
	}
	// A file that cannot be read back: the claim is deleted all the same.
	msg := callErr(cl, "sandbox_run", map[string]any{"template": "python-tmpl", "command": []string{"true"}, "read": []string{"missing.txt"}})
	if !strings.Contains(msg, "File not found") {
		t.Errorf("error %q", msg)
	}
	if n := len(c.actions("create")); n != 1 {
		t.Fatalf("%d creates", n)
	}
	c.waitDeleted("sandbox-claim-00001")
	// A path that climbs out is refused before a sandbox is made for it.
	for _, args := range []map[string]any{
		{"pool": "python", "command": []string{"true"}, "files": map[string]string{"../x": "y"}},
		{"pool": "python", "command": []string{"true"}, "read": []string{"/etc/passwd"}},
	} {
		if msg := callErr(cl, "sandbox_run", args); !strings.Contains(msg, "is outside the runtime's root") {
			t.Errorf("%v: error %q", args, msg)
		}
	}
	if n := len(c.actions("create")); n != 1 {
		t.Errorf("%d creates, want none for the paths that climb out", n-1)
	}
	if list, err := c.ext.Tracker().List(claimsResource, claimsKind, "default"); err != nil || len(list.(*extv1beta1.SandboxClaimList).Items) != 0 {
		t.Errorf("claims left: %+v, %v", list, err)
	}
	cl.close()
	if err := srv.Cleanup(); err != nil {
		t.Fatal(err)
	}
	c.noDeletes()
}
