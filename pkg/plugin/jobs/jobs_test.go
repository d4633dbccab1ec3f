//go:build unix

package jobs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// local is a runtime over a local directory that runs commands as the
// python runtime does: with the directory as working directory, as the
// leader of a new session, output buffered until every holder of its
// pipes has closed them (a job that kept them would hang the call: the
// call fails after 20 s instead).
type local struct {
	sandbox.Runtime
	root  string
	calls atomic.Int32
}

func (l *local) Execute(ctx context.Context, cmd sandbox.Command) (*sandbox.Result, error) {
	l.calls.Add(1)
	c := exec.CommandContext(ctx, cmd.Argv[0], cmd.Argv[1:]...)
	c.Dir = l.root
	c.Env = os.Environ()
	for k, v := range cmd.Env {
		c.Env = append(c.Env, k+"="+v)
	}
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	c.WaitDelay = 20 * time.Second
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return &sandbox.Result{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: exitErr.ExitCode()}, nil
	}
	if err != nil {
		return nil, err
	}
	return &sandbox.Result{Stdout: stdout.String(), Stderr: stderr.String()}, nil
}

// newLocal is a local runtime whose jobs are killed when the test ends.
func newLocal(t *testing.T) *local {
	t.Helper()
	for _, tool := range []string{"sh", "setsid", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s here: %v", tool, err)
		}
	}
	l := &local{root: t.TempDir()}
	t.Cleanup(func() {
		dirs, _ := filepath.Glob(filepath.Join(l.root, Dir, "*"))
		for _, d := range dirs {
			for _, f := range []string{"pid", "monitor"} {
				b, _ := os.ReadFile(filepath.Join(d, f))
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
					_ = syscall.Kill(-pid, syscall.SIGKILL)
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	})
	return l
}

// touch makes a file in the runtime's root.
func (l *local) touch(t *testing.T, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(l.root, name), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitFor is a shell loop that waits for a file.
const waitFor = `while [ ! -e "$0" ]; do sleep 0.05; done; `

// TestAJobOutlivesTheCallThatStartedIt: Start returns while the job runs;
// the job is listed running with its pid; its output is followed from
// offset 0 to its end and its exit code, and read again from any offset,
// byte for byte.
func TestAJobOutlivesTheCallThatStartedIt(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	start := time.Now()
	j, err := Start(ctx, l, "", sandbox.Command{Argv: []string{"sh", "-c", `echo first; ` + waitFor + `printf 'second\n' >&2; exit 3`, "go"}})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("Start took %s: it waited for the job", took)
	}
	if !idPattern.MatchString(j.ID) || !strings.HasPrefix(j.ID, "job-") || j.State != Running || j.PID <= 1 || j.Started.IsZero() || j.ExitCode != nil {
		t.Fatalf("started %+v", j)
	}
	if want := []string{"sh", "-c", `echo first; ` + waitFor + `printf 'second\n' >&2; exit 3`, "go"}; strings.Join(j.Command, "|") != strings.Join(want, "|") {
		t.Errorf("command %q, want %q", j.Command, want)
	}
	list, err := List(ctx, l)
	if err != nil || len(list) != 1 || list[0].ID != j.ID || list[0].State != Running {
		t.Fatalf("List = %+v, %v", list, err)
	}
	var out bytes.Buffer
	seen := make(chan struct{})
	first := &signalWriter{w: &out, want: "first\n", seen: seen}
	done := make(chan struct{})
	var ended *Job
	var next int64
	var ferr error
	go func() {
		defer close(done)
		ended, next, ferr = Follow(ctx, l, j.ID, 0, first, 10*time.Millisecond)
	}()
	select {
	case <-seen:
	case <-time.After(30 * time.Second):
		t.Fatal("the job's first line did not come")
	}
	l.touch(t, "go")
	<-done
	if ferr != nil || ended.State != Exited || ended.ExitCode == nil || *ended.ExitCode != 3 || ended.Ended.IsZero() {
		t.Fatalf("Follow = %+v, %v", ended, ferr)
	}
	if got := out.String(); got != "first\nsecond\n" || next != int64(len(got)) || ended.OutputBytes != next {
		t.Errorf("followed %q up to %d (%d bytes printed)", got, next, ended.OutputBytes)
	}
	ch, err := Read(ctx, l, j.ID, 6, 4)
	if err != nil || string(ch.Data) != "seco" || ch.Next != 10 || ch.Job.State != Exited {
		t.Errorf("Read(6, 4) = %+v, %v", ch, err)
	}
	if ch, err := Read(ctx, l, j.ID, 100, 0); err != nil || len(ch.Data) != 0 || ch.Next != 100 {
		t.Errorf("Read past the end = %+v, %v", ch, err)
	}
}

// signalWriter closes seen once what was written holds want.
type signalWriter struct {
	w    io.Writer
	want string
	all  strings.Builder
	seen chan struct{}
}

func (s *signalWriter) Write(p []byte) (int, error) {
	s.all.Write(p)
	if strings.Contains(s.all.String(), s.want) && s.seen != nil {
		close(s.seen)
		s.seen = nil
	}
	return s.w.Write(p)
}

// TestKillEndsTheWholeProcessGroup: TERM to a job whose command started
// children ends them all; the job has exited with 143. A second kill
// changes nothing.
func TestKillEndsTheWholeProcessGroup(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	j, err := Start(ctx, l, "web", sandbox.Command{Argv: []string{"sh", "-c", "sleep 300 & sleep 301 & wait"}})
	if err != nil {
		t.Fatal(err)
	}
	if j.ID != "web" {
		t.Errorf("id %q", j.ID)
	}
	k, sent, err := Kill(ctx, l, "web", "sigterm")
	if err != nil {
		t.Fatal(err)
	}
	if k.ID != "web" || !sent {
		t.Errorf("kill answered %+v, sent %v", k, sent)
	}
	ended, err := Wait(ctx, l, "web", 10*time.Millisecond)
	if err != nil || ended.State != Exited || ended.ExitCode == nil || *ended.ExitCode != 143 {
		t.Fatalf("after TERM: %+v, %v", ended, err)
	}
	if live := liveInGroup(t, j.PID); len(live) > 0 {
		t.Errorf("processes of the job's group %d live on: %v", j.PID, live)
	}
	if again, sent, err := Kill(ctx, l, "web", "KILL"); err != nil || sent || again.State != Exited || *again.ExitCode != 143 {
		t.Errorf("a second kill: %+v, sent %v, %v", again, sent, err)
	}
}

// TestJobOutputIsExactBytes: output that is not text comes back byte for
// byte, across chunk boundaries.
func TestJobOutputIsExactBytes(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	j, err := Start(ctx, l, "", sandbox.Command{Argv: []string{"printf", `\000\377\n\r\t x`}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, _, err := Follow(ctx, l, j.ID, 0, &out, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if want := "\x00\xff\n\r\t x"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	var got []byte
	for off := int64(0); off < 7; off += 2 {
		ch, err := Read(ctx, l, j.ID, off, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ch.Data...)
	}
	if string(got) != "\x00\xff\n\r\t x" {
		t.Errorf("by 2 bytes: %q", got)
	}
}

// TestJobEnvAndWorkdir: the job runs in its working directory with its
// environment; a command that does not exist exits 127 and says so.
func TestJobEnvAndWorkdir(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	if err := os.Mkdir(filepath.Join(l.root, "sub dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	j, err := Start(ctx, l, "", sandbox.Command{Argv: []string{"sh", "-c", `basename "$PWD"; echo "$MODE"`}, Env: map[string]string{"MODE": "fast 'n' loose"}, Workdir: "sub dir"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if ended, _, err := Follow(ctx, l, j.ID, 0, &out, 10*time.Millisecond); err != nil || *ended.ExitCode != 0 || out.String() != "sub dir\nfast 'n' loose\n" {
		t.Errorf("%+v %v: %q", ended, err, out.String())
	}
	j, err = Start(ctx, l, "", sandbox.Command{Argv: []string{"no-such-command-here"}})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if ended, _, err := Follow(ctx, l, j.ID, 0, &out, 10*time.Millisecond); err != nil || *ended.ExitCode != 127 || !strings.Contains(out.String(), "no-such-command-here") {
		t.Errorf("%+v %v: %q", ended, err, out.String())
	}
}

// TestJobsThatAreNot: ids that are not a job's, ids taken, a job that
// cannot be removed while it runs, one whose monitor was killed.
func TestJobsThatAreNot(t *testing.T) {
	l := newLocal(t)
	ctx := context.Background()
	var nf *NotFoundError
	if _, err := Get(ctx, l, "job-nope"); !errors.As(err, &nf) || err.Error() != `no job "job-nope" in the sandbox` {
		t.Errorf("Get: %v", err)
	}
	if _, err := Read(ctx, l, "job-nope", 0, 0); !errors.As(err, &nf) {
		t.Errorf("Read: %v", err)
	}
	if _, _, err := Kill(ctx, l, "job-nope", "TERM"); !errors.As(err, &nf) {
		t.Errorf("Kill: %v", err)
	}
	if err := Remove(ctx, l, "job-nope"); !errors.As(err, &nf) {
		t.Errorf("Remove: %v", err)
	}
	calls := l.calls.Load()
	for _, bad := range []string{"", "..", "a/b", "A", "-a", strings.Repeat("a", 64), "a b"} {
		if _, err := Get(ctx, l, bad); err == nil || !strings.HasPrefix(err.Error(), "invalid job id ") {
			t.Errorf("Get(%q): %v", bad, err)
		}
	}
	if _, _, err := Kill(ctx, l, "x", "STOP"); err == nil || err.Error() != `invalid signal "STOP": use one of TERM, INT, KILL, HUP, QUIT, USR1, USR2` {
		t.Errorf("Kill STOP: %v", err)
	}
	if _, err := Read(ctx, l, "x", -1, 0); err == nil {
		t.Error("Read from -1 worked")
	}
	if n := l.calls.Load(); n != calls {
		t.Errorf("refused arguments reached the sandbox (%d calls)", n-calls)
	}

	if _, err := Start(ctx, l, "one", sandbox.Command{Argv: []string{"sleep", "300"}}); err != nil {
		t.Fatal(err)
	}
	var exists *ExistsError
	if _, err := Start(ctx, l, "one", sandbox.Command{Argv: []string{"true"}}); !errors.As(err, &exists) {
		t.Errorf("a second job one: %v", err)
	}
	var running *RunningError
	if err := Remove(ctx, l, "one"); !errors.As(err, &running) {
		t.Errorf("Remove of a running job: %v", err)
	}
	// Its monitor and command killed outright: no exit code is written.
	b, _ := os.ReadFile(filepath.Join(l.root, Dir, "one", "monitor"))
	mon, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	j, err := Get(ctx, l, "one")
	if err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(mon, syscall.SIGKILL)
	_ = syscall.Kill(-j.PID, syscall.SIGKILL)
	if lost, err := Wait(ctx, l, "one", 10*time.Millisecond); err != nil || lost.State != Lost || lost.ExitCode != nil {
		t.Errorf("after its monitor was killed: %+v, %v", lost, err)
	}
	if err := Remove(ctx, l, "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := Get(ctx, l, "one"); !errors.As(err, &nf) {
		t.Errorf("after Remove: %v", err)
	}
}

// liveInGroup lists the processes of process group pgid that are alive
// (not zombies: an orphan's parent here may not reap it).
func liveInGroup(t *testing.T, pgid int) []string {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var live []string
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			live = append(live, string(b[:i+1]))
		}
	}
	return live
}
