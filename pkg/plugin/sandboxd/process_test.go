package sandboxd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	processv1 "sigs.k8s.io/agent-sandbox/packages/sandboxd/spec/process/v1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

var sh = sandbox.Command{Argv: []string{"sh", "-c", "true"}}

// streamResult is what Stream returned.
type streamResult struct {
	code int
	err  error
}

// goStream runs Stream in the background.
func goStream(ctx context.Context, c *Client, cmd sandbox.Command, s sandbox.Streams) <-chan streamResult {
	done := make(chan streamResult, 1)
	go func() {
		code, err := c.Stream(ctx, cmd, s)
		done <- streamResult{code, err}
	}()
	return done
}

// waitForNoPump returns once no standard input pump runs: a pump that is
// gone has made every call it was going to make.
func waitForNoPump(t *testing.T) {
	t.Helper()
	waitForNoGoroutineIn(t, "sandboxd.(*process).pump(")
}

// waitForNoGoroutineIn returns once no goroutine's stack holds frame.
func waitForNoGoroutineIn(t *testing.T, frame string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(guard)
	for {
		n := runtime.Stack(buf, true)
		if !bytes.Contains(buf[:n], []byte(frame)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a goroutine still runs %s after %s", frame, guard)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStreamKeepsStdoutAndStderrApartAsTheyArrive: each chunk reaches its
// writer while the command still runs.
func TestStreamKeepsStdoutAndStderrApartAsTheyArrive(t *testing.T) {
	step := make(chan struct{})
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		p.stdout("out 1")
		if !p.wait(step) {
			return nil
		}
		p.stderr("err 1")
		if !p.wait(step) {
			return nil
		}
		p.stdout("out 2")
		return p.exit(3)
	}})
	stdout, stderr := make(chan string, 16), make(chan string, 16)
	done := goStream(context.Background(), fx.Client, sh, sandbox.Streams{Stdout: chanWriter(stdout), Stderr: chanWriter(stderr)})
	if got := recv(t, stdout); got != "out 1" {
		t.Errorf("stdout got %q, want out 1", got)
	}
	step <- struct{}{}
	if got := recv(t, stderr); got != "err 1" {
		t.Errorf("stderr got %q, want err 1", got)
	}
	step <- struct{}{}
	if got := recv(t, stdout); got != "out 2" {
		t.Errorf("stdout got %q, want out 2", got)
	}
	if res := recv(t, done); res.code != 3 || res.err != nil {
		t.Errorf("Stream = %d, %v; want 3, nil", res.code, res.err)
	}
}

// TestStreamWithoutStderrWriter: stderr goes to Stdout.
func TestStreamWithoutStderrWriter(t *testing.T) {
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		p.stdout("a")
		p.stderr("b")
		p.stdout("c")
		return p.exit(0)
	}})
	var out bytes.Buffer
	code, err := fx.Stream(context.Background(), sh, sandbox.Streams{Stdout: &out})
	if code != 0 || err != nil || out.String() != "abc" {
		t.Errorf("Stream = %d, %v, output %q; want 0, nil, abc", code, err, out.String())
	}
	// Without any writer the output is dropped.
	if code, err := fx.Stream(context.Background(), sh, sandbox.Streams{}); code != 0 || err != nil {
		t.Errorf("Stream without writers = %d, %v", code, err)
	}
}

func TestStreamExitCodes(t *testing.T) {
	for _, want := range []int32{0, 1, 2, 126, 127, 255} {
		fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error { return p.exit(want) }})
		code, err := fx.Stream(context.Background(), sh, sandbox.Streams{})
		if code != int(want) || err != nil {
			t.Errorf("exit %d: Stream = %d, %v", want, code, err)
		}
	}
}

