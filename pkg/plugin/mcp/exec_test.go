package mcp

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// execEnv is a server with one Ready sandbox of its own, whose runtime
// answers commands with run.
type execEnv struct {
	c    *cluster
	srv  *Server
	cl   *client
	name string

	mu    sync.Mutex
	argvs [][]string
}

func newExecEnv(t *testing.T, opts Options, run func(argv []string) (string, string, int)) *execEnv {
	t.Helper()
	e := &execEnv{c: newCluster(t)}
	e.srv = newServer(t, e.c, opts)
	e.cl = connect(t, e.srv.MCP())
	e.name = e.cl.create(map[string]any{"name": "box"}).Name
	e.c.router.Exec = func(id string, argv []string) (string, string, int) {
		if id != "sb-box" {
			t.Errorf("command sent to sandbox %q", id)
		}
		e.mu.Lock()
		e.argvs = append(e.argvs, argv)
		e.mu.Unlock()
		return run(argv)
	}
	return e
}

func (e *execEnv) commands() [][]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([][]string(nil), e.argvs...)
}

// TestExec: the exit code and both streams, apart, for an argv sent exactly.
func TestExec(t *testing.T) {
	e := newExecEnv(t, Options{}, func(argv []string) (string, string, int) {
		return "out line\n", "err line\n", 3
	})
	out := callOK[ExecOut](e.cl, "sandbox_exec", map[string]any{"name": "box", "command": []string{"python3", "-c", "print('a b')"}})
	if want := (ExecOut{ExitCode: 3, Stdout: "out line\n", Stderr: "err line\n"}); out != want {
		t.Errorf("output %+v, want %+v", out, want)
	}
	if want := [][]string{{"python3", "-c", "print('a b')"}}; !reflect.DeepEqual(e.commands(), want) {
		t.Errorf("commands %q, want %q", e.commands(), want)
	}
}

// TestExecBudget: the server's budget by default, the caller's when given,
// everything with -1; truncated says so, and the marker shows where.
func TestExecBudget(t *testing.T) {
	long := strings.Repeat("a", 50) + strings.Repeat("b", 50)
	run := func([]string) (string, string, int) { return long, "short", 0 }
	trim := func(max int) string { s, _ := sandbox.Trim(long, max); return s }
	for _, tc := range []struct {
		name      string
		opts      Options
		asked     int
		stdout    string
		truncated bool
	}{
		{"server budget", Options{MaxOutput: 10}, 0, trim(10), true},
		{"asked", Options{MaxOutput: 10}, 40, trim(40), true},
		{"asked more than the output", Options{MaxOutput: 10}, 1000, long, false},
		{"all", Options{MaxOutput: 10}, -1, long, false},
		{"server keeps all", Options{MaxOutput: -1}, 0, long, false},
		{"default budget", Options{}, 0, long, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newExecEnv(t, tc.opts, run)
			args := map[string]any{"name": "box", "command": []string{"cat", "f"}}
			if tc.asked != 0 {
				args["maxOutputBytes"] = tc.asked
			}
			out := callOK[ExecOut](e.cl, "sandbox_exec", args)
			if want := (ExecOut{Stdout: tc.stdout, Stderr: "short", Truncated: tc.truncated}); out != want {
				t.Errorf("output %+v\nwant %+v", out, want)
			}
			if tc.truncated && !strings.Contains(out.Stdout, "bytes omitted") {
				t.Errorf("no marker in %q", out.Stdout)
			}
		})
	}
}

// TestExecStdin: on the python runtime, standard input goes through a
// temporary file redirected to the command, removed afterwards.
func TestExecStdin(t *testing.T) {
	var e *execEnv
	var tmp string
	e = newExecEnv(t, Options{}, func(argv []string) (string, string, int) {
		if len(argv) != 6 || argv[0] != "sh" || argv[1] != "-c" || argv[2] != `exec "$@" <"$0"` || !strings.HasPrefix(argv[3], ".kubectl-sandbox-stdin-") {
			t.Errorf("argv %q", argv)
			return "", "", 1
		}
		tmp = argv[3]
		in, _ := e.c.router.File("sb-box", tmp)
		return strings.ToUpper(string(in)), "", 0
	})
	out := callOK[ExecOut](e.cl, "sandbox_exec", map[string]any{"name": "box", "command": []string{"tr", "a-z"}, "stdin": "hello\n"})
	if out.Stdout != "HELLO\n" || out.ExitCode != 0 {
		t.Errorf("output %+v", out)
	}
	if want := []string{"sh", "-c", `exec "$@" <"$0"`, tmp, "tr", "a-z"}; !reflect.DeepEqual(e.commands()[0], want) {
		t.Errorf("argv %q, want %q", e.commands()[0], want)
	}
	if _, ok := e.c.router.File("sb-box", tmp); ok || tmp == "" {
		t.Errorf("temporary input file %q left behind", tmp)
	}
}

