package jobs

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// scripted is a sandbox whose every command is answered by answer, given
// the script's own arguments (after sh -c SCRIPT NAME).
type scripted struct {
	sandbox.Runtime
	answer func(script string, args []string) (*sandbox.Result, error)
}

func (s scripted) Execute(_ context.Context, cmd sandbox.Command) (*sandbox.Result, error) {
	return s.answer(cmd.Argv[2], cmd.Argv[4:])
}

// record is a running job's record.
func record(id string, state string, size int64) string {
	j := Job{ID: id, State: state, PID: 9, Started: time.Unix(1700000000, 0), OutputBytes: size, Command: []string{"x"}}
	if state == Exited {
		code := 0
		j.ExitCode = &code
	}
	return FormatRecord(j)
}

// TestSandboxFailures: a sandbox without setsid or base64, a runtime that
// fails, a sandbox that answers for another job, each in one line.
func TestSandboxFailures(t *testing.T) {
	ctx := context.Background()
	broken := errors.New("execute: cannot reach the sandbox router")
	failing := scripted{answer: func(string, []string) (*sandbox.Result, error) { return nil, broken }}
	if _, err := Start(ctx, failing, "", sandbox.Command{Argv: []string{"true"}}); !errors.Is(err, broken) {
		t.Errorf("Start: %v", err)
	}
	if _, err := List(ctx, failing); !errors.Is(err, broken) {
		t.Errorf("List: %v", err)
	}
	noSetsid := scripted{answer: func(string, []string) (*sandbox.Result, error) {
		return &sandbox.Result{ExitCode: exitNoSetsid, Stderr: "the sandbox has no setsid (util-linux) to start a job in a session of its own\n"}, nil
	}}
	if _, err := Start(ctx, noSetsid, "", sandbox.Command{Argv: []string{"true"}}); err == nil ||
		err.Error() != "starting the job: the sandbox has no setsid (util-linux) to start a job in a session of its own" {
		t.Errorf("Start without setsid: %v", err)
	}
	silent := scripted{answer: func(string, []string) (*sandbox.Result, error) { return &sandbox.Result{ExitCode: 2}, nil }}
	if _, err := List(ctx, silent); err == nil || err.Error() != "listing the jobs: the sandbox's shell exited 2" {
		t.Errorf("List: %v", err)
	}
	other := scripted{answer: func(string, []string) (*sandbox.Result, error) {
		return &sandbox.Result{Stdout: record("other", Running, 0)}, nil
	}}
	if _, err := Get(ctx, other, "mine"); err == nil || err.Error() != "reading job mine: the sandbox answered with 1 records, not its own" {
		t.Errorf("Get: %v", err)
	}
	if _, err := Start(ctx, noSetsid, "BAD", sandbox.Command{Argv: []string{"true"}}); err == nil || !strings.HasPrefix(err.Error(), "invalid job id") {
		t.Errorf("Start BAD: %v", err)
	}
	if _, err := Start(ctx, noSetsid, "", sandbox.Command{}); err == nil {
		t.Error("Start of no command")
	}
	if _, err := Start(ctx, noSetsid, "", sandbox.Command{Argv: []string{"x"}, Env: map[string]string{"A=B": "c"}}); err == nil {
		t.Error("Start with a bad variable")
	}
	badOutput := scripted{answer: func(string, []string) (*sandbox.Result, error) {
		return &sandbox.Result{Stdout: record("j", Running, 3) + "!!!\n"}, nil
	}}
	if _, err := Read(ctx, badOutput, "j", 0, 0); err == nil || !strings.HasPrefix(err.Error(), "reading the output of job j: decoding the sandbox's answer: ") {
		t.Errorf("Read: %v", err)
	}
}