// TestStreamSendsTheCommandExactly: argv, environment and working
// directory reach sandboxd as given, and no terminal is asked for.
func TestStreamSendsTheCommandExactly(t *testing.T) {
	wd := "sub dir/x"
	for _, tc := range []struct {
		name string
		cmd  sandbox.Command
		want *processv1.StartRequest
	}{
		{
			name: "argv only",
			cmd:  sandbox.Command{Argv: []string{"printf", "%s\n", "a b", "", "$HOME", "-rf", "ü\n"}},
			want: &processv1.StartRequest{Config: &processv1.ProcessConfig{Command: []string{"printf", "%s\n", "a b", "", "$HOME", "-rf", "ü\n"}}},
		},
		{
			name: "environment and working directory",
			cmd:  sandbox.Command{Argv: []string{"env"}, Env: map[string]string{"A": "1", "B": "x y", "EMPTY": ""}, Workdir: wd},
			want: &processv1.StartRequest{Config: &processv1.ProcessConfig{
				Command: []string{"env"}, EnvVars: map[string]string{"A": "1", "B": "x y", "EMPTY": ""}, Cwd: &wd,
			}},
		},
	} {
		got := make(chan *processv1.StartRequest, 1)
		fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
			got <- p.req
			return p.exit(0)
		}})
		if _, err := fx.Stream(context.Background(), tc.cmd, sandbox.Streams{}); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if req := recv(t, got); !proto.Equal(req, tc.want) {
			t.Errorf("%s: sandboxd got %v, want %v", tc.name, req, tc.want)
		}
	}
}

// TestStreamPumpsStdinInOrderThenEOF: standard input arrives whole, in
// order, in chunks of at most stdinChunk, followed by end of input.
func TestStreamPumpsStdinInOrderThenEOF(t *testing.T) {
	big := make([]byte, 3*stdinChunk+123)
	for i := range big {
		big[i] = 'a' + byte(i%26)
	}
	in := io.MultiReader(strings.NewReader("first "), iotest.OneByteReader(strings.NewReader("xyz")), bytes.NewReader(big))
	want := "first xyz" + string(big)
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		got, ok := p.input()
		if !ok {
			return nil
		}
		if got != want {
			t.Errorf("the command read %d bytes, not the %d sent", len(got), len(want))
		}
		p.stdout("done")
		return p.exit(0)
	}})
	var out bytes.Buffer
	code, err := fx.Stream(context.Background(), sh, sandbox.Streams{Stdin: in, Stdout: &out})
	if code != 0 || err != nil || out.String() != "done" {
		t.Fatalf("Stream = %d, %v, output %q", code, err, out.String())
	}
	calls := fx.procs.calls()
	if len(calls) == 0 || calls[len(calls)-1] != "1 eof" {
		t.Errorf("the last call is not end of input: %.80q", calls)
	}
	for _, c := range calls {
		if data, ok := strings.CutPrefix(c, "1 stdin "); ok && (len(data) == 0 || len(data) > stdinChunk) {
			t.Errorf("a WriteStdin carried %d bytes", len(data))
		}
	}
}

// TestStreamWithoutStdinSendsEOF: a command that reads its input gets end
// of input, not a hang.
func TestStreamWithoutStdinSendsEOF(t *testing.T) {
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		if ev, ok := p.next(); ev != "eof" {
			if ok {
				t.Errorf("first event %q, want eof", ev)
			}
			return nil
		}
		return p.exit(0)
	}})
	if code, err := fx.Stream(context.Background(), sh, sandbox.Streams{}); code != 0 || err != nil {
		t.Errorf("Stream = %d, %v", code, err)
	}
}

// TestStreamWithoutStdinThatEndsSoonSendsNothing: a command without input
// that ends before eofDelay costs no WriteStdin; one that runs longer gets
// end of input after eofDelay.
func TestStreamWithoutStdinThatEndsSoonSendsNothing(t *testing.T) {
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		time.Sleep(eofDelay / 5) // a command that ends soon, not at once
		return p.exit(0)
	}})
	if code, err := fx.Stream(context.Background(), sh, sandbox.Streams{}); code != 0 || err != nil {
		t.Errorf("Stream = %d, %v", code, err)
	}
	time.Sleep(2 * eofDelay)
	if calls := fx.procs.calls(); len(calls) != 0 {
		t.Errorf("calls after the command ended: %q", calls)
	}

	var waited time.Duration
	fx = newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		start := time.Now()
		if ev, ok := p.next(); ev != "eof" {
			if ok {
				t.Errorf("first event %q, want eof", ev)
			}
			return nil
		}
		waited = time.Since(start)
		return p.exit(0)
	}})
	if code, err := fx.Stream(context.Background(), sh, sandbox.Streams{}); code != 0 || err != nil {
		t.Errorf("Stream = %d, %v", code, err)
	}
	if waited < eofDelay {
		t.Errorf("end of input came after %v, want at least %v", waited, eofDelay)
	}
}

