package mcp

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"
	"unicode/utf8"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/jobs"
)

// JobStartIn is sandbox_job_start's input.
type JobStartIn struct {
	Name      string            `json:"name" jsonschema:"the sandbox (claim) name"`
	Command   []string          `json:"command" jsonschema:"the argv, run without a shell (use [\"sh\",\"-c\",\"...\"] for one)"`
	Env       map[string]string `json:"env,omitempty" jsonschema:"environment variables for the command"`
	Workdir   string            `json:"workdir,omitempty" jsonschema:"working directory, relative to the sandbox's root"`
	Job       string            `json:"job,omitempty" jsonschema:"the job's name (lowercase letters, digits, '-'; default: generated)"`
	Namespace string            `json:"namespace,omitempty"`
}

// JobOut describes one background job.
type JobOut struct {
	ID      string   `json:"id" jsonschema:"the job's name: the other job tools take it"`
	Command []string `json:"command"`
	State   string   `json:"state" jsonschema:"Running, Exited, or Lost (not running, and no exit code was written)"`
	// ExitCode is set once it has exited.
	ExitCode    *int   `json:"exitCode,omitempty" jsonschema:"its exit code, once it exited (128+N: signal N ended it)"`
	PID         int    `json:"pid,omitempty" jsonschema:"its process id (and process group) in the sandbox"`
	Started     string `json:"started,omitempty" jsonschema:"RFC3339"`
	Ended       string `json:"ended,omitempty" jsonschema:"RFC3339"`
	OutputBytes int64  `json:"outputBytes" jsonschema:"how much it printed so far (stdout and stderr together)"`
}

// JobListIn is sandbox_job_list's input.
type JobListIn struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// JobListOut is sandbox_job_list's output.
type JobListOut struct {
	Jobs []JobOut `json:"jobs"`
}

// JobOutputIn is sandbox_job_output's input.
type JobOutputIn struct {
	Name        string `json:"name"`
	ID          string `json:"id" jsonschema:"the job"`
	Offset      int64  `json:"offset,omitempty" jsonschema:"the byte of its output to start at (nextOffset of the call before)"`
	MaxBytes    int    `json:"maxBytes,omitempty" jsonschema:"return at most this many bytes (default and cap: 256 KiB, or the server's read cap)"`
	WaitSeconds int    `json:"waitSeconds,omitempty" jsonschema:"when there is no new output yet and the job runs, wait up to this many seconds (at most 60) for some, or for its end"`
	Namespace   string `json:"namespace,omitempty"`
}

// JobOutputOut is output of a job.
type JobOutputOut struct {
	Output     string `json:"output"`
	Encoding   string `json:"encoding" jsonschema:"utf-8, or base64 for output that is not UTF-8 text"`
	Offset     int64  `json:"offset"`
	NextOffset int64  `json:"nextOffset" jsonschema:"where the next call should start"`
	// Complete says the job has ended and its whole output up to
	// NextOffset has been read.
	Complete bool   `json:"complete" jsonschema:"the job has ended and there is no more output after nextOffset"`
	Job      JobOut `json:"job"`
}

// JobKillIn is sandbox_job_kill's input.
type JobKillIn struct {
	Name        string `json:"name"`
	ID          string `json:"id"`
	Signal      string `json:"signal,omitempty" jsonschema:"TERM (default), INT, KILL, HUP, QUIT, USR1 or USR2"`
	WaitSeconds int    `json:"waitSeconds,omitempty" jsonschema:"wait up to this many seconds (default 10, at most 60) for it to end"`
	Namespace   string `json:"namespace,omitempty"`
}

// JobKillOut is sandbox_job_kill's output.
type JobKillOut struct {
	Signalled bool   `json:"signalled" jsonschema:"the signal was sent (false: the job had ended already)"`
	Job       JobOut `json:"job" jsonschema:"the job when the call returns: Running if it has not ended yet"`
}

// jobPoll is how often the job tools ask a job that runs.
var jobPoll = 500 * time.Millisecond

func (s *Server) addJobTools(srv *sdk.Server) {
	sdk.AddTool(srv, &sdk.Tool{Name: "sandbox_job_start", Description: "Start a command in a sandbox as a background job that outlives the call (a server, a watcher, a long build): its own process group, empty input, output kept in the sandbox. Returns at once with the job's id; follow it with sandbox_job_output, stop it with sandbox_job_kill. Jobs are kept in the sandbox: any session, or the CLI, sees them."}, s.jobStart)
	sdk.AddTool(srv, &sdk.Tool{Name: "sandbox_job_list", Description: "List the background jobs of a sandbox: state, exit code, output size, command."}, s.jobList)
	sdk.AddTool(srv, &sdk.Tool{Name: "sandbox_job_output", Description: "Read a background job's output (stdout and stderr together) from a byte offset; with waitSeconds, wait for new output or its end. Call again from nextOffset until complete."}, s.jobOutput)
	sdk.AddTool(srv, &sdk.Tool{Name: "sandbox_job_kill", Description: "Send a signal (TERM by default) to a background job's whole process group and wait for it to end."}, s.jobKill)
}

func jobOut(j *jobs.Job) JobOut {
	out := JobOut{ID: j.ID, Command: j.Command, State: j.State, ExitCode: j.ExitCode, PID: j.PID, OutputBytes: j.OutputBytes}
	if out.Command == nil {
		out.Command = []string{}
	}
	if !j.Started.IsZero() {
		out.Started = j.Started.UTC().Format(time.RFC3339)
	}
	if !j.Ended.IsZero() {
		out.Ended = j.Ended.UTC().Format(time.RFC3339)
	}
	return out
}

