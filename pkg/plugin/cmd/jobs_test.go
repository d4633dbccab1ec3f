//go:build unix

package cmd

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/jobs"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/jobs/jobstest"
)

// TestJobVerbs: exec --detach prints a job's name and returns while it
// runs; jobs lists it; logs --job -f follows its output to its end and
// exits with its exit code; logs --job --offset reads from a byte on; kill
// ends a job's process group and says how it ended; each from a new
// command, as from another process.
func TestJobVerbs(t *testing.T) {
	f, r, router := dataPlane(t)
	local := jobstest.NewLocal(t)
	r.Exec = local.Exec

	res := runWith(t, f, NewCmdExec, "", append(router, "a", "--detach", "--", "sh", "-c", `echo hi; while [ ! -e go ]; do sleep 0.05; done; echo bye; exit 4`))
	if res.err != nil || !regexp.MustCompile(`^job-[0-9a-f]{8}\n$`).MatchString(res.out) || res.errOut != "" {
		t.Fatalf("exec --detach: %q %q %v", res.out, res.errOut, res.err)
	}
	id := strings.TrimSpace(res.out)

	res = runWith(t, f, NewCmdJobs, "", append(router, "a"))
	if res.err != nil || !regexp.MustCompile(`^NAME +STATUS +EXIT +OUTPUT +COMMAND +AGE\n`+id+` +Running +<none> +\d+ +sh -c 'echo hi; while \[ ! -e go \]; do sleep 0\.05; done; ech… +\S+\n$`).MatchString(res.out) {
		t.Errorf("jobs: %q %v", res.out, res.err)
	}
	res = runWith(t, f, NewCmdJobs, "", append(router, "a", id, "-o", "json"))
	var j jobs.Job
	if res.err != nil || json.Unmarshal([]byte(res.out), &j) != nil || j.ID != id || j.State != jobs.Running || j.PID < 2 {
		t.Errorf("jobs -o json: %q %v", res.out, res.err)
	}

	local.Touch("sb-a", "go")
	res = runWith(t, f, newFastLogs, "", append(router, "a", "--job", id, "-f"))
	var exit *ExitError
	if !errors.As(res.err, &exit) || exit.Code != 4 || res.out != "hi\nbye\n" {
		t.Errorf("logs --job -f: %q, %v; want hi, bye and exit code 4", res.out, res.err)
	}
	res = runWith(t, f, NewCmdLogs, "", append(router, "a", "--job", id, "--offset", "3"))
	if res.err != nil || res.out != "bye\n" {
		t.Errorf("logs --job --offset 3: %q, %v", res.out, res.err)
	}
	res = runWith(t, f, NewCmdJobs, "", append(router, "a", "-o", "json"))
	var list []jobs.Job
	if res.err != nil || json.Unmarshal([]byte(res.out), &list) != nil || len(list) != 1 || list[0].State != jobs.Exited || *list[0].ExitCode != 4 || list[0].OutputBytes != 7 {
		t.Errorf("jobs -o json after the end: %q, %v", res.out, res.err)
	}

	res = runWith(t, f, NewCmdExec, "", append(router, "a", "-d", "--job", "web", "--", "sleep", "300"))
	if res.err != nil || res.out != "web\n" {
		t.Fatalf("exec -d --job web: %q %v", res.out, res.err)
	}
	res = runWith(t, f, newFastKill, "", append(router, "a", "web"))
	if res.err != nil || res.out != "job/web killed (exit code 143)\n" {
		t.Errorf("kill: %q, %v", res.out, res.err)
	}
	res = runWith(t, f, NewCmdKill, "", append(router, "a", "web", "--signal", "KILL"))
	if res.err != nil || res.out != "job/web had ended already (exit code 143)\n" {
		t.Errorf("kill again: %q, %v", res.out, res.err)
	}

	res = runWith(t, f, NewCmdExec, "", append(router, "a", "-d", "--job", "web", "--", "true"))
	if res.err == nil || describeError(res.err, "exec") != `job "web" exists in the sandbox: give --job another name, or none for a generated one` {
		t.Errorf("a second job web: %v", res.err)
	}
	res = runWith(t, f, NewCmdJobs, "", append(router, "a", "job-nope"))
	if res.err == nil || describeError(res.err, "jobs") != `no job "job-nope" in the sandbox (list them with: kubectl sandbox jobs CLAIM)` {
		t.Errorf("jobs job-nope: %v", res.err)
	}
	res = runWith(t, f, NewCmdJobs, "", append(router, "b"))
	if res.err != nil || res.out != "" || res.errOut != "No jobs in sandboxclaim \"b\".\n" {
		t.Errorf("jobs of a sandbox without any: %q %q %v", res.out, res.errOut, res.err)
	}
}

// newFastLogs and newFastKill ask a job every few milliseconds.
func newFastLogs(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := newLogsOptions(f, streams)
	o.JobPoll = 5 * time.Millisecond
	return newLogsCommand(o)
}

func newFastKill(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	return newKillCommand(&KillOptions{Clients: f, IOStreams: streams, Signal: "TERM", Timeout: 10 * time.Second, Poll: 5 * time.Millisecond})
}