// TestStreamOnATerminal: the terminal's size is sent with Start, later
// sizes with ResizeTTY, input is sent as typed, and end of input is never
// sent (sandboxd would close the terminal).
func TestStreamOnATerminal(t *testing.T) {
	release := make(chan struct{})
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		if got, want := p.req.GetPty(), (&processv1.PTY{Cols: 80, Rows: 24}); !proto.Equal(got, want) {
			t.Errorf("PTY %v, want %v", got, want)
		}
		for _, want := range []string{"stdin ls\n", "resize 100x40", "resize 120x50"} {
			ev, ok := p.next()
			if !ok {
				return nil
			}
			if ev != want {
				t.Errorf("event %q, want %q", ev, want)
			}
			if want == "stdin ls\n" {
				p.stdout("$ ")
			}
		}
		p.stdout("ready")
		if !p.wait(release) {
			return nil
		}
		return p.exit(0)
	}})
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	resize := make(chan sandbox.TermSize)
	out := make(chan string, 16)
	done := goStream(context.Background(), fx.Client, sh, sandbox.Streams{
		Stdin: pr, Stdout: chanWriter(out), TTY: &sandbox.TermSize{Cols: 80, Rows: 24}, Resize: resize,
	})
	if _, err := io.WriteString(pw, "ls\n"); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, out); got != "$ " {
		t.Errorf("output %q", got)
	}
	resize <- sandbox.TermSize{Cols: 100, Rows: 40}
	resize <- sandbox.TermSize{Cols: 120, Rows: 50}
	if got := recv(t, out); got != "ready" {
		t.Errorf("output %q", got)
	}
	pw.Close() // the user's input ends
	waitForNoPump(t)
	close(release)
	if res := recv(t, done); res.code != 0 || res.err != nil {
		t.Errorf("Stream = %d, %v", res.code, res.err)
	}
	for _, c := range fx.procs.calls() {
		if strings.HasSuffix(c, " eof") {
			t.Errorf("end of input was sent to a terminal: %q", fx.procs.calls())
		}
	}
}

// TestStreamOnATerminalWithoutStdin: no input at all, not end of input.
func TestStreamOnATerminalWithoutStdin(t *testing.T) {
	release := make(chan struct{})
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		p.stdout("ready")
		if !p.wait(release) {
			return nil
		}
		return p.exit(0)
	}})
	out := make(chan string, 16)
	done := goStream(context.Background(), fx.Client, sh, sandbox.Streams{Stdout: chanWriter(out), TTY: &sandbox.TermSize{Cols: 1, Rows: 1}})
	recv(t, out)
	waitForNoPump(t)
	close(release)
	if res := recv(t, done); res.code != 0 || res.err != nil {
		t.Errorf("Stream = %d, %v", res.code, res.err)
	}
	if calls := fx.procs.calls(); len(calls) != 0 {
		t.Errorf("calls %q, want none", calls)
	}
}

// TestStreamResizeWithoutTerminal: sandboxd refuses the resize, and the
// command runs on; closed channels are not read again.
func TestStreamResizeWithoutTerminal(t *testing.T) {
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		if !p.await("resize 10x5 refused") {
			return nil
		}
		return p.exit(4)
	}})
	resize := make(chan sandbox.TermSize, 1)
	resize <- sandbox.TermSize{Cols: 10, Rows: 5}
	close(resize)
	signals := make(chan syscall.Signal)
	close(signals)
	code, err := fx.Stream(context.Background(), sh, sandbox.Streams{Resize: resize, Signals: signals})
	if code != 4 || err != nil {
		t.Errorf("Stream = %d, %v; want 4, nil", code, err)
	}
}

// TestStreamForwardsSignals: SIGINT, SIGTERM and SIGKILL are sent as
// such, any other as SIGTERM; a command that the signal ends reports
// 128+signal.
func TestStreamForwardsSignals(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		sent processv1.Signal
		code int
	}{
		{syscall.SIGINT, processv1.Signal_SIGNAL_SIGINT, 130},
		{syscall.SIGTERM, processv1.Signal_SIGNAL_SIGTERM, 143},
		{syscall.SIGKILL, processv1.Signal_SIGNAL_SIGKILL, 137},
		{syscall.SIGHUP, processv1.Signal_SIGNAL_SIGTERM, 143},
		{syscall.SIGQUIT, processv1.Signal_SIGNAL_SIGTERM, 143},
	} {
		fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
			if !p.await("signal " + tc.sent.String()) {
				return nil
			}
			return p.exit(-1)
		}})
		signals := make(chan syscall.Signal, 1)
		signals <- tc.sig
		code, err := fx.Stream(context.Background(), sh, sandbox.Streams{Signals: signals})
		if code != tc.code || err != nil {
			t.Errorf("%v: Stream = %d, %v; want %d, nil", tc.sig, code, err, tc.code)
		}
	}
}

