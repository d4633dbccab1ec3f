//go:build unix

package mcp

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/jobs/jobstest"
)

// jobEnv is a server with one sandbox whose commands run on this machine.
func jobEnv(t *testing.T) (*client, *jobstest.Local) {
	t.Helper()
	c := newCluster(t)
	local := jobstest.NewLocal(t)
	c.router.Exec = local.Exec
	srv := newServer(t, c, Options{})
	t.Cleanup(func() { _ = srv.Cleanup() })
	cl := connect(t, srv.MCP())
	cl.create(map[string]any{"name": "box"})
	old := jobPoll
	jobPoll = 5 * time.Millisecond
	t.Cleanup(func() { jobPoll = old })
	return cl, local
}

// TestJobTools: a job started by one call runs on; its output is read
// from offsets, waited for, and read to its end with its exit code; it is
// listed; kill ends another job's process group.
func TestJobTools(t *testing.T) {
	cl, local := jobEnv(t)
	started := callOK[JobOut](cl, "sandbox_job_start", map[string]any{"name": "box", "job": "build",
		"command": []string{"sh", "-c", `echo one; while [ ! -e go ]; do sleep 0.05; done; printf 'two\n'; exit 5`}})
	if started.ID != "build" || started.State != "Running" || started.PID < 2 || started.Started == "" || started.ExitCode != nil {
		t.Fatalf("started %+v", started)
	}
	out := callOK[JobOutputOut](cl, "sandbox_job_output", map[string]any{"name": "box", "id": "build", "waitSeconds": 30})
	if out.Output != "one\n" || out.Encoding != "utf-8" || out.NextOffset != 4 || out.Complete || out.Job.State != "Running" {
		t.Errorf("first output: %+v", out)
	}
	local.Touch("sb-box", "go")
	var all strings.Builder
	all.WriteString(out.Output)
	for off := out.NextOffset; !out.Complete; off = out.NextOffset {
		out = callOK[JobOutputOut](cl, "sandbox_job_output", map[string]any{"name": "box", "id": "build", "offset": off, "waitSeconds": 30})
		all.WriteString(out.Output)
	}
	if all.String() != "one\ntwo\n" || out.Job.State != "Exited" || out.Job.ExitCode == nil || *out.Job.ExitCode != 5 || out.NextOffset != 8 {
		t.Errorf("to the end: %q, %+v", all.String(), out)
	}
	again := callOK[JobOutputOut](cl, "sandbox_job_output", map[string]any{"name": "box", "id": "build", "offset": 4, "maxBytes": 2})
	if again.Output != "tw" || again.NextOffset != 6 || again.Complete {
		t.Errorf("2 bytes from 4: %+v", again)
	}

	callOK[JobOut](cl, "sandbox_job_start", map[string]any{"name": "box", "job": "web", "command": []string{"sh", "-c", "sleep 300 & sleep 301; wait"}})
	list := callOK[JobListOut](cl, "sandbox_job_list", map[string]any{"name": "box"})
	if len(list.Jobs) != 2 || list.Jobs[0].ID != "build" && list.Jobs[1].ID != "build" {
		t.Errorf("list: %+v", list)
	}
	killed := callOK[JobKillOut](cl, "sandbox_job_kill", map[string]any{"name": "box", "id": "web"})
	if !killed.Signalled || killed.Job.State != "Exited" || *killed.Job.ExitCode != 143 {
		t.Errorf("kill: %+v", killed)
	}
	killed = callOK[JobKillOut](cl, "sandbox_job_kill", map[string]any{"name": "box", "id": "web", "signal": "KILL"})
	if killed.Signalled || *killed.Job.ExitCode != 143 {
		t.Errorf("kill again: %+v", killed)
	}
}

// TestJobOutputThatIsNotText: bytes that are not UTF-8 come as base64; a
// character cut at the end of a chunk is left for the next call.
func TestJobOutputThatIsNotText(t *testing.T) {
	cl, _ := jobEnv(t)
	callOK[JobOut](cl, "sandbox_job_start", map[string]any{"name": "box", "job": "bin", "command": []string{"printf", `\377\000é`}})
	out := callOK[JobOutputOut](cl, "sandbox_job_output", map[string]any{"name": "box", "id": "bin", "waitSeconds": 30})
	for out.Job.ExitCode == nil || !out.Complete {
		out = callOK[JobOutputOut](cl, "sandbox_job_output", map[string]any{"name": "box", "id": "bin", "waitSeconds": 30})
	}
	if b, err := base64.StdEncoding.DecodeString(out.Output); out.Encoding != "base64" || err != nil || string(b) != "\xff\x00é" {
		t.Errorf("binary output: %+v", out)
	}
	callOK[JobOut](cl, "sandbox_job_start", map[string]any{"name": "box", "job": "text", "command": []string{"printf", "aé"}})
	out = callOK[JobOutputOut](cl, "sandbox_job_output", map[string]any{"name": "box", "id": "text", "maxBytes": 2, "waitSeconds": 30})
	if out.Output != "a" || out.Encoding != "utf-8" || out.NextOffset != 1 {
		t.Errorf("a cut character: %+v", out)
	}
	out = callOK[JobOutputOut](cl, "sandbox_job_output", map[string]any{"name": "box", "id": "text", "offset": 1, "waitSeconds": 30})
	if out.Output != "é" || out.NextOffset != 3 {
		t.Errorf("the rest: %+v", out)
	}
}

// TestJobToolErrors: one line each, with the tools' hints.
func TestJobToolErrors(t *testing.T) {
	cl, _ := jobEnv(t)
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"sandbox_job_output", map[string]any{"name": "box", "id": "job-nope"}, `no job "job-nope" in the sandbox`},
		{"sandbox_job_kill", map[string]any{"name": "box", "id": "job-nope"}, `no job "job-nope" in the sandbox`},
		{"sandbox_job_output", map[string]any{"name": "box", "id": "../x"}, `invalid job id "../x"`},
		{"sandbox_job_output", map[string]any{"name": "box", "id": "x", "offset": -1}, "invalid offset -1: it must not be negative"},
		{"sandbox_job_kill", map[string]any{"name": "box", "id": "x", "signal": "STOP"}, `invalid signal "STOP"`},
		{"sandbox_job_start", map[string]any{"name": "box", "job": "X", "command": []string{"true"}}, `invalid job id "X"`},
		{"sandbox_job_start", map[string]any{"name": "box", "command": []string{}}, "no command given"},
		{"sandbox_job_list", map[string]any{"name": "nobox"}, `sandboxclaim "nobox" not found`},
	} {
		if msg := callErr(cl, tc.tool, tc.args); !strings.HasPrefix(msg, tc.want) {
			t.Errorf("%s %v: %q, want %q...", tc.tool, tc.args, msg, tc.want)
		}
	}
}