// TestStartTriesAnotherIDWhenOneIsTaken: a fresh id that the sandbox has
// already is replaced; a chosen one is an *ExistsError.
func TestStartTriesAnotherIDWhenOneIsTaken(t *testing.T) {
	ctx := context.Background()
	var started []string
	rt := scripted{answer: func(script string, args []string) (*sandbox.Result, error) {
		if script == startScript {
			started = append(started, args[1])
			if len(started) == 1 || args[1] == "taken" {
				return &sandbox.Result{ExitCode: exitExists}, nil
			}
			return &sandbox.Result{Stdout: "9\n"}, nil
		}
		return &sandbox.Result{Stdout: record(args[0], Running, 0)}, nil
	}}
	j, err := Start(ctx, rt, "", sandbox.Command{Argv: []string{"x"}})
	if err != nil || len(started) != 2 || started[0] == started[1] || j.ID != started[1] {
		t.Errorf("Start = %+v, %v after %q", j, err, started)
	}
	var exists *ExistsError
	if _, err := Start(ctx, rt, "taken", sandbox.Command{Argv: []string{"x"}}); !errors.As(err, &exists) || err.Error() != `job "taken" exists in the sandbox` {
		t.Errorf("Start taken: %v", err)
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestFollowEnds: a full chunk is followed by the next at once; a writer
// that fails, or a context that ends, ends the follow with the offset
// reached.
func TestFollowEnds(t *testing.T) {
	chunk := bytes.Repeat([]byte("a"), MaxChunk)
	var reads []string
	rt := scripted{answer: func(_ string, args []string) (*sandbox.Result, error) {
		reads = append(reads, args[1])
		if args[1] == "0" {
			return &sandbox.Result{Stdout: record("j", Running, MaxChunk+1) + encode(chunk)}, nil
		}
		return &sandbox.Result{Stdout: record("j", Exited, MaxChunk+1) + encode([]byte("b"))}, nil
	}}
	var out bytes.Buffer
	j, next, err := Follow(context.Background(), rt, "j", 0, &out, time.Hour)
	if err != nil || j.State != Exited || next != MaxChunk+1 || out.Len() != MaxChunk+1 || strings.Join(reads, " ") != "0 262144" {
		t.Errorf("Follow = %+v, %d, %v after reads %q", j, next, err, reads)
	}
	if _, next, err := Follow(context.Background(), rt, "j", 0, failingWriter{}, time.Hour); err == nil || next != 0 ||
		err.Error() != "writing the job's output: disk full" {
		t.Errorf("a failing writer: %d, %v", next, err)
	}
	running := scripted{answer: func(string, []string) (*sandbox.Result, error) {
		return &sandbox.Result{Stdout: record("j", Running, 0)}, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Follow(ctx, running, "j", 0, &out, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := Wait(ctx, running, "j", time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait cancelled: %v", err)
	}
	if _, _, err := Follow(context.Background(), running, "BAD", 0, &out, 0); err == nil {
		t.Error("Follow of an invalid id")
	}
}

func encode(b []byte) string {
	var s strings.Builder
	enc := base64Std(b)
	for i := 0; i < len(enc); i += 76 {
		s.WriteString(enc[i:min(i+76, len(enc))] + "\n")
	}
	return s.String()
}

func TestCheckSignal(t *testing.T) {
	for in, want := range map[string]string{"TERM": "TERM", "sigkill": "KILL", "9": "KILL", "15": "TERM", "Int": "INT", "SIGUSR1": "USR1", "2": "INT", "1": "HUP", "3": "QUIT", "10": "USR1", "12": "USR2"} {
		if got, err := CheckSignal(in); err != nil || got != want {
			t.Errorf("CheckSignal(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "STOP", "SIG", "0", "-9", "TERM; rm"} {
		if _, err := CheckSignal(bad); err == nil {
			t.Errorf("CheckSignal(%q) took it", bad)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&NotFoundError{ID: "j"}, `no job "j" in the sandbox`},
		{&RunningError{ID: "j"}, `job "j" is running`},
		{&ToolError{What: "listing the jobs", Code: 2, Stderr: "\n  sh: 1: oops\nmore\n"}, "listing the jobs: sh: 1: oops"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
