package cmd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

func TestStreamValidation(t *testing.T) {
	for _, tc := range []struct {
		newCmd func(Factory, genericiooptions.IOStreams) *cobra.Command
		args   []string
		want   string
	}{
		{NewCmdExec, []string{"a", "--env", "NOVALUE", "--", "echo"}, `invalid --env "NOVALUE": use NAME=VALUE`},
		{NewCmdExec, []string{"a", "-e", "=x", "--", "echo"}, `invalid --env "=x": use NAME=VALUE`},
		{NewCmdExec, []string{"a", "-t", "-o", "json", "--", "sh"}, "-t and -o json cannot be used together: a terminal has one stream"},
		{NewCmdExec, []string{"-l", "x=y", "-i", "--", "cat"}, "-i and -t take one claim, not -l SELECTOR"},
		{NewCmdExec, []string{"a", "--workdir", "../x", "--", "pwd"}, `sandbox path "../x" is outside the runtime's root`},
		{NewCmdExec, []string{"a", "--runtime", "java", "--", "pwd"}, `invalid --runtime "java": use auto, python or sandboxd (check $KUBECTL_SANDBOX_RUNTIME)`},
		{NewCmdExec, []string{"a", "--sandboxd-grpc-port", "70000", "--", "pwd"}, "invalid --sandboxd-grpc-port 70000: must be 1-65535"},
		{NewCmdExec, []string{"a", "--transport", "spdy", "--", "pwd"}, `invalid --transport "spdy": use auto, port-forward or exec (check $KUBECTL_SANDBOX_TRANSPORT)`},
		{NewCmdRm, []string{"a"}, `give what to remove as CLAIM:PATH, not "a"`},
		{NewCmdRm, []string{"a:"}, `give what to remove as CLAIM:PATH, not "a:"`},
		{NewCmdRm, []string{"a:x", "b:y"}, `rm works in one sandbox at a time: "a" and "b" name different claims`},
		{NewCmdRm, []string{"a:/app"}, `refusing to remove "a:/app", the sandbox's root directory`},
		{NewCmdRm, []string{"a:."}, `refusing to remove "a:.", the sandbox's root directory`},
		{NewCmdRm, []string{"a:../etc"}, `sandbox path "../etc" is outside the runtime's root`},
		{NewCmdRm, []string{"A:x"}, `invalid claim name "A"`},
		{NewCmdShell, []string{"A"}, `invalid claim name "A"`},
		{NewCmdShell, []string{"a", "--workdir", "/etc"}, `sandbox path "/etc" is outside the runtime's root`},
		{NewCmdShell, []string{"a", "--env", "x"}, `invalid --env "x": use NAME=VALUE`},
		{NewCmdShell, []string{"a", "--shell", "a\x00b"}, "invalid --shell: an argument contains a NUL byte"},
	} {
		res, ext := run(t, tc.newCmd, tc.args)
		if res.err == nil || !strings.HasPrefix(res.err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %s", tc.args, res.err, tc.want)
		}
		if len(ext.Actions()) != 0 {
			t.Errorf("%q: invalid input reached the API: %v", tc.args, ext.Actions())
		}
	}
}