// TestStreamSignalHandled: a command that handles the signal and exits
// reports its own code.
func TestStreamSignalHandled(t *testing.T) {
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		if !p.await("signal SIGNAL_SIGINT") {
			return nil
		}
		return p.exit(0)
	}})
	signals := make(chan syscall.Signal, 1)
	signals <- syscall.SIGINT
	if code, err := fx.Stream(context.Background(), sh, sandbox.Streams{Signals: signals}); code != 0 || err != nil {
		t.Errorf("Stream = %d, %v; want 0, nil", code, err)
	}
}

// TestStreamSignalledByOthers: -1 without a signal of ours is
// ErrSignalled.
func TestStreamSignalledByOthers(t *testing.T) {
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error { return p.exit(-1) }})
	code, err := fx.Stream(context.Background(), sh, sandbox.Streams{})
	if !errors.Is(err, sandbox.ErrSignalled) {
		t.Errorf("Stream = %d, %v; want ErrSignalled", code, err)
	}
}

// TestStreamCancelledKillsTheCommand: when the caller gives up, the
// command's process group is killed and the context's cause returned.
func TestStreamCancelledKillsTheCommand(t *testing.T) {
	killed := make(chan bool, 1)
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		p.stdout("started")
		// A process that outlives its stream until SIGKILL.
		killed <- p.await("signal SIGNAL_SIGKILL")
		return nil
	}})
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	out := make(chan string, 16)
	done := goStream(ctx, fx.Client, sh, sandbox.Streams{Stdout: chanWriter(out)})
	recv(t, out)
	cause := errors.New("the user pressed ^C twice")
	cancel(cause)
	if res := recv(t, done); !errors.Is(res.err, cause) {
		t.Errorf("Stream = %d, %v; want the cause", res.code, res.err)
	}
	if !recv(t, killed) {
		t.Error("the command was not killed")
	}
}

// TestStreamCancelledBeforeStart: a context that ends before the stream
// opens is reported as its cause, as one that ends later is, not as an
// error of sandboxd's.
func TestStreamCancelledBeforeStart(t *testing.T) {
	fx := newFixture(t, nil)
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("the user pressed ^C")
	cancel(cause)
	if _, err := fx.Stream(ctx, sh, sandbox.Streams{}); !errors.Is(err, cause) {
		t.Errorf("Stream = %v, want the context's cause", err)
	}
	if _, err := fx.Execute(ctx, sh); !errors.Is(err, cause) {
		t.Errorf("Execute = %v, want the context's cause", err)
	}
}

// TestStreamOutputWriterFails: the command is killed and the error
// returned.
func TestStreamOutputWriterFails(t *testing.T) {
	killed := make(chan bool, 1)
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		p.stdout("x")
		killed <- p.await("signal SIGNAL_SIGKILL")
		return nil
	}})
	diskFull := errors.New("disk full")
	_, err := fx.Stream(context.Background(), sh, sandbox.Streams{Stdout: failingWriter{diskFull}})
	if !errors.Is(err, diskFull) {
		t.Errorf("Stream = %v, want the writer's error", err)
	}
	if !recv(t, killed) {
		t.Error("the command was not killed")
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

// TestStreamLost: a stream that breaks before the exit event is a
// *LostError, whatever broke it.
func TestStreamLost(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(p *fakeProc) error
		drop bool
		want func(err error) bool
	}{
		{
			name: "sandboxd ends the stream with an error",
			run:  func(p *fakeProc) error { return status.Error(codes.Internal, "failed to send ExitEvent") },
			want: func(err error) bool { return status.Code(err) == codes.Internal },
		},
		{
			name: "sandboxd ends the stream without an exit",
			run:  func(p *fakeProc) error { return nil },
			want: func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) },
		},
		{
			name: "the connection drops",
			run: func(p *fakeProc) error {
				select {
				case <-p.stream.Context().Done():
				case <-p.f.quit:
				}
				return nil
			},
			drop: true,
			want: func(err error) bool { return status.Code(err) == codes.Unavailable },
		},
	} {
		fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
			p.stdout("partial")
			return tc.run(p)
		}})
		out := make(chan string, 16)
		done := goStream(context.Background(), fx.Client, sh, sandbox.Streams{Stdout: chanWriter(out)})
		if got := recv(t, out); got != "partial" {
			t.Errorf("%s: output %q", tc.name, got)
		}
		if tc.drop {
			fx.dropConnections()
		}
		res := recv(t, done)
		var lost *LostError
		if !errors.As(res.err, &lost) || !tc.want(lost.Err) {
			t.Errorf("%s: Stream = %d, %v; want a *LostError", tc.name, res.code, res.err)
			continue
		}
		if !strings.Contains(res.err.Error(), "connection to sandboxd was lost") {
			t.Errorf("%s: message %q", tc.name, res.err)
		}
	}
}

