package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// EnvArgv is argv running cmd with its Env and Workdir through env(1), for
// runtimes that take neither: env -C WORKDIR K=V... -- ARGV. env takes every
// leading NAME=VALUE argument as a variable, so a command name holding "="
// is refused.
func EnvArgv(cmd Command) ([]string, error) {
	if len(cmd.Env) == 0 && cmd.Workdir == "" {
		return cmd.Argv, nil
	}
	if len(cmd.Argv) > 0 && strings.Contains(cmd.Argv[0], "=") {
		return nil, fmt.Errorf("command %q: a command name holding \"=\" cannot be run with an environment or a working directory on this runtime", cmd.Argv[0])
	}
	argv := []string{"env"}
	if cmd.Workdir != "" {
		argv = append(argv, "-C", cmd.Workdir)
	}
	for _, k := range slices.Sorted(maps.Keys(cmd.Env)) {
		argv = append(argv, k+"="+cmd.Env[k])
	}
	argv = append(argv, "--")
	return append(argv, cmd.Argv...), nil
}

// MaxBufferedInput is the most standard input ExecInput sends.
const MaxBufferedInput = 16 << 20

// InputTooLargeError is standard input above MaxBufferedInput for a runtime
// that cannot stream it.
type InputTooLargeError struct{ Max int }

func (e *InputTooLargeError) Error() string {
	return fmt.Sprintf("standard input is larger than %d MiB, the most this runtime takes (it cannot stream input)", e.Max>>20)
}

// ExecInput runs cmd with standard input on a runtime that cannot stream
// it: the input is read whole (at most MaxBufferedInput bytes), written to
// a temporary file in the sandbox's root, redirected to the command, and
// removed afterwards on every path.
func ExecInput(ctx context.Context, rt Runtime, cmd Command, stdin io.Reader, timeout time.Duration) (*Result, error) {
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
	defer func() {
		// On a context of its own: an interrupted command still cleans up.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = rt.Remove(rctx, tmp, false)
	}()
	// sh opens the file before env changes the directory.
	wrapped := append([]string{"sh", "-c", `exec "$@" <"$0"`, tmp}, argv...)
	return Exec(ctx, rt, Command{Argv: wrapped}, timeout)
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Collect runs cmd to its end with stdin (nil: none) and returns what it
// printed: through Stream on a Streamer (which kills it after timeout),
// else buffered by the runtime (with ExecInput when there is input).
func Collect(ctx context.Context, rt Runtime, cmd Command, stdin io.Reader, timeout time.Duration) (*Result, error) {
	if st, ok := rt.(Streamer); ok {
		var stdout, stderr bytes.Buffer
		code, err := StreamExec(ctx, st, cmd, Streams{Stdin: stdin, Stdout: &stdout, Stderr: &stderr}, timeout)
		if err != nil {
			return nil, err
		}
		return &Result{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: code}, nil
	}
	if stdin != nil {
		return ExecInput(ctx, rt, cmd, stdin, timeout)
	}
	return Exec(ctx, rt, cmd, timeout)
}