func (s *Server) jobStart(ctx context.Context, req *sdk.CallToolRequest, in JobStartIn) (*sdk.CallToolResult, JobOut, error) {
	ns, err := s.namespace(in.Namespace)
	if err != nil {
		return nil, JobOut{}, err
	}
	cmd, err := command(in.Command, in.Env, in.Workdir)
	if err != nil {
		return nil, JobOut{}, err
	}
	if in.Job != "" {
		if err := jobs.CheckID(in.Job); err != nil {
			return nil, JobOut{}, err
		}
	}
	rt, err := s.runtime(ctx, ns, in.Name)
	if err != nil {
		return nil, JobOut{}, s.describe(err, "exec")
	}
	j, err := jobs.Start(ctx, rt, in.Job, cmd)
	if err != nil {
		return nil, JobOut{}, s.describe(err, "exec")
	}
	return nil, jobOut(j), nil
}

func (s *Server) jobList(ctx context.Context, req *sdk.CallToolRequest, in JobListIn) (*sdk.CallToolResult, JobListOut, error) {
	out := JobListOut{Jobs: []JobOut{}}
	ns, err := s.namespace(in.Namespace)
	if err != nil {
		return nil, out, err
	}
	rt, err := s.runtime(ctx, ns, in.Name)
	if err != nil {
		return nil, out, s.describe(err, "jobs")
	}
	list, err := jobs.List(ctx, rt)
	if err != nil {
		return nil, out, s.describe(err, "jobs")
	}
	for i := range list {
		out.Jobs = append(out.Jobs, jobOut(&list[i]))
	}
	return nil, out, nil
}

func (s *Server) jobOutput(ctx context.Context, req *sdk.CallToolRequest, in JobOutputIn) (*sdk.CallToolResult, JobOutputOut, error) {
	ns, err := s.namespace(in.Namespace)
	if err != nil {
		return nil, JobOutputOut{}, err
	}
	if err := jobs.CheckID(in.ID); err != nil {
		return nil, JobOutputOut{}, err
	}
	if in.Offset < 0 {
		return nil, JobOutputOut{}, fmt.Errorf("invalid offset %d: it must not be negative", in.Offset)
	}
	limit := min(jobs.MaxChunk, s.opts.MaxReadBytes)
	if in.MaxBytes > 0 {
		limit = min(limit, in.MaxBytes)
	}
	rt, err := s.runtime(ctx, ns, in.Name)
	if err != nil {
		return nil, JobOutputOut{}, s.describe(err, "logs")
	}
	deadline := time.Now().Add(time.Duration(min(max(in.WaitSeconds, 0), 60)) * time.Second)
	for {
		ch, err := jobs.Read(ctx, rt, in.ID, in.Offset, limit)
		if err != nil {
			return nil, JobOutputOut{}, s.describe(err, "logs")
		}
		if len(ch.Data) > 0 || ch.Job.State != jobs.Running || !time.Now().Before(deadline) {
			return nil, outputOut(in.Offset, ch, limit), nil
		}
		t := time.NewTimer(min(jobPoll, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, JobOutputOut{}, context.Cause(ctx)
		case <-t.C:
		}
	}
}

// outputOut words a chunk of output read from offset: text when it is
// UTF-8 (a character cut at the chunk's end is left for the next call),
// else base64.
func outputOut(offset int64, ch *jobs.Chunk, limit int) JobOutputOut {
	data := ch.Data
	if !utf8.Valid(data) {
		if cut := incompleteTail(data); cut > 0 && utf8.Valid(data[:len(data)-cut]) && len(data)-cut > 0 {
			data = data[:len(data)-cut]
		}
	}
	out := JobOutputOut{Offset: offset, NextOffset: offset + int64(len(data)), Job: jobOut(&ch.Job)}
	if utf8.Valid(data) {
		out.Output, out.Encoding = string(data), "utf-8"
	} else {
		out.Output, out.Encoding = base64.StdEncoding.EncodeToString(data), "base64"
	}
	out.Complete = ch.Job.State != jobs.Running && len(ch.Data) < limit && len(data) == len(ch.Data)
	return out
}

// incompleteTail is how many bytes at the end of b begin a UTF-8
// character that is not complete (0 if none).
func incompleteTail(b []byte) int {
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}

func (s *Server) jobKill(ctx context.Context, req *sdk.CallToolRequest, in JobKillIn) (*sdk.CallToolResult, JobKillOut, error) {
	ns, err := s.namespace(in.Namespace)
	if err != nil {
		return nil, JobKillOut{}, err
	}
	if err := jobs.CheckID(in.ID); err != nil {
		return nil, JobKillOut{}, err
	}
	signal := in.Signal
	if signal == "" {
		signal = "TERM"
	}
	if _, err := jobs.CheckSignal(signal); err != nil {
		return nil, JobKillOut{}, err
	}
	wait := 10
	if in.WaitSeconds > 0 {
		wait = min(in.WaitSeconds, 60)
	}
	rt, err := s.runtime(ctx, ns, in.Name)
	if err != nil {
		return nil, JobKillOut{}, s.describe(err, "kill")
	}
	j, sent, err := jobs.Kill(ctx, rt, in.ID, signal)
	if err != nil {
		return nil, JobKillOut{}, s.describe(err, "kill")
	}
	if j.State == jobs.Running {
		wctx, cancel := context.WithTimeout(ctx, time.Duration(wait)*time.Second)
		waited, werr := jobs.Wait(wctx, rt, in.ID, jobPoll)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil, JobKillOut{}, context.Cause(ctx)
		case werr != nil && wctx.Err() == nil:
			return nil, JobKillOut{}, s.describe(werr, "kill")
		case waited != nil:
			j = waited
		}
	}
	return nil, JobKillOut{Signalled: sent, Job: jobOut(j)}, nil
}