// TestStartRefused: a command sandboxd cannot start is a *ProcessError
// that names it.
func TestStartRefused(t *testing.T) {
	fx := newFixture(t, &fakeProcesses{refuse: func(req *processv1.StartRequest) error {
		// As mapCommandError words it.
		return status.Errorf(codes.NotFound, "failed to start command: command or path not found: %v",
			&exec.Error{Name: req.GetConfig().GetCommand()[0], Err: exec.ErrNotFound})
	}})
	_, err := fx.Stream(context.Background(), sandbox.Command{Argv: []string{"nosuch", "arg"}}, sandbox.Streams{})
	var pe *ProcessError
	if !errors.As(err, &pe) || pe.Op != "start" || status.Code(pe.Err) != codes.NotFound {
		t.Fatalf("Stream = %v, want a NotFound *ProcessError", err)
	}
	if want := `start: failed to start command: command or path not found: exec: "nosuch": executable file not found in $PATH`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if res, err := fx.Execute(context.Background(), sandbox.Command{Argv: []string{"nosuch"}}); res != nil || err == nil || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Errorf("Execute = %v, %v", res, err)
	}
}

// TestStartOfNoCommand: sandboxd's InvalidArgument is a *ProcessError.
func TestStartOfNoCommand(t *testing.T) {
	fx := newFixture(t, nil)
	_, err := fx.Stream(context.Background(), sandbox.Command{}, sandbox.Streams{})
	var pe *ProcessError
	if !errors.As(err, &pe) || status.Code(pe.Err) != codes.InvalidArgument {
		t.Errorf("Stream = %v, want an InvalidArgument *ProcessError", err)
	}
}

// TestStartWithoutInit: a stream that does not begin with the process id
// is refused.
func TestStartWithoutInit(t *testing.T) {
	fx := newFixture(t, &fakeProcesses{noInit: true, run: func(p *fakeProc) error { return p.exit(0) }})
	_, err := fx.Stream(context.Background(), sh, sandbox.Streams{})
	if err == nil || err.Error() != "start: sandboxd did not begin with the process id" {
		t.Errorf("Stream = %v", err)
	}
}

func TestProcessErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  *ProcessError
		want string
	}{
		{&ProcessError{Op: "start", Err: status.Error(codes.NotFound, `exec: "x": not found`)}, `start: exec: "x": not found`},
		{&ProcessError{Op: "start", Err: status.Error(codes.Unavailable, "connection refused")}, "start: cannot reach sandboxd: connection refused"},
		{&ProcessError{Op: "start", Err: status.Error(codes.PermissionDenied, "cwd: path escapes sandbox root")}, "start: sandboxd: PermissionDenied: cwd: path escapes sandbox root"},
		{&ProcessError{Op: "start", Err: errors.New("plain")}, "start: plain"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.err.Err, got, tc.want)
		}
		if !errors.Is(tc.err, tc.err.Err) {
			t.Errorf("%q does not unwrap", tc.want)
		}
	}
}

// TestExecuteBuffers: Execute returns the whole output and the exit code.
func TestExecuteBuffers(t *testing.T) {
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		p.stdout("hello ")
		p.stderr("oops\n")
		p.stdout("world\n")
		return p.exit(7)
	}})
	res, err := fx.Execute(context.Background(), sh)
	if err != nil {
		t.Fatal(err)
	}
	if want := (sandbox.Result{Stdout: "hello world\n", Stderr: "oops\n", ExitCode: 7}); *res != want {
		t.Errorf("Execute = %+v, want %+v", *res, want)
	}
}