// TestExecEnvWorkdir: the environment and working directory reach the
// python runtime through env(1); bad ones are refused before anything runs.
func TestExecEnvWorkdir(t *testing.T) {
	e := newExecEnv(t, Options{}, func(argv []string) (string, string, int) { return strings.Join(argv, " "), "", 0 })
	out := callOK[ExecOut](e.cl, "sandbox_exec", map[string]any{"name": "box", "command": []string{"pwd"},
		"env": map[string]string{"B": "2", "A": "x y"}, "workdir": "/app/src/pkg"})
	if want := "env -C src/pkg A=x y B=2 -- pwd"; out.Stdout != want {
		t.Errorf("stdout %q, want %q", out.Stdout, want)
	}
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"env": map[string]string{"A=B": "1"}}, `invalid environment variable name "A=B"`},
		{map[string]any{"env": map[string]string{"": "1"}}, `invalid environment variable name ""`},
		{map[string]any{"workdir": "../etc"}, `sandbox path "../etc" is outside the runtime's root`},
		{map[string]any{"workdir": "/etc"}, `sandbox path "/etc" is outside the runtime's root`},
		{map[string]any{"command": []string{}}, ""},
	} {
		args := map[string]any{"name": "box", "command": []string{"pwd"}}
		for k, v := range tc.args {
			args[k] = v
		}
		msg := callErr(e.cl, "sandbox_exec", args)
		if !strings.HasPrefix(msg, tc.want) {
			t.Errorf("%v: error %q, want %q", tc.args, msg, tc.want)
		}
	}
	if n := len(e.commands()); n != 1 {
		t.Errorf("%d commands ran, want 1", n)
	}
}

// TestExecErrors: a missing or not Ready claim is a tool error, worded by
// Describe; the server goes on serving.
func TestExecErrors(t *testing.T) {
	c := newCluster(t)
	var verbs []string
	var mu sync.Mutex
	srv := newServer(t, c, Options{Describe: func(err error, verb string) string {
		mu.Lock()
		verbs = append(verbs, verb)
		mu.Unlock()
		return "described " + verb + ": " + err.Error() + " (hint)"
	}})
	cl := connect(t, srv.MCP())
	msg := callErr(cl, "sandbox_exec", map[string]any{"name": "nope", "command": []string{"true"}})
	if !strings.HasPrefix(msg, "described exec: ") || !strings.Contains(msg, `"nope"`) || !strings.HasSuffix(msg, " (hint)") {
		t.Errorf("error %q", msg)
	}
	for tool, verb := range map[string]string{"sandbox_write_file": "cp", "sandbox_read_file": "cat", "sandbox_list_files": "ls"} {
		args := map[string]any{"name": "nope", "path": "f"}
		if tool == "sandbox_write_file" {
			args["content"] = "x"
		}
		if msg := callErr(cl, tool, args); !strings.HasPrefix(msg, "described "+verb+": ") {
			t.Errorf("%s: error %q", tool, msg)
		}
	}
	if msg := callErr(cl, "sandbox_create", map[string]any{}); msg != "described create: give exactly one of pool and template (hint)" {
		t.Errorf("create: error %q", msg)
	}
	if msg := callErr(cl, "sandbox_run", map[string]any{"template": "none", "command": []string{"true"}}); !strings.HasPrefix(msg, "described run: no SandboxWarmPool") {
		t.Errorf("run: error %q", msg)
	}
	mu.Lock()
	if want := []string{"exec", "cp", "cat", "ls", "create", "run"}; !reflect.DeepEqual(sorted(verbs), sorted(want)) {
		t.Errorf("verbs %q, want %q", verbs, want)
	}
	mu.Unlock()
	// The server still serves, and a good call works.
	out := cl.create(nil)
	if got := callOK[ExecOut](cl, "sandbox_exec", map[string]any{"name": out.Name, "command": []string{"true"}}); got.ExitCode != 0 {
		t.Errorf("output %+v", got)
	}
	// A call that does not match the input schema is a tool error too.
	if msg := callErr(cl, "sandbox_exec", map[string]any{"name": out.Name}); !strings.Contains(msg, "command") {
		t.Errorf("error %q", msg)
	}
	if msg := callErr(cl, "sandbox_exec", map[string]any{"name": out.Name, "command": "ls"}); msg == "" {
		t.Errorf("error %q", msg)
	}
	if got := callOK[ListOut](cl, "sandbox_list", nil); len(got.Sandboxes) != 1 {
		t.Errorf("list %+v", got)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestExecTimeout: a command that outlives timeoutSeconds is a tool error
// and the server goes on.
func TestExecTimeout(t *testing.T) {
	release := make(chan struct{})
	e := newExecEnv(t, Options{}, func(argv []string) (string, string, int) {
		if argv[0] == "sleep" {
			<-release
		}
		return "", "", 0
	})
	defer close(release)
	msg := callErr(e.cl, "sandbox_exec", map[string]any{"name": "box", "command": []string{"sleep", "10"}, "timeoutSeconds": 1})
	if !strings.Contains(msg, "did not finish within 1s") {
		t.Errorf("error %q", msg)
	}
	if out := callOK[ExecOut](e.cl, "sandbox_exec", map[string]any{"name": "box", "command": []string{"true"}}); out.ExitCode != 0 {
		t.Errorf("output %+v", out)
	}
}
