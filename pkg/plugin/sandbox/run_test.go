package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestEnvArgv(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  Command
		want []string
		err  string
	}{
		{name: "no environment: argv as is", cmd: Command{Argv: []string{"ls", "-l", "a=b"}}, want: []string{"ls", "-l", "a=b"}},
		{name: "no environment, a name with =", cmd: Command{Argv: []string{"A=1"}}, want: []string{"A=1"}},
		{name: "a working directory", cmd: Command{Argv: []string{"ls"}, Workdir: "sub dir"}, want: []string{"env", "-C", "sub dir", "--", "ls"}},
		{
			name: "variables, sorted",
			cmd:  Command{Argv: []string{"printenv", "--", "-x"}, Env: map[string]string{"B": "2", "A": "x=y", "C": ""}},
			want: []string{"env", "A=x=y", "B=2", "C=", "--", "printenv", "--", "-x"},
		},
		{
			name: "both",
			cmd:  Command{Argv: []string{"make"}, Env: map[string]string{"K": "v"}, Workdir: "w"},
			want: []string{"env", "-C", "w", "K=v", "--", "make"},
		},
		{
			name: "a command name holding =",
			cmd:  Command{Argv: []string{"A=1", "x"}, Env: map[string]string{"K": "v"}},
			err:  `command "A=1": a command name holding "=" cannot be run with an environment or a working directory on this runtime`,
		},
		{name: "a command name holding =, with a directory", cmd: Command{Argv: []string{"./a=b"}, Workdir: "w"}, err: `command "./a=b"`},
	} {
		got, err := EnvArgv(tc.cmd)
		switch {
		case tc.err != "":
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) || got != nil {
				t.Errorf("%s: EnvArgv = %q, %v; want the error %q", tc.name, got, err, tc.err)
			}
		case err != nil || !reflect.DeepEqual(got, tc.want):
			t.Errorf("%s: EnvArgv = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// inputRuntime is a runtime for execInput: uploads are kept, and what
// happens is logged in order ("upload PATH", "execute ARGV", "remove PATH
// RECURSIVE"). Execute runs execute, for a wrapped command (no env, no
// workdir); to run others, replace fakeRuntime.execute.
type inputRuntime struct {
	*fakeRuntime
	uploadErr error
	uploads   map[string]string
	log       []string
}

func newInputRuntime(t *testing.T, execute func(ctx context.Context, cmd Command) (*Result, error)) *inputRuntime {
	rt := &inputRuntime{uploads: map[string]string{}}
	rt.fakeRuntime = &fakeRuntime{t: t, execute: func(ctx context.Context, cmd Command) (*Result, error) {
		rt.log = append(rt.log, fmt.Sprintf("execute %q", cmd.Argv))
		if cmd.Env != nil || cmd.Workdir != "" {
			t.Errorf("the wrapped command has env %v, workdir %q", cmd.Env, cmd.Workdir)
		}
		return execute(ctx, cmd)
	}}
	return rt
}

func (rt *inputRuntime) Upload(_ context.Context, path string, content io.Reader) error {
	rt.log = append(rt.log, "upload "+path)
	b, err := io.ReadAll(content)
	if err != nil {
		rt.t.Error(err)
	}
	rt.uploads[path] = string(b)
	return rt.uploadErr
}

func (rt *inputRuntime) Remove(ctx context.Context, path string, recursive bool) error {
	rt.log = append(rt.log, fmt.Sprintf("remove %s %v", path, recursive))
	if ctx.Err() != nil {
		rt.t.Errorf("Remove(%q) with a context that is done: %v", path, ctx.Err())
	}
	return nil
}

var tmpName = regexp.MustCompile(`^\.kubectl-sandbox-stdin-[0-9a-f]{16}$`)

// tmpOf returns the one temporary file uploaded.
func (rt *inputRuntime) tmpOf(t *testing.T) string {
	t.Helper()
	if len(rt.uploads) != 1 {
		t.Fatalf("uploads %q, want one", rt.log)
	}
	for p := range rt.uploads {
		if !tmpName.MatchString(p) {
			t.Errorf("temporary file %q", p)
		}
		return p
	}
	return ""
}

// TestExecInput: the input goes to a temporary file in the root, the
// command runs with it as standard input (env applied after the
// redirection), and the file is removed.
func TestExecInput(t *testing.T) {
	rt := newInputRuntime(t, func(ctx context.Context, cmd Command) (*Result, error) {
		return &Result{Stdout: "2\n", ExitCode: 0}, nil
	})
	cmd := Command{Argv: []string{"wc", "-l"}, Env: map[string]string{"K": "v"}, Workdir: "w"}
	res, err := execInput(context.Background(), rt, cmd, strings.NewReader("hello\nworld\n"), 0)
	if err != nil || *res != (Result{Stdout: "2\n"}) {
		t.Fatalf("execInput = %+v, %v", res, err)
	}
	tmp := rt.tmpOf(t)
	if got := rt.uploads[tmp]; got != "hello\nworld\n" {
		t.Errorf("uploaded %q", got)
	}
	want := []string{
		"upload " + tmp,
		fmt.Sprintf("execute %q", []string{"sh", "-c", `exec "$@" <"$0"`, tmp, "env", "-C", "w", "K=v", "--", "wc", "-l"}),
		"remove " + tmp + " false",
	}
	if !reflect.DeepEqual(rt.log, want) {
		t.Errorf("log %q, want %q", rt.log, want)
	}

	// Without environment the argv follows the file as is; a second call
	// gets a file of its own.
	rt2 := newInputRuntime(t, func(ctx context.Context, cmd Command) (*Result, error) { return &Result{}, nil })
	if _, err := execInput(context.Background(), rt2, Command{Argv: []string{"cat"}}, strings.NewReader(""), 0); err != nil {
		t.Fatal(err)
	}
	tmp2 := rt2.tmpOf(t)
	if tmp2 == tmp {
		t.Errorf("two calls used the same temporary file %q", tmp)
	}
	if want := fmt.Sprintf("execute %q", []string{"sh", "-c", `exec "$@" <"$0"`, tmp2, "cat"}); rt2.log[1] != want {
		t.Errorf("ran %s, want %s", rt2.log[1], want)
	}
}

// TestExecInputRemovesTheFileOnEveryPath: a failing, cancelled or timed
// out command still has its input removed, on a context that is not done.
func TestExecInputRemovesTheFileOnEveryPath(t *testing.T) {
	failed := errors.New("runtime down")
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		execute func(ctx context.Context, cancel context.CancelFunc) (*Result, error)
		check   func(err error) bool
	}{
		{
			name:    "the command fails",
			execute: func(context.Context, context.CancelFunc) (*Result, error) { return nil, failed },
			check:   func(err error) bool { return errors.Is(err, failed) },
		},
		{
			name: "the caller cancels",
			execute: func(ctx context.Context, cancel context.CancelFunc) (*Result, error) {
				cancel()
				return nil, ctx.Err()
			},
			check: func(err error) bool { return errors.Is(err, context.Canceled) },
		},
		{
			name:    "the command times out",
			timeout: 10 * time.Millisecond,
			execute: func(ctx context.Context, _ context.CancelFunc) (*Result, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			},
			check: func(err error) bool {
				var te *CommandTimeoutError
				return errors.As(err, &te) && te.After == 10*time.Millisecond && !te.Stopped
			},
		},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		rt := newInputRuntime(t, func(ctx context.Context, _ Command) (*Result, error) { return tc.execute(ctx, cancel) })
		res, err := execInput(ctx, rt, Command{Argv: []string{"cat"}}, strings.NewReader("in"), tc.timeout)
		cancel()
		if res != nil || !tc.check(err) {
			t.Errorf("%s: execInput = %+v, %v", tc.name, res, err)
			continue
		}
		tmp := rt.tmpOf(t)
		if len(rt.log) != 3 || rt.log[2] != "remove "+tmp+" false" {
			t.Errorf("%s: log %q, want the temporary file removed last", tc.name, rt.log)
		}
	}
}

// TestExecInputRefuses: input too large, unreadable input, a command that
// env cannot run, and a failed upload stop execInput before the command
// runs, and before any upload where they can.
func TestExecInputRefuses(t *testing.T) {
	never := func(context.Context, Command) (*Result, error) {
		t.Error("the command ran")
		return nil, errors.New("unexpected")
	}
	rt := newInputRuntime(t, never)
	_, err := execInput(context.Background(), rt, Command{Argv: []string{"cat"}}, io.LimitReader(zeros{}, MaxBufferedInput+1), 0)
	var tooLarge *InputTooLargeError
	if !errors.As(err, &tooLarge) || tooLarge.Max != MaxBufferedInput {
		t.Errorf("execInput of too much = %v, want an *InputTooLargeError", err)
	} else if want := "standard input is larger than 16 MiB, the most this runtime takes (it cannot stream input)"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}

	broken := errors.New("broken pipe")
	if _, err := execInput(context.Background(), rt, Command{Argv: []string{"cat"}}, iotest.ErrReader(broken), 0); !errors.Is(err, broken) || !strings.HasPrefix(err.Error(), "reading standard input: ") {
		t.Errorf("execInput of unreadable input = %v", err)
	}
	if _, err := execInput(context.Background(), rt, Command{Argv: []string{"A=1"}, Workdir: "w"}, strings.NewReader("x"), 0); err == nil {
		t.Error("execInput of a command name holding = with a workdir: no error")
	}
	if len(rt.log) != 0 {
		t.Errorf("log %q, want nothing done", rt.log)
	}

	rt = newInputRuntime(t, never)
	rt.uploadErr = errors.New("disk full")
	if _, err := execInput(context.Background(), rt, Command{Argv: []string{"cat"}}, strings.NewReader("x"), 0); !errors.Is(err, rt.uploadErr) {
		t.Errorf("execInput with a failing upload = %v", err)
	}
	if len(rt.log) != 1 {
		t.Errorf("log %q, want the upload only", rt.log)
	}
}