// TestRunTimeoutKills: a command that runs out of time is killed and
// reported as stopped. The stream does not carry the deadline to
// sandboxd, whose own timer could otherwise end the stream first (as a
// *LostError, with the process group left alive).
func TestRunTimeoutKills(t *testing.T) {
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		// The timeout may expire before the client has the process id;
		// sandboxd then kills the command when its stream ends. Else the
		// client kills it (TestStreamCancelledKillsTheCommand).
		p.killedOrGone()
		return nil
	}})
	_, err := sandbox.Run(context.Background(), fx.Client, sh, sandbox.IO{Timeout: 20 * time.Millisecond})
	var te *sandbox.CommandTimeoutError
	if !errors.As(err, &te) || !te.Stopped || te.After != 20*time.Millisecond {
		t.Errorf("Run = %v, want a stopped *CommandTimeoutError", err)
	}
}

// TestMkdirAll: an exact-argv mkdir -p --, nothing for no directory, and
// a failure names what failed.
func TestMkdirAll(t *testing.T) {
	argvs := make(chan []string, 4)
	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		argv := p.req.GetConfig().GetCommand()
		argvs <- argv
		if argv[len(argv)-1] == "ro" {
			p.stderr("mkdir: cannot create directory 'ro': Read-only file system\nmore\n")
			return p.exit(1)
		}
		return p.exit(0)
	}})
	if err := sandbox.MkdirAll(context.Background(), fx); err != nil {
		t.Errorf("MkdirAll() = %v", err)
	}
	dirs := []string{"a b/c", "-rf", "50%", "ü\n"}
	if err := sandbox.MkdirAll(context.Background(), fx, dirs...); err != nil {
		t.Fatal(err)
	}
	if got, want := recv(t, argvs), append([]string{"mkdir", "-p", "--"}, dirs...); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("argv %q, want %q", got, want)
	}
	err := sandbox.MkdirAll(context.Background(), fx, "ro")
	if err == nil || err.Error() != "creating directories in the sandbox: exit code 1: mkdir: cannot create directory 'ro': Read-only file system" {
		t.Errorf("MkdirAll(ro) = %v", err)
	}
	if got := recv(t, argvs); len(got) != 4 || got[3] != "ro" {
		t.Errorf("argv %q", got)
	}
}

// TestStartThatNeverLeftSaysSo: a command whose stream cannot be opened
// (nothing listens: the port-forward is gone) was provably not sent
// (sandbox.NotSent); one that sandboxd refused, or whose stream broke
// after it started, may have been.
func TestStartThatNeverLeftSaysSo(t *testing.T) {
	conn, err := grpc.NewClient("passthrough:///sandboxd",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = New(conn, &url.URL{Scheme: "http", Host: "127.0.0.1:1"}, http.DefaultClient, "team/box").Stream(context.Background(), sh, sandbox.Streams{})
	var pe *ProcessError
	if !errors.As(err, &pe) || status.Code(pe.Err) != codes.Unavailable || !sandbox.NotSent(err) {
		t.Errorf("Stream without a connection = %v (NotSent %v), want an Unavailable *ProcessError that was not sent", err, sandbox.NotSent(err))
	}

	refused := newFixture(t, &fakeProcesses{refuse: func(*processv1.StartRequest) error {
		return status.Error(codes.Unavailable, "sandboxd is shutting down")
	}})
	if _, err := refused.Stream(context.Background(), sh, sandbox.Streams{}); err == nil || sandbox.NotSent(err) {
		t.Errorf("a start that sandboxd refused: %v, NotSent %v; want an error that may have been sent", err, sandbox.NotSent(err))
	}

	fx := newFixture(t, &fakeProcesses{run: func(p *fakeProc) error {
		p.stdout("partial")
		select {
		case <-p.stream.Context().Done():
		case <-p.f.quit:
		}
		return nil
	}})
	out := make(chan string, 16)
	done := goStream(context.Background(), fx.Client, sh, sandbox.Streams{Stdout: chanWriter(out)})
	recv(t, out)
	fx.dropConnections()
	if res := recv(t, done); res.err == nil || sandbox.NotSent(res.err) {
		t.Errorf("a stream that broke after the start: %v, NotSent %v", res.err, sandbox.NotSent(res.err))
	}
}