// The python runtime: -t and shell are refused with the hint, -i sends the
// input as a temporary file that is removed, --env and --workdir go
// through env(1).
func TestExecOnThePythonRuntime(t *testing.T) {
	f, r, router := dataPlane(t)
	var mu sync.Mutex
	var seen [][]string
	r.Exec = func(id string, argv []string) (string, string, int) {
		mu.Lock()
		seen = append(seen, argv)
		mu.Unlock()
		if len(argv) > 4 && argv[0] == "sh" && argv[2] == `exec "$@" <"$0"` {
			data, ok := r.File(id, argv[3])
			if !ok {
				return "", "no input file\n", 1
			}
			return string(data), "", 0
		}
		return strings.Join(argv, " ") + "\n", "", 0
	}
	for _, args := range [][]string{{"exec", "-t", "a", "--", "sh"}, {"exec", "-it", "a", "--", "sh"}, {"shell", "a"}} {
		newCmd := NewCmdExec
		if args[0] == "shell" {
			newCmd = NewCmdShell
		}
		res := runWith(t, f, newCmd, "", append(router, args[1:]...))
		if !errors.Is(res.err, errNoTerminal) {
			t.Fatalf("%q: %v", args, res.err)
		}
		if got := describeError(res.err, args[0]); got != "the python runtime cannot give a command a terminal (-t): use a sandbox whose template runs sandboxd (e.g. kubectl sandbox create --pool sandboxd), or drop -t" {
			t.Errorf("%q: %s", args, got)
		}
	}
	res := runWith(t, f, NewCmdExec, "line 1\nline 2\n", append(router, "-i", "a", "--", "cat"))
	if res.err != nil || res.out != "line 1\nline 2\n" {
		t.Fatalf("exec -i: %v, out %q", res.err, res.out)
	}
	if tmp := seen[0][3]; !strings.HasPrefix(tmp, ".kubectl-sandbox-stdin-") || seen[0][4] != "cat" {
		t.Errorf("argv %q", seen[0])
	} else if _, left := r.File("sb-a", tmp); left {
		t.Errorf("the input file %s was left in the sandbox", tmp)
	}
	res = runWith(t, f, NewCmdExec, "", append(router, "a", "-e", "B=2", "--env", "A=x y", "--workdir", "/app/src", "--", "echo", "hi"))
	if res.err != nil || res.out != "env -C src A=x y B=2 -- echo hi\n" {
		t.Errorf("--env, --workdir: %v, out %q", res.err, res.out)
	}
	res = runWith(t, f, NewCmdExec, strings.Repeat("x", sandbox.MaxBufferedInput+1), append(router, "-i", "a", "--", "cat"))
	if got := describeError(res.err, "exec"); got != "standard input is larger than 16 MiB, the most this runtime takes (it cannot stream input): use a sandbox whose template runs sandboxd to stream input, or copy the file in with kubectl sandbox cp" {
		t.Errorf("too much input: %s", got)
	}
}

func TestRm(t *testing.T) {
	f, r, router := dataPlane(t)
	r.WriteFile("sb-a", "x/f", []byte("1"))
	r.WriteFile("sb-a", "x/g", []byte("2"))
	r.WriteFile("sb-a", "top", []byte("3"))
	if res := runWith(t, f, NewCmdRm, "", append(router, "a:top", "a:/app/x/f")); res.err != nil {
		t.Fatal(res.err)
	}
	if _, ok := r.File("sb-a", "top"); ok {
		t.Error("top was not removed")
	}
	if _, ok := r.File("sb-a", "x/g"); !ok {
		t.Error("x/g was removed")
	}
	res := runWith(t, f, NewCmdRm, "", append(router, "a:missing"))
	if res.err == nil || res.err.Error() != "a:missing: no such file or directory in the sandbox" {
		t.Errorf("missing: %v", res.err)
	}
	if res := runWith(t, f, NewCmdRm, "", append(router, "-f", "a:missing")); res.err != nil {
		t.Errorf("-f missing: %v", res.err)
	}
	if res := runWith(t, f, NewCmdRm, "", append(router, "-r", "a:x")); res.err != nil {
		t.Fatal(res.err)
	}
	if _, ok := r.File("sb-a", "x/g"); ok {
		t.Error("x/g was not removed with -r")
	}
	if res := runWith(t, f, NewCmdRm, "", append(router, "p:x")); res.err == nil || !strings.Contains(res.err.Error(), "is not Ready") {
		t.Errorf("pending claim: %v", res.err)
	}
}