// TestJobVerbsRefuse: what a job cannot take is refused before any API
// call.
func TestJobVerbsRefuse(t *testing.T) {
	checkRefused(t, "exec", NewCmdExec, []refusal{
		{[]string{"a", "--detach", "-i", "--", "cat"}, "--detach takes no -i or -t"},
		{[]string{"-l", "x=y", "--detach", "--", "true"}, "--detach starts a job in one sandbox"},
		{[]string{"a", "--detach", "--timeout", "1s", "--", "true"}, "--detach takes no --timeout or --max-output"},
		{[]string{"a", "--job", "web", "--", "true"}, "--job names a job that --detach starts"},
		{[]string{"a", "--detach", "--job", "Web", "--", "true"}, `invalid job id "Web"`},
	})
	checkRefused(t, "logs", NewCmdLogs, []refusal{
		{[]string{"a", "--offset", "3"}, "--offset is for a job's output: give --job"},
		{[]string{"a", "--job", "j", "--offset", "-1"}, "--offset must not be negative"},
		{[]string{"a", "--job", "j", "--tail", "3"}, "--job takes only -f and --offset"},
		{[]string{"a", "--job", "../x"}, `invalid job id "../x"`},
	})
	checkRefused(t, "jobs", NewCmdJobs, []refusal{
		{[]string{"a", "J"}, `invalid job id "J"`},
		{[]string{"a", "-o", "yaml"}, `invalid --output "yaml"`},
	})
	checkRefused(t, "kill", NewCmdKill, []refusal{
		{[]string{"a", "j", "--signal", "STOP"}, `invalid signal "STOP"`},
		{[]string{"a", "j", "--timeout", "-1s"}, "--timeout must not be negative"},
		{[]string{"a", "j/k"}, `invalid job id "j/k"`},
	})
}

// TestKillWaits: kill waits for a job that takes its time to end; one that
// does not end in --timeout is an error with a hint; --timeout 0 does not
// wait.
func TestKillWaits(t *testing.T) {
	f, r, router := dataPlane(t)
	local := jobstest.NewLocal(t)
	r.Exec = local.Exec
	start := func(name, script string) {
		t.Helper()
		if res := runWith(t, f, NewCmdExec, "", append(router, "a", "-d", "--job", name, "--", "sh", "-c", script)); res.err != nil {
			t.Fatal(res.err)
		}
	}
	// Each traps TERM: it ends 0.3 s later, or not at all. Signalled before
	// its trap is set, it would end at once: it says it is ready through a
	// FIFO, which the test reads.
	for _, name := range []string{"slow", "stubborn"} {
		if err := syscall.Mkfifo(filepath.Join(local.Dir("sb-a"), name+".ready"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	start("slow", `trap 'sleep 0.3; exit 5' TERM; echo up > slow.ready; while :; do sleep 0.05; done`)
	start("stubborn", `trap '' TERM; echo up > stubborn.ready; while :; do sleep 0.05; done`)
	for _, name := range []string{"slow", "stubborn"} {
		if b, err := os.ReadFile(filepath.Join(local.Dir("sb-a"), name+".ready")); err != nil || string(b) != "up\n" {
			t.Fatalf("%s ready: %q, %v", name, b, err)
		}
	}
	res := runWith(t, f, newFastKill, "", append(router, "a", "slow"))
	if res.err != nil || res.out != "job/slow killed (exit code 5)\n" {
		t.Errorf("kill slow: %q, %v", res.out, res.err)
	}
	res = runWith(t, f, newFastKill, "", append(router, "a", "stubborn", "--timeout", "300ms"))
	if res.err == nil || describeError(res.err, "kill") != "job stubborn still runs 300ms after SIGTERM: kill it outright with: kubectl sandbox kill a stubborn -s KILL (or wait longer: --timeout)" {
		t.Errorf("kill stubborn: %q, %v", res.out, res.err)
	}
	res = runWith(t, f, newFastKill, "", append(router, "a", "stubborn", "--timeout", "0"))
	if res.err != nil || res.out != "job/stubborn signalled (SIGTERM)\n" {
		t.Errorf("kill --timeout 0: %q, %v", res.out, res.err)
	}
	res = runWith(t, f, newFastKill, "", append(router, "a", "stubborn", "--signal", "9"))
	if res.err != nil || res.out != "job/stubborn killed (exit code 137)\n" {
		t.Errorf("kill -s 9: %q, %v", res.out, res.err)
	}
	if got := (&LostJobError{Claim: "a", Job: "j"}).Error(); got != `job j of sandboxclaim "a" was lost: it is not running and no exit code was written (its monitor was killed)` {
		t.Errorf("LostJobError: %q", got)
	}
	if got := endedHow(&jobs.Job{State: jobs.Lost}); got != "lost: no exit code was written" {
		t.Errorf("endedHow of a lost job: %q", got)
	}
	if got := commandLine(nil); got != "<unknown>" {
		t.Errorf("commandLine(nil) = %q", got)
	}
}
