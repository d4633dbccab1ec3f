package oneshot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

type runResult struct {
	out *Outcome
	err error
}

// hookLog records what the hooks saw.
type hookLog struct {
	created, observed, ready, progress []string
}

func (h *hookLog) hooks() Hooks {
	return Hooks{
		WaitHooks: claims.WaitHooks{
			Created: func(c *extv1beta1.SandboxClaim) { h.created = append(h.created, c.Name) },
			Observe: func(c *extv1beta1.SandboxClaim) {
				h.observed = append(h.observed, c.Name+" "+claims.ReadyCondition(c).Reason)
			},
		},
		Ready: func(c *extv1beta1.SandboxClaim) {
			h.ready = append(h.ready, c.Name+" "+claims.SandboxName(c))
		},
		Progress: func(name string, r io.Reader) io.Reader {
			h.progress = append(h.progress, name)
			return r
		},
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRun: the claim is created and Ready, files go in, the command runs,
// files come out byte for byte, and then the claim is deleted and Run
// waits until it is gone.
func TestRun(t *testing.T) {
	c := newCluster(t)
	c.holdDeletion = true
	local := t.TempDir()
	writeFile(t, filepath.Join(local, "in.txt"), "input\n")
	writeFile(t, filepath.Join(local, "tree", "a.txt"), "a")
	writeFile(t, filepath.Join(local, "tree", "sub", "b.bin"), "\x00\xff")
	result := bytes.Repeat([]byte("\x00\x01\x02result\xff"), 300000)
	c.exec(func(argv []string) (string, string, int) {
		if want := []string{"python3", "main.py", "a b"}; !reflect.DeepEqual(argv, want) {
			t.Errorf("argv %q, want %q", argv, want)
		}
		for p, want := range map[string]string{"work/in.txt": "input\n", "src/a.txt": "a", "src/sub/b.bin": "\x00\xff"} {
			if got, _ := c.router.File("python-abcde", p); string(got) != want {
				t.Errorf("%s holds %q before the command, want %q", p, got, want)
			}
		}
		c.router.WriteFile("python-abcde", "out/result.bin", result)
		c.router.WriteFile("python-abcde", "out/logs/run.log", []byte("log\n"))
		return "done\n", "", 0
	})
	var h hookLog
	plan := Plan{
		Claim:        newClaim(),
		ReadyTimeout: time.Minute,
		CopyIn:       []Copy{{Local: filepath.Join(local, "in.txt"), Remote: "work/in.txt"}, {Local: filepath.Join(local, "tree"), Remote: "src"}},
		Command:      sandbox.Command{Argv: []string{"python3", "main.py", "a b"}},
		CopyOut:      []Copy{{Remote: "out", Local: filepath.Join(local, "out")}, {Remote: "out/result.bin", Local: filepath.Join(local, "copy.bin")}},
	}
	done := make(chan runResult)
	go func() {
		out, err := Run(context.Background(), c.clients(), c.options(), plan, h.hooks())
		done <- runResult{out, err}
	}()
	select {
	case w := <-c.deleteWatches: // Run waits for the deletion
		if !c.exists("run-1") {
			t.Error("the held claim is gone")
		}
		w.Delete(newClaim())
	case r := <-done:
		t.Fatalf("Run returned before the claim was gone: %+v, %v", r.out, r.err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if want := (&Outcome{Claim: "run-1", Result: &sandbox.Result{Stdout: "done\n"}}); !reflect.DeepEqual(r.out, want) {
		t.Errorf("outcome %+v, want %+v", r.out, want)
	}
	if want := []string{"create run-1", "execute python3 main.py a b", "delete run-1"}; !reflect.DeepEqual(c.events(), want) {
		t.Errorf("events %q\nwant %q", c.events(), want)
	}
	for name, want := range map[string]string{"out/result.bin": string(result), "out/logs/run.log": "log\n", "copy.bin": string(result)} {
		if got := readFile(t, filepath.Join(local, name)); got != want {
			t.Errorf("%s: %d bytes, want %d", name, len(got), len(want))
		}
	}
	var paths []string
	tmpName := regexp.MustCompile(`\.kubectl-sandbox-download-[0-9a-f]+`)
	for _, req := range c.router.Requests() {
		paths = append(paths, req.Method+" "+tmpName.ReplaceAllString(req.Path, "TMP"))
		want := http.Header{"X-Sandbox-Id": {"python-abcde"}, "X-Sandbox-Namespace": {"default"}, "X-Sandbox-Port": {"8888"},
			"X-Sandbox-Pod-Ip": {"10.0.0.7"}, "Authorization": {"Bearer s3cret"}}
		req.Header.Del("X-Sandbox-Timeout") // the cleanup of a temporary file has a deadline
		if !reflect.DeepEqual(req.Header, want) {
			t.Errorf("%s %s: headers %v, want %v", req.Method, req.Path, req.Header, want)
		}
	}
	wantPaths := []string{
		"POST /execute", "POST /upload", // work/in.txt: mkdir -p work, the file
		"POST /execute", "POST /upload", "POST /execute", // src: has it tar? the archive, unpack
		"POST /execute",                      // the command
		"GET /download/out", "GET /list/out", // out: not a file, a directory
		"POST /execute", "GET /download/TMP%252Farchive.tar", "POST /execute", // pack, the archive, remove it
		"GET /download/out%252Fresult.bin",
	}
	if !reflect.DeepEqual(paths, wantPaths) {
		t.Errorf("requests %q\nwant %q", paths, wantPaths)
	}
	want := hookLog{
		created:  []string{"run-1"},
		observed: []string{"run-1 DependenciesReady"},
		ready:    []string{"run-1 python-abcde"},
		progress: []string{"work/in.txt", "src/a.txt", "src/sub/b.bin", "out/logs/run.log", "out/result.bin", "out/result.bin"},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("hooks saw %+v\nwant %+v", h, want)
	}
}

// TestRunSkipDeleteWait: closing SkipDeleteWait stops the wait for the
// deletion, which was sent.
func TestRunSkipDeleteWait(t *testing.T) {
	c := newCluster(t)
	c.holdDeletion = true
	c.exec(func([]string) (string, string, int) { return "", "", 0 })
	skip := make(chan struct{})
	done := make(chan runResult)
	go func() {
		out, err := Run(context.Background(), c.clients(), c.options(), Plan{
			Claim: newClaim(), ReadyTimeout: time.Minute, Command: sandbox.Command{Argv: []string{"true"}},
		}, Hooks{SkipDeleteWait: skip})
		done <- runResult{out, err}
	}()
	select {
	case <-c.deleteWatches: // the wait is under way
		close(skip)
	case r := <-done:
		t.Fatalf("Run returned before the claim was gone: %+v, %v", r.out, r.err)
	}
	r := <-done
	if r.err != nil || r.out.Claim != "run-1" || r.out.Kept {
		t.Fatalf("got %+v, %v", r.out, r.err)
	}
	if want := []string{"create run-1", "execute true", "delete run-1"}; !reflect.DeepEqual(c.events(), want) {
		t.Errorf("events %q\nwant %q", c.events(), want)
	}
	if !c.exists("run-1") {
		t.Error("the claim is gone: the test did not hold it")
	}
}

// TestRunInterrupted: when the caller's context ends during the command,
// the claim is still deleted and waited for, on a context of its own.
func TestRunInterrupted(t *testing.T) {
	c := newCluster(t)
	c.holdDeletion = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the router closes
	c.exec(func([]string) (string, string, int) { cancel(); <-release; return "", "", 0 })
	done := make(chan runResult)
	go func() {
		out, err := Run(ctx, c.clients(), c.options(), Plan{
			Claim: newClaim(), ReadyTimeout: time.Minute, Command: sandbox.Command{Argv: []string{"sleep", "1d"}},
		}, Hooks{})
		done <- runResult{out, err}
	}()
	select {
	case w := <-c.deleteWatches:
		w.Delete(newClaim())
	case r := <-done:
		t.Fatalf("Run returned before the claim was gone: %+v, %v", r.out, r.err)
	}
	r := <-done
	// The command was sent before the interrupt: it may have run.
	if want := `execute: the connection to the sandbox router failed after the request was sent: Post "` + c.router.URL + `/execute": context canceled: the command may have run; it was not retried`; r.err == nil || r.err.Error() != want || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("error %v\nwant  %s", r.err, want)
	}
	if want := (Outcome{Claim: "run-1"}); *r.out != want {
		t.Errorf("outcome %+v, want %+v", r.out, want)
	}
	if want := []string{"create run-1", "execute sleep 1d", "delete run-1"}; !reflect.DeepEqual(c.events(), want) {
		t.Errorf("events %q\nwant %q", c.events(), want)
	}
}

// TestRunEndings: every way a run ends deletes the claim, unless the plan
// keeps it; a non-zero exit is no error.
func TestRunEndings(t *testing.T) {
	pending := func(reason, msg string) func(*testing.T, *cluster, *Plan, *session.Options, context.CancelFunc) {
		return func(_ *testing.T, c *cluster, _ *Plan, _ *session.Options, _ context.CancelFunc) {
			c.readyCondition = metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: reason, Message: msg}
		}
	}
	missingIn := func(_ *testing.T, _ *cluster, p *Plan, _ *session.Options, _ context.CancelFunc) {
		p.CopyIn = []Copy{{Local: "LOCAL/missing", Remote: "x"}}
	}
	failing := func(_ *testing.T, c *cluster, _ *Plan, _ *session.Options, _ context.CancelFunc) {
		c.exec(func([]string) (string, string, int) { return "partial\n", "boom\n", 3 })
	}
	for _, tc := range []struct {
		name  string
		setup func(*testing.T, *cluster, *Plan, *session.Options, context.CancelFunc)
		// keep is Plan.Keep.
		keep bool
		// wantErr is the error, with LOCAL and ROUTER for the test's
		// directory and the router's URL.
		wantErr    string
		wantErrAs  []any
		want       Outcome
		wantEvents []string
		wantReady  int
	}{{
		name: "a non-zero exit is no error",
		setup: func(t *testing.T, c *cluster, p *Plan, o *session.Options, cancel context.CancelFunc) {
			failing(t, c, p, o, cancel)
			c.router.WriteFile("python-abcde", "out.txt", []byte("written before failing"))
			p.CopyOut = []Copy{{Remote: "out.txt", Local: "LOCAL/out.txt"}}
		},
		want:       Outcome{Claim: "run-1", Result: &sandbox.Result{Stdout: "partial\n", Stderr: "boom\n", ExitCode: 3}},
		wantEvents: []string{"create run-1", "execute cmd", "delete run-1"}, wantReady: 1,
	}, {
		name: "keep with a non-zero exit", setup: failing, keep: true,
		want:       Outcome{Claim: "run-1", Result: &sandbox.Result{Stdout: "partial\n", Stderr: "boom\n", ExitCode: 3}, Kept: true},
		wantEvents: []string{"create run-1", "execute cmd"}, wantReady: 1,
	}, {
		name: "keep with a failed copy-in", setup: missingIn, keep: true,
		wantErr:    "copying LOCAL/missing into the sandbox: stat LOCAL/missing: no such file or directory",
		wantErrAs:  []any{new(*CopyError)},
		want:       Outcome{Claim: "run-1", Kept: true},
		wantEvents: []string{"create run-1"}, wantReady: 1,
	}, {
		name: "a failed copy-in", setup: missingIn,
		wantErr:    "copying LOCAL/missing into the sandbox: stat LOCAL/missing: no such file or directory",
		wantErrAs:  []any{new(*CopyError)},
		want:       Outcome{Claim: "run-1"},
		wantEvents: []string{"create run-1", "delete run-1"}, wantReady: 1,
	}, {
		name: "a failed copy-out",
		setup: func(_ *testing.T, _ *cluster, p *Plan, _ *session.Options, _ context.CancelFunc) {
			p.CopyOut = []Copy{{Remote: "nothing", Local: "LOCAL/nothing"}}
		},
		wantErr:    "copying nothing out of the sandbox: download nothing: HTTP 404: File not found",
		wantErrAs:  []any{new(*CopyError), new(*sandbox.HTTPError)},
		want:       Outcome{Claim: "run-1", Result: &sandbox.Result{Stdout: "ok\n"}},
		wantEvents: []string{"create run-1", "execute cmd", "delete run-1"}, wantReady: 1,
	}, {
		name: "a command timeout",
		setup: func(t *testing.T, c *cluster, p *Plan, _ *session.Options, _ context.CancelFunc) {
			release := make(chan struct{})
			t.Cleanup(func() { close(release) }) // before the router closes
			c.exec(func([]string) (string, string, int) { <-release; return "", "", 0 })
			p.IO.Timeout = 50 * time.Millisecond // the timeout is what is under test
		},
		wantErr:    "the command did not finish within 50ms; it may still be running in the sandbox",
		wantErrAs:  []any{new(*sandbox.CommandTimeoutError)},
		want:       Outcome{Claim: "run-1"},
		wantEvents: []string{"create run-1", "execute cmd", "delete run-1"}, wantReady: 1,
	}, {
		name: "a failed deletion",
		setup: func(_ *testing.T, c *cluster, _ *Plan, _ *session.Options, _ context.CancelFunc) {
			c.deleteErr = errors.New("etcd is down")
		},
		wantErr:    `deleting sandboxclaim "run-1" failed: etcd is down`,
		wantErrAs:  []any{new(*claims.CleanupError)},
		want:       Outcome{Claim: "run-1", Result: &sandbox.Result{Stdout: "ok\n"}},
		wantEvents: []string{"create run-1", "execute cmd", "delete run-1"}, wantReady: 1,
	}, {
		name: "a failed copy-in and a failed deletion",
		setup: func(t *testing.T, c *cluster, p *Plan, o *session.Options, cancel context.CancelFunc) {
			missingIn(t, c, p, o, cancel)
			c.deleteErr = errors.New("etcd is down")
		},
		wantErr:    "copying LOCAL/missing into the sandbox: stat LOCAL/missing: no such file or directory\n" + `deleting sandboxclaim "run-1" failed: etcd is down`,
		wantErrAs:  []any{new(*CopyError), new(*claims.CleanupError)},
		want:       Outcome{Claim: "run-1"},
		wantEvents: []string{"create run-1", "delete run-1"}, wantReady: 1,
	}, {
		name: "a claim deleted by someone else",
		setup: func(_ *testing.T, c *cluster, _ *Plan, _ *session.Options, _ context.CancelFunc) {
			c.deleteErr = apierrors.NewNotFound(claimsResource.GroupResource(), "run-1")
		},
		want:       Outcome{Claim: "run-1", Result: &sandbox.Result{Stdout: "ok\n"}},
		wantEvents: []string{"create run-1", "execute cmd", "delete run-1"}, wantReady: 1,
	}, {
		name: "a router that cannot be used",
		setup: func(_ *testing.T, _ *cluster, _ *Plan, o *session.Options, _ context.CancelFunc) {
			o.Router.URL = &url.URL{Scheme: "http", Host: "router.example:8080"}
		},
		wantErr:    "refusing to send the router token over plain http to router.example:8080",
		want:       Outcome{Claim: "run-1"},
		wantEvents: []string{"create run-1", "delete run-1"}, wantReady: 1,
	}, {
		name:       "a claim that fails",
		setup:      pending("TemplateNotFound", `template "python" not found`),
		wantErr:    `sandboxclaim "run-1" failed: TemplateNotFound: template "python" not found (sandboxclaim "run-1" was deleted)`,
		wantErrAs:  []any{new(*claims.FailedError), new(*claims.DeletedAfterError)},
		wantEvents: []string{"create run-1", "delete run-1"},
	}, {
		name: "a claim that is not Ready in time",
		setup: func(t *testing.T, c *cluster, p *Plan, o *session.Options, cancel context.CancelFunc) {
			pending("DependenciesNotReady", "Pod is Pending")(t, c, p, o, cancel)
			p.ReadyTimeout = time.Second // the timeout is what is under test; long enough to see the claim once
		},
		wantErr:    `timed out after 1s waiting for sandboxclaim "run-1" to become Ready (last Ready=False, reason DependenciesNotReady: Pod is Pending) (sandboxclaim "run-1" was deleted)`,
		wantErrAs:  []any{new(*claims.TimeoutError)},
		wantEvents: []string{"create run-1", "delete run-1"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			c.exec(func([]string) (string, string, int) { return "ok\n", "", 0 })
			local := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			plan := Plan{Claim: newClaim(), ReadyTimeout: time.Minute, Command: sandbox.Command{Argv: []string{"cmd"}}, Keep: tc.keep}
			opts := c.options()
			tc.setup(t, c, &plan, &opts, cancel)
			for _, cp := range [][]Copy{plan.CopyIn, plan.CopyOut} {
				for i := range cp {
					cp[i].Local = strings.ReplaceAll(cp[i].Local, "LOCAL", local)
				}
			}
			var h hookLog
			out, err := Run(ctx, c.clients(), opts, plan, h.hooks())
			wantErr := strings.NewReplacer("LOCAL", local, "ROUTER", c.router.URL).Replace(tc.wantErr)
			if wantErr == "" && err != nil || wantErr != "" && (err == nil || err.Error() != wantErr) {
				t.Fatalf("error %v\nwant  %s", err, wantErr)
			}
			for _, target := range tc.wantErrAs {
				if !errors.As(err, target) {
					t.Errorf("the error is no %T", target)
				}
			}
			if !reflect.DeepEqual(*out, tc.want) {
				t.Errorf("outcome %+v, want %+v", out, tc.want)
			}
			if got := c.events(); !reflect.DeepEqual(got, tc.wantEvents) {
				t.Errorf("events %q\nwant %q", got, tc.wantEvents)
			}
			deleted := tc.wantEvents[len(tc.wantEvents)-1] == "delete run-1" && (c.deleteErr == nil || apierrors.IsNotFound(c.deleteErr))
			if c.exists("run-1") == deleted {
				t.Errorf("the claim exists: %v", !deleted)
			}
			if len(h.ready) != tc.wantReady {
				t.Errorf("Ready hook called %d times, want %d", len(h.ready), tc.wantReady)
			}
		})
	}
}
