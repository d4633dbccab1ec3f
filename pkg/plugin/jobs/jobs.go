// Package jobs runs commands in a sandbox that outlive the call that
// started them, and finds them again from any client: listing, output from
// any offset, exit code, kill. A job's state lives only in the sandbox, in
// files under Dir that the sandbox's own shell writes (no daemon): each
// job is started by setsid in a session of its own, with a small monitor
// shell, in a session of its own too, that waits for it and writes its
// exit code. Any client that can run commands in the sandbox (another CLI
// process, another machine, the MCP server) sees the same jobs. Nothing
// outlives the sandbox: they go with its pod.
//
// The sandbox needs sh, setsid (util-linux), base64 and the usual core
// utilities (mkdir, cat, date, tail, head, wc, mv, rm), which both
// runtimes' images have.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// Dir is where jobs are kept, relative to the runtime's root (the
// commands' working directory): one directory per job, named by its id,
// holding cmd, started, pid, monitor, out and, once it ended, exit.
const Dir = ".kubectl-sandbox/jobs"

// States of a job.
const (
	// Running: its command, or its monitor, is alive.
	Running = "Running"
	// Exited: it ended; ExitCode says how (128+N: signal N ended it).
	Exited = "Exited"
	// Lost: it is not alive and no exit code was written (its monitor was
	// killed).
	Lost = "Lost"
)

