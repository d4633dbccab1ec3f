package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// IO connects a command that Run runs to the caller, and bounds it.
type IO struct {
	// Streams are the command's input and where its output goes. Stdout
	// and Stderr, when set, receive the output (within Budget): as the
	// command produces it on a runtime that streams, else when it ends;
	// unset, the Result carries it. Stderr unset beside Stdout, and any
	// output on a terminal, go to Stdout. TTY, Resize and Signals need a
	// runtime that streams (see CanStream).
	Streams
	// Budget is the most bytes of each stream kept: the head and the tail
	// with a marker of what was left out between them (see Trim); 0 keeps
	// everything.
	Budget int
	// Tap, when set, sees each chunk of output as a runtime that streams
	// produces it, whole (stream is "stdout" or "stderr").
	Tap func(stream string, chunk []byte)
	// Timeout gives up on the command after this long (0: the runtime's own
	// limit); a runtime that streams kills it.
	Timeout time.Duration
}

// ErrNoTerminal is a terminal asked of a runtime that does not stream.
var ErrNoTerminal = errors.New("the runtime cannot give a command a terminal")

// CanStream says whether rt streams commands: their output as it comes,
// standard input as it is read, terminals and signals.
func CanStream(rt Runtime) bool {
	_, ok := rt.(Streamer)
	return ok
}

// Run runs cmd on rt to its end and returns how it exited and, unless o's
// writers take it, what it printed; each output stream is kept within
// o.Budget. A runtime that streams streams the output (the head of each
// stream passed on at once, its tail when the command ends); another one
// answers with all of it when the command ends, and its standard input is
// sent whole beforehand (see execInput).
func Run(ctx context.Context, rt Runtime, cmd Command, o IO) (*Result, error) {
	if st, ok := rt.(Streamer); ok {
		return runStreamed(ctx, st, cmd, o)
	}
	if o.TTY != nil {
		return nil, ErrNoTerminal
	}
	var res *Result
	var err error
	if o.Stdin != nil {
		res, err = execInput(ctx, rt, cmd, o.Stdin, o.Timeout)
	} else {
		res, err = execute(ctx, rt, cmd, o.Timeout)
	}
	if err != nil {
		return nil, err
	}
	res = res.Trim(o.Budget)
	if o.Stdout == nil {
		return res, nil
	}
	stderr := o.Stderr
	if stderr == nil {
		stderr = o.Stdout
	}
	if _, err := io.WriteString(o.Stdout, res.Stdout); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(stderr, res.Stderr); err != nil {
		return nil, err
	}
	return &Result{ExitCode: res.ExitCode, Truncated: res.Truncated}, nil
}

// runStreamed is Run on a runtime that streams: each output stream goes
// through a HeadTail, into o's writers or buffers for the Result.
func runStreamed(ctx context.Context, st Streamer, cmd Command, o IO) (*Result, error) {
	var stdout, stderr bytes.Buffer
	s := o.Streams
	collect := s.Stdout == nil
	if collect {
		s.Stdout, s.Stderr = &stdout, &stderr
	}
	var tails []*HeadTail
	within := func(w io.Writer, name string) io.Writer {
		if w == nil {
			return nil
		}
		ht := NewHeadTail(w, o.Budget)
		tails = append(tails, ht)
		if o.Tap == nil {
			return ht
		}
		return tapWriter{ht, name, o.Tap}
	}
	s.Stdout, s.Stderr = within(s.Stdout, "stdout"), within(s.Stderr, "stderr")
	code, err := streamExec(ctx, st, cmd, s, o.Timeout)
	res := &Result{ExitCode: code}
	// The tails are written on every path: the last of what the command
	// printed before it failed may say why.
	for _, ht := range tails {
		if cerr := ht.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("writing the command's output: %w", cerr)
		}
		res.Truncated = res.Truncated || ht.Truncated()
	}
	if err != nil {
		return nil, err
	}
	if collect {
		res.Stdout, res.Stderr = stdout.String(), stderr.String()
	}
	return res, nil
}

// tapWriter shows each write to tap before passing it on.
type tapWriter struct {
	w    io.Writer
	name string
	tap  func(string, []byte)
}

func (t tapWriter) Write(p []byte) (int, error) {
	t.tap(t.name, p)
	return t.w.Write(p)
}

// errCommandTimeout ends the context of a command that ran out of time,
// and only that one: a deadline of the caller's is not the command's.
var errCommandTimeout = errors.New("command timeout")

// execute runs cmd on rt, giving up after timeout (0: no limit of ours).
func execute(ctx context.Context, rt Runtime, cmd Command, timeout time.Duration) (*Result, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, errCommandTimeout)
		defer cancel()
	}
	res, err := rt.Execute(ctx, cmd)
	if err != nil && errors.Is(context.Cause(ctx), errCommandTimeout) {
		return nil, &CommandTimeoutError{After: timeout, Stopped: CanStream(rt)} // a streaming runtime kills what it gives up on
	}
	return res, err
}

// streamExec runs cmd on a streaming runtime, killing it after timeout (0:
// no limit of ours).
func streamExec(ctx context.Context, rt Streamer, cmd Command, s Streams, timeout time.Duration) (int, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, errCommandTimeout)
		defer cancel()
	}
	code, err := rt.Stream(ctx, cmd, s)
	if err != nil && errors.Is(context.Cause(ctx), errCommandTimeout) {
		return 0, &CommandTimeoutError{After: timeout, Stopped: true}
	}
	return code, err
}

// MaxBufferedInput is the most standard input that a runtime which does not
// stream is sent.
const MaxBufferedInput = 16 << 20

// InputTooLargeError is standard input above MaxBufferedInput for a runtime
// that cannot stream it.
type InputTooLargeError struct{ Max int }

func (e *InputTooLargeError) Error() string {
	return fmt.Sprintf("standard input is larger than %d MiB, the most this runtime takes (it cannot stream input)", e.Max>>20)
}

// execInput runs cmd with standard input on a runtime that cannot stream
// it: the input is read whole (at most MaxBufferedInput bytes), written to
// a temporary file in the sandbox's root, redirected to the command, and
// removed afterwards on every path.
func execInput(ctx context.Context, rt Runtime, cmd Command, stdin io.Reader, timeout time.Duration) (*Result, error) {
	input, err := io.ReadAll(io.LimitReader(stdin, MaxBufferedInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading standard input: %w", err)
	}
	if len(input) > MaxBufferedInput {
		return nil, &InputTooLargeError{Max: MaxBufferedInput}
	}
	argv, err := EnvArgv(cmd)
	if err != nil {
		return nil, err
	}
	tmp := ".kubectl-sandbox-stdin-" + randomHex()
	if err := rt.Upload(ctx, tmp, bytes.NewReader(input)); err != nil {
		return nil, err
	}
	defer removeQuietly(ctx, rt, tmp, false) // an interrupted command still cleans up
	// sh opens the file before env changes the directory.
	wrapped := append([]string{"sh", "-c", `exec "$@" <"$0"`, tmp}, argv...)
	return execute(ctx, rt, Command{Argv: wrapped}, timeout)
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
