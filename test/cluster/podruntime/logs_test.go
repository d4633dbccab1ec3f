package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCRILog: each stream's lines become CRI log entries as soon as they
// end, an unfinished one waits for its end (or Flush), a long one is cut
// into partial entries, and the two streams' entries do not mix.
func TestCRILog(t *testing.T) {
	var out strings.Builder
	now := time.Date(2026, 11, 25, 12, 0, 0, 5, time.FixedZone("CET", 3600))
	l := &criLog{w: &out, now: func() time.Time { return now }}
	stdout, stderr := l.stream("stdout"), l.stream("stderr")
	write := func(s *criStream, text string) {
		if n, err := s.Write([]byte(text)); n != len(text) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	write(stdout, "one\ntw")
	write(stderr, "INFO:     \"POST /execute HTTP/1.1\" 200 OK\n")
	write(stdout, "o\n\n")
	write(stdout, strings.Repeat("x", maxCRILine+3)+"\nend")
	if err := stdout.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := stdout.Flush(); err != nil { // nothing left
		t.Fatal(err)
	}
	ts := "2026-11-25T11:00:00.000000005Z"
	want := strings.Join([]string{
		ts + " stdout F one",
		ts + ` stderr F INFO:     "POST /execute HTTP/1.1" 200 OK`,
		ts + " stdout F two",
		ts + " stdout F ",
		ts + " stdout P " + strings.Repeat("x", maxCRILine),
		ts + " stdout F xxx",
		ts + " stdout F end",
	}, "\n") + "\n"
	if out.String() != want {
		t.Errorf("log\n%s\nwant\n%s", out.String(), want)
	}
}

// TestCRILogConcurrentStreams: entries of streams written at once stay
// whole (run with -race).
func TestCRILogConcurrentStreams(t *testing.T) {
	var out strings.Builder
	l := &criLog{w: &out, now: time.Now}
	var wg sync.WaitGroup
	for _, name := range []string{"stdout", "stderr"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := l.stream(name)
			for range 200 {
				_, _ = s.Write([]byte("a line of " + name + "\n"))
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, line := range lines {
		f := strings.SplitN(line, " ", 4)
		if len(f) != 4 || f[3] != "a line of "+f[1] || f[2] != "F" {
			t.Fatalf("entry %q", line)
		}
	}
}

// TestLogsObjectCreatedAndDeleted: ensureLogs creates the pod's log file
// and its kwok Logs object pointing at it (replacing one left for an
// earlier pod of the same name), and deleteLogs deletes it.
func TestLogsObjectCreatedAndDeleted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := (&runtime{sup: newSupervisor(nil, config{logsDir: dir}), pod: pythonPod()}).logsObject()
	old.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "python-abcde", UID: "uid-old"}})
	old.SetUID("logs-old")
	dyn := newDynamic(old)
	s := newSupervisor(nil, config{logsDir: dir})
	s.dynamic = dyn
	r := &runtime{sup: s, pod: pythonPod()}
	uid, err := r.ensureLogs(ctx)
	if err != nil || uid == "" || uid == "logs-old" {
		t.Fatalf("%q, %v", uid, err)
	}
	file := filepath.Join(dir, "default_python-abcde_uid-py.log")
	if _, err := os.Stat(file); err != nil {
		t.Errorf("log file: %v", err)
	}
	got, err := dyn.Resource(logsGVR).Namespace("default").Get(ctx, "python-abcde", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"logs": []any{map[string]any{"logsFile": file, "previousLogsFile": file, "follow": true}}}
	if !reflect.DeepEqual(got.Object["spec"], want) || got.GetKind() != "Logs" || got.GetOwnerReferences()[0].UID != "uid-py" {
		t.Errorf("Logs %v", got.Object)
	}
	r.deleteLogs(uid)
	if _, err := dyn.Resource(logsGVR).Namespace("default").Get(ctx, "python-abcde", metav1.GetOptions{}); err == nil {
		t.Error("not deleted")
	}
	// Without --logs-dir, none.
	r = &runtime{sup: newSupervisor(nil, config{}), pod: pythonPod()}
	r.sup.dynamic = dyn
	if uid, err := r.ensureLogs(ctx); uid != "" || err != nil {
		t.Errorf("%q %v", uid, err)
	}
}

// TestRuntimeOutputInCRIFormat: a runtime's stdout and stderr reach the
// pod's log file as CRI log entries, an unfinished last line included, and
// a second run appends to the first's.
func TestRuntimeOutputInCRIFormat(t *testing.T) {
	f := newFixture(t)
	f.r.sup.cfg.logsDir = t.TempDir()
	f.r.sup.command = func(*runtime) *exec.Cmd { return sh("echo out; echo err >&2; printf unfinished") }
	for range 2 {
		p, err := f.r.start()
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			t.Fatal("did not exit")
		}
	}
	b, err := os.ReadFile(f.r.logFile())
	if err != nil {
		t.Fatal(err)
	}
	entry := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) F (.*)$`)
	var got []string
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		m := entry.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a CRI log entry: %q", line)
		}
		got = append(got, m[1]+" "+m[2])
	}
	slices.Sort(got) // stdout and stderr are copied apart
	want := []string{"stderr err", "stderr err", "stdout out", "stdout out", "stdout unfinished", "stdout unfinished"}
	if !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
}