// Job is what the sandbox says of one job.
type Job struct {
	ID      string   `json:"id"`
	Command []string `json:"command"`
	State   string   `json:"state"`
	// ExitCode is set once it has exited.
	ExitCode *int `json:"exitCode,omitempty"`
	// PID is its process id (and process group) in the sandbox.
	PID     int       `json:"pid,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	// OutputBytes is how much it has printed so far (stdout and stderr
	// together, in order).
	OutputBytes int64 `json:"outputBytes"`
}

// idPattern is what a job id may be: a DNS label, so that it is a plain
// file name (no "/", no "." or "..") and safe in any listing.
var idPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// CheckID says whether id can name a job.
func CheckID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("invalid job id %q: use lowercase letters, digits and '-' (at most 63, starting and ending with a letter or digit)", id)
	}
	return nil
}

// NotFoundError is a job that the sandbox does not have.
type NotFoundError struct{ ID string }

func (e *NotFoundError) Error() string { return fmt.Sprintf("no job %q in the sandbox", e.ID) }

// RunningError is a job that cannot be removed while it runs.
type RunningError struct{ ID string }

func (e *RunningError) Error() string { return fmt.Sprintf("job %q is running", e.ID) }

// ToolError is the sandbox lacking a tool that jobs need, or a script
// that failed otherwise.
type ToolError struct {
	What   string
	Code   int
	Stderr string
}

func (e *ToolError) Error() string {
	if msg := firstLine(e.Stderr); msg != "" {
		return fmt.Sprintf("%s: %s", e.What, msg)
	}
	return fmt.Sprintf("%s: the sandbox's shell exited %d", e.What, e.Code)
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// script runs a script with args; a non-zero exit that is not one of ok
// is a *ToolError (or the job's own error for exitNoJob).
func script(ctx context.Context, rt sandbox.Runtime, what, text, id string, args []string, ok ...int) (*sandbox.Result, error) {
	res, err := rt.Execute(ctx, sandbox.Command{Argv: append([]string{"sh", "-c", text, "kubectl-sandbox"}, args...)})
	if err != nil {
		return nil, err
	}
	switch {
	case res.ExitCode == 0:
	case res.ExitCode == exitNoJob && id != "":
		return nil, &NotFoundError{ID: id}
	case slices.Contains(ok, res.ExitCode):
	default:
		return nil, &ToolError{What: what, Code: res.ExitCode, Stderr: res.Stderr}
	}
	return res, nil
}

// NewID is a fresh job id: "job-" and 8 hex digits.
func NewID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "job-" + hex.EncodeToString(b)
}

// ExistsError is an id that a job of the sandbox has already.
type ExistsError struct{ ID string }

func (e *ExistsError) Error() string { return fmt.Sprintf("job %q exists in the sandbox", e.ID) }

// Start starts cmd as job id ("" for a fresh one) and returns it as it
// runs; the call returns at once, the job runs on. Its output goes to a
// file in the sandbox (see Read), its input is empty. cmd.Workdir is
// where it runs ("" the root); cmd.Env is added to its environment.
func Start(ctx context.Context, rt sandbox.Runtime, id string, cmd sandbox.Command) (*Job, error) {
	if err := sandbox.CheckArgv(cmd.Argv); err != nil {
		return nil, err
	}
	if err := sandbox.CheckEnv(cmd.Env); err != nil {
		return nil, err
	}
	fresh := id == ""
	if fresh {
		id = NewID()
	} else if err := CheckID(id); err != nil {
		return nil, err
	}
	display, _ := json.Marshal(cmd.Argv)
	for attempt := 0; ; attempt++ {
		args := append([]string{monitorScript, id, cmd.Workdir, string(display)}, cmd.Argv...)
		res, err := rt.Execute(ctx, sandbox.Command{Argv: append([]string{"sh", "-c", startScript, "kubectl-sandbox"}, args...), Env: cmd.Env})
		if err != nil {
			return nil, err
		}
		switch {
		case res.ExitCode == exitExists && fresh && attempt < 3:
			id = NewID()
			continue
		case res.ExitCode == exitExists:
			return nil, &ExistsError{ID: id}
		case res.ExitCode != 0:
			return nil, &ToolError{What: "starting the job", Code: res.ExitCode, Stderr: res.Stderr}
		}
		return Get(ctx, rt, id)
	}
}

// List lists the sandbox's jobs, in the order they started.
func List(ctx context.Context, rt sandbox.Runtime) ([]Job, error) {
	res, err := script(ctx, rt, "listing the jobs", listScript, "", nil)
	if err != nil {
		return nil, err
	}
	return ParseRecords(res.Stdout)
}

// Get reads one job.
func Get(ctx context.Context, rt sandbox.Runtime, id string) (*Job, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	res, err := script(ctx, rt, "reading job "+id, listScript, id, []string{id})
	if err != nil {
		return nil, err
	}
	return one(res.Stdout, id)
}

// one is the single record of job id in out.
func one(out, id string) (*Job, error) {
	jobs, err := ParseRecords(out)
	if err != nil {
		return nil, err
	}
	if len(jobs) != 1 || jobs[0].ID != id {
		return nil, fmt.Errorf("reading job %s: the sandbox answered with %d records, not its own", id, len(jobs))
	}
	return &jobs[0], nil
}

// Chunk is output read from a job, and the job as it was before it was
// read: when it had ended, Data and the chunks before hold all its output
// up to Next.
type Chunk struct {
	Data []byte
	// Next is the offset after Data.
	Next int64
	Job  Job
}

// MaxChunk is the most output Read returns at once.
const MaxChunk = 256 << 10

// Read reads at most max bytes (at most MaxChunk) of job id's output from
// byte offset from.
func Read(ctx context.Context, rt sandbox.Runtime, id string, from int64, max int) (*Chunk, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	if from < 0 {
		return nil, fmt.Errorf("invalid offset %d: it must not be negative", from)
	}
	if max <= 0 || max > MaxChunk {
		max = MaxChunk
	}
	res, err := script(ctx, rt, "reading the output of job "+id, readScript, id, []string{id, strconv.FormatInt(from, 10), strconv.Itoa(max)})
	if err != nil {
		return nil, err
	}
	record, encoded, _ := strings.Cut(res.Stdout, "\n")
	job, err := one(record+"\n", id)
	if err != nil {
		return nil, err
	}
	data, err := DecodeOutput(encoded, max)
	if err != nil {
		return nil, fmt.Errorf("reading the output of job %s: %w", id, err)
	}
	return &Chunk{Data: data, Next: from + int64(len(data)), Job: *job}, nil
}

// DecodeOutput decodes base64 as base64(1) writes it (in lines), refusing
// more than max bytes.
func DecodeOutput(encoded string, max int) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, encoded)
	if base64.StdEncoding.DecodedLen(len(clean)) > max+3 {
		return nil, fmt.Errorf("the sandbox sent more than the %d bytes asked for", max)
	}
	data, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("decoding the sandbox's answer: %w", err)
	}
	if len(data) > max {
		return nil, fmt.Errorf("the sandbox sent more than the %d bytes asked for", max)
	}
	return data, nil
}

// DefaultPoll is how often Follow asks for more output while a job runs
// and prints nothing.
const DefaultPoll = 500 * time.Millisecond

// Follow copies job id's output from offset from to w until the job has
// ended and all of it is copied, asking every poll (DefaultPoll if 0)
// while there is nothing new. It returns the job as it ended and the
// offset reached (also when ctx ends first, with ctx's error).
func Follow(ctx context.Context, rt sandbox.Runtime, id string, from int64, w io.Writer, poll time.Duration) (*Job, int64, error) {
	if poll <= 0 {
		poll = DefaultPoll
	}
	for {
		ch, err := Read(ctx, rt, id, from, MaxChunk)
		if err != nil {
			return nil, from, err
		}
		if len(ch.Data) > 0 {
			if _, err := w.Write(ch.Data); err != nil {
				return nil, from, fmt.Errorf("writing the job's output: %w", err)
			}
			from = ch.Next
		}
		switch {
		case len(ch.Data) == MaxChunk:
			continue // more is there already
		case ch.Job.State != Running:
			return &ch.Job, from, nil
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, from, context.Cause(ctx)
		case <-t.C:
		}
	}
}

// Signals that Kill sends.
var Signals = []string{"TERM", "INT", "KILL", "HUP", "QUIT", "USR1", "USR2"}

// CheckSignal returns a signal's name as Kill takes it (TERM, KILL...;
// SIGTERM, sigterm and 15 name TERM too).
func CheckSignal(s string) (string, error) {
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	numbers := map[string]string{"15": "TERM", "2": "INT", "9": "KILL", "1": "HUP", "3": "QUIT", "10": "USR1", "12": "USR2"}
	if n, ok := numbers[name]; ok {
		name = n
	}
	if !slices.Contains(Signals, name) {
		return "", fmt.Errorf("invalid signal %q: use one of %s", s, strings.Join(Signals, ", "))
	}
	return name, nil
}

// Kill sends signal (see CheckSignal) to the process group of job id,
// unless it has ended, and returns the job as it is then, and whether the
// signal was sent.
func Kill(ctx context.Context, rt sandbox.Runtime, id, signal string) (*Job, bool, error) {
	if err := CheckID(id); err != nil {
		return nil, false, err
	}
	sig, err := CheckSignal(signal)
	if err != nil {
		return nil, false, err
	}
	res, err := script(ctx, rt, "killing job "+id, killScript, id, []string{id, sig})
	if err != nil {
		return nil, false, err
	}
	j, err := one(res.Stdout, id)
	return j, strings.HasPrefix(res.Stdout, "sent\n"), err
}

// Wait waits until job id is no longer running, asking every poll
// (DefaultPoll if 0), and returns it.
func Wait(ctx context.Context, rt sandbox.Runtime, id string, poll time.Duration) (*Job, error) {
	if poll <= 0 {
		poll = DefaultPoll
	}
	for {
		j, err := Get(ctx, rt, id)
		if err != nil || j.State != Running {
			return j, err
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return j, context.Cause(ctx)
		case <-t.C:
		}
	}
}

// Remove removes a job that is not running, with its output.
func Remove(ctx context.Context, rt sandbox.Runtime, id string) error {
	if err := CheckID(id); err != nil {
		return err
	}
	res, err := script(ctx, rt, "removing job "+id, removeScript, id, []string{id}, exitRunning)
	if err != nil {
		return err
	}
	if res.ExitCode == exitRunning {
		return &RunningError{ID: id}
	}
	return nil
}
