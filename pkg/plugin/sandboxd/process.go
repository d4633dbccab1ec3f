package sandboxd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	processv1 "sigs.k8s.io/agent-sandbox/packages/sandboxd/spec/process/v1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// stdinChunk is the most standard input one WriteStdin carries.
const stdinChunk = 32 << 10

// killTimeout bounds the SIGKILL sent to a command whose caller gave up.
const killTimeout = 5 * time.Second

// ProcessError is a ProcessService call that failed.
type ProcessError struct {
	Op  string
	Err error
	// unsent says the call never left: gRPC could not open its stream.
	unsent bool
}

// NotSent says whether the call never reached sandboxd (see
// sandbox.NotSent).
func (e *ProcessError) NotSent() bool { return e.unsent }

func (e *ProcessError) Error() string {
	st, ok := status.FromError(e.Err)
	if !ok {
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	}
	switch st.Code() {
	case codes.NotFound:
		return fmt.Sprintf("%s: %s", e.Op, st.Message())
	case codes.Unavailable:
		return fmt.Sprintf("%s: cannot reach sandboxd: %s", e.Op, st.Message())
	}
	return fmt.Sprintf("%s: sandboxd: %s: %s", e.Op, st.Code(), st.Message())
}

func (e *ProcessError) Unwrap() error { return e.Err }

// LostError is a command whose stream broke before it ended: sandboxd
// kills a command whose stream ends, so it is not left running.
type LostError struct{ Err error }

func (e *LostError) Error() string {
	return fmt.Sprintf("the connection to sandboxd was lost while the command ran (sandboxd stops it): %v", e.Err)
}

func (e *LostError) Unwrap() error { return e.Err }

func config(cmd sandbox.Command) *processv1.ProcessConfig {
	cfg := &processv1.ProcessConfig{Command: cmd.Argv, EnvVars: cmd.Env}
	if cmd.Workdir != "" {
		cfg.Cwd = &cmd.Workdir
	}
	return cfg
}

// Execute runs a command to its end, buffering its output (through Start,
// so that a cancelled context kills its whole process group).
func (c *Client) Execute(ctx context.Context, cmd sandbox.Command) (*sandbox.Result, error) {
	var stdout, stderr bytes.Buffer
	code, err := c.Stream(ctx, cmd, sandbox.Streams{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return nil, err
	}
	return &sandbox.Result{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: code}, nil
}

// Stream runs a command with ProcessService.Start, sending standard input,
// terminal sizes and signals while its output streams back. When ctx ends
// first, the command's process group is killed.
func (c *Client) Stream(ctx context.Context, cmd sandbox.Command, s sandbox.Streams) (int, error) {
	req := &processv1.StartRequest{Config: config(cmd)}
	if s.TTY != nil {
		req.Pty = &processv1.PTY{Cols: uint32(s.TTY.Cols), Rows: uint32(s.TTY.Rows)}
	}
	// The stream does not carry ctx's deadline to sandboxd (which could end
	// the stream first, leaving the process group alive): when ctx ends,
	// the process group is killed, then the stream is cancelled.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	// Control calls outlive ctx: the kill of a cancelled command needs one.
	ctl := context.WithoutCancel(ctx)
	var started atomic.Pointer[process]
	stopKill := context.AfterFunc(ctx, func() {
		if p := started.Load(); p != nil {
			p.kill(ctl)
		}
		cancel()
	})
	defer stopKill()
	stream, err := c.proc.Start(sctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, context.Cause(ctx)
		}
		return 0, &ProcessError{Op: "start", Err: err, unsent: streamNotOpened(err)}
	}
	first, err := stream.Recv()
	if err != nil {
		if ctx.Err() != nil {
			return 0, context.Cause(ctx)
		}
		return 0, &ProcessError{Op: "start", Err: err}
	}
	if first.GetInit() == nil {
		return 0, fmt.Errorf("start: sandboxd did not begin with the process id")
	}
	p := &process{c: c, id: first.GetInit().GetProcessId(), done: make(chan struct{})}
	started.Store(p)
	if ctx.Err() != nil {
		// ctx ended before the process id came: kill it now.
		p.kill(ctl)
		return 0, context.Cause(ctx)
	}
	var wg sync.WaitGroup
	defer func() {
		close(p.done)
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.control(ctl, s)
	}()
	if s.Stdin != nil || s.TTY == nil {
		// The input pump may block in a read of the caller's stdin after
		// the command ends; it is not waited for.
		go p.pump(ctl, s.Stdin, s.TTY != nil)
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return 0, context.Cause(ctx) // killed by the AfterFunc
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, &LostError{Err: err}
		}
		switch e := ev.GetEvent().(type) {
		case *processv1.StartResponse_Stdout:
			err = write(s.Stdout, e.Stdout)
		case *processv1.StartResponse_Stderr:
			if s.Stderr != nil {
				err = write(s.Stderr, e.Stderr)
			} else {
				err = write(s.Stdout, e.Stderr)
			}
		case *processv1.StartResponse_Exit:
			return p.exitCode(e.Exit.GetExitCode())
		}
		if err != nil {
			p.kill(ctl)
			return 0, fmt.Errorf("writing the command's output: %w", err)
		}
	}
}