func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	w := &prefixWriter{w: &out, prefix: "[a] ", mu: &mu}
	for _, s := range []string{"one\ntw", "o\n", "", "three", "\nfour"} {
		if n, err := io.WriteString(w, s); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if out.String() != "[a] one\n[a] two\n[a] three\n" {
		t.Errorf("before Flush: %q", out.String())
	}
	w.Flush()
	w.Flush()
	if out.String() != "[a] one\n[a] two\n[a] three\n[a] four\n" {
		t.Errorf("after Flush: %q", out.String())
	}
	// A line longer than maxPartialLine is not held back without end.
	out.Reset()
	_, _ = io.WriteString(w, strings.Repeat("x", maxPartialLine+1))
	if out.Len() != len("[a] ")+maxPartialLine+2 {
		t.Errorf("long line: %d bytes written", out.Len())
	}
	if _, err := (&prefixWriter{w: failWriter{}, prefix: "p", mu: &mu}).Write([]byte("x\n")); err == nil {
		t.Error("a failing writer's error was lost")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestParseEnv(t *testing.T) {
	got, err := parseEnv([]string{"A=1", "B=", "C=x=y", "A=2"})
	if err != nil || !reflect.DeepEqual(got, map[string]string{"A": "2", "B": "", "C": "x=y"}) {
		t.Errorf("parseEnv = %v, %v", got, err)
	}
	if got, err := parseEnv(nil); got != nil || err != nil {
		t.Errorf("parseEnv(nil) = %v, %v", got, err)
	}
	if _, err := parseEnv([]string{"A=\x00"}); err == nil {
		t.Error("a NUL byte was accepted")
	}
}

// fakeStreamer records what attach hands a streaming runtime; it has no
// other method of a runtime.
type fakeStreamer struct {
	sandbox.Runtime // nil: any other call fails the test by a panic
	got             sandbox.Streams
	run             func(ctx context.Context, s sandbox.Streams) (int, error)
	argv            []string
}

func (f *fakeStreamer) Stream(ctx context.Context, cmd sandbox.Command, s sandbox.Streams) (int, error) {
	f.got, f.argv = s, cmd.Argv
	return f.run(ctx, s)
}

func TestAttach(t *testing.T) {
	ios, _, out, _ := genericiooptions.NewTestIOStreams()
	st := &fakeStreamer{run: func(_ context.Context, s sandbox.Streams) (int, error) {
		_, _ = io.WriteString(s.Stdout, "hi\n")
		return 3, nil
	}}
	err := attach(context.Background(), st, sandbox.Command{Argv: []string{"x"}}, ios, true, sandbox.IO{})
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 3 || exit.Forwarded || out.String() != "hi\n" {
		t.Errorf("err %v out %q", err, out.String())
	}
	// Not terminals: the remote terminal gets the default size.
	if st.got.TTY == nil || *st.got.TTY != defaultTermSize || st.got.Resize != nil {
		t.Errorf("terminal %+v resize %v", st.got.TTY, st.got.Resize)
	}
	// A signal while the command runs goes to it, a second one kills it, and
	// the command's status is ours even though we were interrupted.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	st.run = func(_ context.Context, s sandbox.Streams) (int, error) {
		_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
		cancel(&Interrupt{Signal: syscall.SIGINT}) // what main does on the first signal
		first := <-s.Signals
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		second := <-s.Signals
		if first != syscall.SIGINT || second != syscall.SIGKILL {
			t.Errorf("signals %v, %v", first, second)
		}
		return 7, nil // it handled the signals and exited 7
	}
	err = attach(ctx, st, sandbox.Command{Argv: []string{"x"}}, ios, false, sandbox.IO{})
	if !errors.As(err, &exit) || exit.Code != 7 || !exit.Forwarded {
		t.Errorf("interrupted: %v", err)
	}
	root := newRoot()
	root.RunE = func(*cobra.Command, []string) error { return err }
	if code := execute(ctx, root, ios, nil); code != 7 {
		t.Errorf("execute returned %d", code)
	}
	// A third signal gives up on the command.
	st.run = func(ctx context.Context, s sandbox.Streams) (int, error) {
		for i := 0; i < 3; i++ {
			_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
			if i < 2 {
				<-s.Signals
			}
		}
		select {
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		case <-time.After(10 * time.Second):
			return 0, errors.New("not given up")
		}
	}
	err = attach(ctx, st, sandbox.Command{Argv: []string{"x"}}, ios, false, sandbox.IO{Streams: sandbox.Streams{Stdin: strings.NewReader("")}, Timeout: time.Minute})
	var intr *Interrupt
	if !errors.As(err, &intr) {
		t.Errorf("given up: %v", err)
	}
}

func TestOpenTerminalWithoutATerminal(t *testing.T) {
	term, err := openTerminal(strings.NewReader(""), &bytes.Buffer{}, true)
	if err != nil || term.size != defaultTermSize || term.resize != nil {
		t.Fatalf("%+v, %v", term, err)
	}
	term.restore()
	term.restore()
}