// TestExecInputAtTheLimit: exactly MaxBufferedInput bytes are sent.
func TestExecInputAtTheLimit(t *testing.T) {
	rt := newInputRuntime(t, func(context.Context, Command) (*Result, error) { return &Result{}, nil })
	if _, err := execInput(context.Background(), rt, Command{Argv: []string{"cat"}}, io.LimitReader(zeros{}, MaxBufferedInput), 0); err != nil {
		t.Fatal(err)
	}
	if got := len(rt.uploads[rt.tmpOf(t)]); got != MaxBufferedInput {
		t.Errorf("uploaded %d bytes, want %d", got, MaxBufferedInput)
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// streamingRuntime is an inputRuntime that streams.
type streamingRuntime struct {
	*inputRuntime
	stream func(ctx context.Context, cmd Command, s Streams) (int, error)
}

func (rt *streamingRuntime) Stream(ctx context.Context, cmd Command, s Streams) (int, error) {
	rt.log = append(rt.log, fmt.Sprintf("stream %q", cmd.Argv))
	return rt.stream(ctx, cmd, s)
}

// TestRun: a streaming runtime gets the command and its input as they
// are; another runs it buffered, with input through a temporary file.
func TestRun(t *testing.T) {
	cmd := Command{Argv: []string{"cat"}, Env: map[string]string{"K": "v"}, Workdir: "w"}
	never := func(context.Context, Command) (*Result, error) {
		t.Error("Execute on a streaming runtime")
		return nil, errors.New("unexpected")
	}

	// A streaming runtime gets the command and the input as they are.
	stdin := strings.NewReader("input")
	st := &streamingRuntime{inputRuntime: newInputRuntime(t, never), stream: func(_ context.Context, got Command, s Streams) (int, error) {
		if !reflect.DeepEqual(got, cmd) || s.Stdin != stdin || s.TTY != nil {
			t.Errorf("Stream(%+v, %+v)", got, s)
		}
		in, _ := io.ReadAll(s.Stdin)
		fmt.Fprintf(s.Stdout, "read %s", in)
		fmt.Fprint(s.Stderr, "warning")
		return 3, nil
	}}
	res, err := Run(context.Background(), st, cmd, IO{Streams: Streams{Stdin: stdin}})
	if err != nil || *res != (Result{Stdout: "read input", Stderr: "warning", ExitCode: 3}) {
		t.Errorf("Run on a streamer = %+v, %v", res, err)
	}
	if len(st.log) != 1 {
		t.Errorf("log %q, want the stream only", st.log)
	}

	// Its failure and its timeout (the command is stopped).
	failed := errors.New("lost")
	st.stream = func(context.Context, Command, Streams) (int, error) { return 0, failed }
	if res, err := Run(context.Background(), st, cmd, IO{}); res != nil || !errors.Is(err, failed) {
		t.Errorf("Run on a failing streamer = %+v, %v", res, err)
	}
	st.stream = func(ctx context.Context, _ Command, _ Streams) (int, error) {
		<-ctx.Done()
		return 0, context.Cause(ctx)
	}
	_, err = Run(context.Background(), st, cmd, IO{Timeout: 10 * time.Millisecond})
	var te *CommandTimeoutError
	if !errors.As(err, &te) || !te.Stopped {
		t.Errorf("Run on a streamer that times out = %v, want a stopped *CommandTimeoutError", err)
	}

	// A runtime that cannot stream runs the command buffered as it is...
	var ran []Command
	rt := newInputRuntime(t, nil)
	rt.execute = func(_ context.Context, got Command) (*Result, error) {
		ran = append(ran, got)
		return &Result{Stdout: "out", ExitCode: 1}, nil
	}
	res, err = Run(context.Background(), rt, cmd, IO{})
	if err != nil || *res != (Result{Stdout: "out", ExitCode: 1}) || len(ran) != 1 || !reflect.DeepEqual(ran[0], cmd) {
		t.Errorf("Run buffered = %+v, %v after %+v", res, err, ran)
	}
	// ... and with input through a temporary file.
	rt = newInputRuntime(t, func(context.Context, Command) (*Result, error) { return &Result{Stdout: "x"}, nil })
	res, err = Run(context.Background(), rt, cmd, IO{Streams: Streams{Stdin: bytes.NewReader([]byte("in"))}})
	if err != nil || res.Stdout != "x" {
		t.Errorf("Run buffered with input = %+v, %v", res, err)
	}
	if tmp := rt.tmpOf(t); rt.uploads[tmp] != "in" || len(rt.log) != 3 {
		t.Errorf("log %q", rt.log)
	}
	// A buffered command that times out may still run.
	rt = newInputRuntime(t, nil)
	rt.execute = func(ctx context.Context, _ Command) (*Result, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	_, err = Run(context.Background(), rt, cmd, IO{Timeout: 10 * time.Millisecond})
	if !errors.As(err, &te) || te.Stopped {
		t.Errorf("Run buffered that times out = %v, want a *CommandTimeoutError not stopped", err)
	}
}

// TestRunWithinABudget: each output stream keeps its head and its tail
// within the budget, in the Result or written to the caller's writers; on
// a streaming runtime the head is written as it comes, the tap sees the
// whole output, and the tail follows at the end, even when the command
// fails.
func TestRunWithinABudget(t *testing.T) {
	cmd := Command{Argv: []string{"yes"}}
	big := strings.Repeat("a", 50) + strings.Repeat("z", 50)
	buffered := newInputRuntime(t, func(context.Context, Command) (*Result, error) {
		return &Result{Stdout: big, Stderr: "e", ExitCode: 4}, nil
	})
	streaming := func(err error) *streamingRuntime {
		return &streamingRuntime{inputRuntime: newInputRuntime(t, nil), stream: func(_ context.Context, _ Command, s Streams) (int, error) {
			for i := 0; i < len(big); i += 10 {
				_, _ = io.WriteString(s.Stdout, big[i:i+10])
			}
			if s.Stderr == nil { // as sandboxd does
				s.Stderr = s.Stdout
			}
			_, _ = io.WriteString(s.Stderr, "e")
			return 4, err
		}}
	}
	trimmed := strings.Repeat("a", 5) + "\n[... 90 bytes omitted ...]\n" + strings.Repeat("z", 5)
	for _, rt := range []Runtime{buffered, streaming(nil)} {
		res, err := Run(context.Background(), rt, cmd, IO{Budget: 10})
		if err != nil || *res != (Result{Stdout: trimmed, Stderr: "e", ExitCode: 4, Truncated: true}) {
			t.Errorf("%T, collected: %+v, %v", rt, res, err)
		}
		var out, errOut bytes.Buffer
		res, err = Run(context.Background(), rt, cmd, IO{Streams: Streams{Stdout: &out, Stderr: &errOut}, Budget: 10})
		if err != nil || *res != (Result{ExitCode: 4, Truncated: true}) || out.String() != trimmed || errOut.String() != "e" {
			t.Errorf("%T, written: %+v, %v, stdout %q, stderr %q", rt, res, err, out.String(), errOut.String())
		}
		out.Reset()
		if _, err := Run(context.Background(), rt, cmd, IO{Streams: Streams{Stdout: &out}}); err != nil || out.String() != big+"e" {
			t.Errorf("%T, no stderr writer: %v, stdout %q", rt, err, out.String())
		}
	}
	var tapped []string
	tap := func(stream string, p []byte) { tapped = append(tapped, stream+":"+string(p)) }
	res, err := Run(context.Background(), streaming(nil), cmd, IO{Budget: 10, Tap: tap})
	if err != nil || res.Stdout != trimmed || len(tapped) != 11 || tapped[9] != "stdout:"+big[90:] || tapped[10] != "stderr:e" {
		t.Errorf("tapped: %+v, %v, %q", res, err, tapped)
	}
	if _, err := Run(context.Background(), buffered, cmd, IO{Tap: tap}); err != nil || len(tapped) != 11 {
		t.Errorf("a buffered runtime tapped: %v, %q", err, tapped)
	}
	// The tail comes after a failure too; a tail that cannot be written
	// is an error.
	lost := errors.New("lost")
	var out bytes.Buffer
	if _, err := Run(context.Background(), streaming(lost), cmd, IO{Streams: Streams{Stdout: &out, Stderr: io.Discard}, Budget: 10}); !errors.Is(err, lost) || out.String() != trimmed {
		t.Errorf("a failed stream: %v, stdout %q", err, out.String())
	}
	broken := errors.New("broken pipe")
	if _, err := Run(context.Background(), streaming(nil), cmd, IO{Streams: Streams{Stdout: &failingWriter{broken, 5}}, Budget: 10}); !errors.Is(err, broken) {
		t.Errorf("an unwritable tail: %v", err)
	}
	if _, err := Run(context.Background(), buffered, cmd, IO{Streams: Streams{Stdout: &failingWriter{broken, 0}}}); !errors.Is(err, broken) {
		t.Errorf("unwritable output of a buffered runtime: %v", err)
	}
	if _, err := Run(context.Background(), buffered, cmd, IO{Streams: Streams{TTY: &TermSize{80, 24}}}); !errors.Is(err, ErrNoTerminal) {
		t.Errorf("a terminal on a buffered runtime: %v", err)
	}
	if CanStream(buffered) || !CanStream(streaming(nil)) {
		t.Error("CanStream")
	}
}

// failingWriter takes ok bytes, then fails every write.
type failingWriter struct {
	err error
	ok  int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) <= w.ok {
		w.ok -= len(p)
		return len(p), nil
	}
	return 0, w.err
}