// streamNotOpened says whether Start's error is gRPC's failure to open the
// stream, before anything was sent: no connection (Unavailable), or a
// connection closed under it (Canceled, the caller's context being live).
// A stream that opened and then broke fails later, in Recv, or with
// io.EOF, which is no status.
func streamNotOpened(err error) bool {
	st, ok := status.FromError(err)
	return ok && (st.Code() == codes.Unavailable || st.Code() == codes.Canceled)
}

func write(w io.Writer, b []byte) error {
	if w == nil {
		return nil
	}
	_, err := w.Write(b)
	return err
}

// process is a started command.
type process struct {
	c    *Client
	id   int32
	done chan struct{}
	// signal is the last signal sent, for the exit code.
	signal atomic.Int32
}

// exitCode turns sandboxd's exit code into ours: -1 is a process a signal
// ended, which is 128+signal when we sent it.
func (p *process) exitCode(code int32) (int, error) {
	if code >= 0 {
		return int(code), nil
	}
	if sig := p.signal.Load(); sig != 0 {
		return 128 + int(sig), nil
	}
	return 0, sandbox.ErrSignalled
}

// control forwards signals and terminal sizes until the command ends.
func (p *process) control(ctx context.Context, s sandbox.Streams) {
	for {
		select {
		case <-p.done:
			return
		case sig, ok := <-s.Signals:
			if !ok {
				s.Signals = nil
				continue
			}
			p.send(ctx, sig)
		case size, ok := <-s.Resize:
			if !ok {
				s.Resize = nil
				continue
			}
			_, _ = p.c.proc.ResizeTTY(ctx, &processv1.ResizeTTYRequest{ProcessId: p.id, Cols: uint32(size.Cols), Rows: uint32(size.Rows)})
		}
	}
}

var signals = map[syscall.Signal]processv1.Signal{
	syscall.SIGINT:  processv1.Signal_SIGNAL_SIGINT,
	syscall.SIGTERM: processv1.Signal_SIGNAL_SIGTERM,
	syscall.SIGKILL: processv1.Signal_SIGNAL_SIGKILL,
}

// send delivers sig to the command's process group; sandboxd knows only
// SIGINT, SIGTERM and SIGKILL, so any other is sent as SIGTERM.
func (p *process) send(ctx context.Context, sig syscall.Signal) {
	s, ok := signals[sig]
	if !ok {
		sig, s = syscall.SIGTERM, processv1.Signal_SIGNAL_SIGTERM
	}
	p.signal.Store(int32(sig))
	_, _ = p.c.proc.SendSignal(ctx, &processv1.SendSignalRequest{ProcessId: p.id, Signal: s})
}

func (p *process) kill(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, killTimeout)
	defer cancel()
	_, _ = p.c.proc.SendSignal(ctx, &processv1.SendSignalRequest{ProcessId: p.id, Signal: processv1.Signal_SIGNAL_SIGKILL})
}

// eofDelay is how long a command without input runs before its end of
// input is sent (a variable for tests).
var eofDelay = 50 * time.Millisecond

// pump sends in to the command, then end of input (not on a terminal:
// sandboxd's end of input closes the terminal itself; a terminal's end of
// input is the ^D the user types). Without input, end of input is sent
// only once the command has run for eofDelay: most commands end sooner and
// never read their input, and the call saves a round trip through the
// port-forward (about half a millisecond of a 9 ms `true` here); one that
// reads it gets end of input eofDelay late.
func (p *process) pump(ctx context.Context, in io.Reader, tty bool) {
	if in == nil && !tty {
		t := time.NewTimer(eofDelay)
		defer t.Stop()
		select {
		case <-p.done:
			return
		case <-t.C:
		}
	}
	if in != nil {
		buf := make([]byte, stdinChunk)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				if !p.writeStdin(ctx, &processv1.WriteStdinRequest{ProcessId: p.id, Payload: &processv1.WriteStdinRequest_Input{Input: bytes.Clone(buf[:n])}}) {
					return
				}
			}
			if err != nil {
				break
			}
		}
	}
	if !tty {
		p.writeStdin(ctx, &processv1.WriteStdinRequest{ProcessId: p.id, Payload: &processv1.WriteStdinRequest_Eof{Eof: &emptypb.Empty{}}})
	}
}

// writeStdin sends one request; false when the command is gone.
func (p *process) writeStdin(ctx context.Context, req *processv1.WriteStdinRequest) bool {
	select {
	case <-p.done:
		return false
	default:
	}
	_, err := p.c.proc.WriteStdin(ctx, req)
	return err == nil
}
