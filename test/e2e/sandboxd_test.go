//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// sandboxdClaim creates a Ready claim on the (runc) sandboxd pool for the
// test and deletes it afterwards.
func sandboxdClaim(t *testing.T, name string, extra ...string) string {
	t.Helper()
	return claimOn(t, sandboxdPools[0], name, extra...)
}

// The suites below run on every sandboxd pool (runc's and gVisor's: on
// gVisor, sandboxd is reached over pods/exec), as subtests named after
// the pool.

// remotePids returns the PIDs of the processes in claim c's sandbox whose
// whole command line is exactly cmdline, as pgrep sees them inside the
// sandbox (its own PID namespace: the plugin's processes, whose argv may
// hold the same words, are not there).
func remotePids(t *testing.T, c, cmdline string) []string {
	t.Helper()
	res := Sandbox(t, "exec", c, "--", "pgrep", "-x", "-f", cmdline).Run()
	switch res.ExitCode {
	case 0:
		return strings.Fields(res.Stdout)
	case 1: // none
		return nil
	}
	t.Fatalf("pgrep in %s: exit %d: %s", c, res.ExitCode, res.Stderr)
	return nil
}

// waitRemote waits up to within until a process with exactly cmdline runs
// in claim c's sandbox (running) or none does (!running); it returns the
// PIDs last seen and whether the wait succeeded. stop, if not nil, ends the
// wait early (the command we watch has ended).
func waitRemote(t *testing.T, c, cmdline string, running bool, within time.Duration, stop <-chan struct{}) ([]string, bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		pids := remotePids(t, c, cmdline)
		if (len(pids) > 0) == running {
			return pids, true
		}
		if time.Now().After(deadline) {
			return pids, false
		}
		select {
		case <-stop:
			return pids, false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// mustBeRunning fails the test unless a process with exactly cmdline runs in
// claim c's sandbox within 10s.
func mustBeRunning(t *testing.T, c, cmdline string) {
	t.Helper()
	if _, ok := waitRemote(t, c, cmdline, true, 10*time.Second, nil); !ok {
		t.Fatalf("no process %q runs in %s", cmdline, c)
	}
}

// mustBeGone fails the test unless no process with exactly cmdline runs in
// claim c's sandbox within 5s.
func mustBeGone(t *testing.T, c, cmdline, why string) {
	t.Helper()
	if pids, ok := waitRemote(t, c, cmdline, false, 5*time.Second, nil); !ok {
		t.Errorf("%s: the remote command %q still runs in %s 5s later: pids %v", why, cmdline, c, pids)
	}
}

// sleepCmd is a remote command that prints "started" and then becomes
// `sleep N`: the shell computes N, so that only the remote process's argv
// is "sleep N", never the plugin's own.
func sleepCmd(n int) (shell, cmdline string) {
	return "echo started; exec sleep $((4000+" + strconv.Itoa(n-4000) + "))", "sleep " + strconv.Itoa(n)
}

// TestSandboxdStreamsOutput: the first line of a command reaches our stdout
// while the command still runs.
func TestSandboxdStreamsOutput(t *testing.T) {
	onPools(t, sandboxdPools, func(t *testing.T, p pool) {
		c := claimOn(t, p, "e2e-sd2-stream")
		lines, endAt := timedLines(t, Sandbox(t, "exec", c, "--", "sh", "-c", "echo a; sleep 2; echo b").command())
		if len(lines) != 2 || lines[0].text != "a" || lines[1].text != "b" {
			t.Fatalf("output %+v", lines)
		}
		firstAt := lines[0].at
		if endAt-firstAt < 1500*time.Millisecond {
			t.Errorf("the first line came at %s and the end at %s: not streamed", firstAt, endAt)
		}
		t.Logf("first line after %s, end after %s", firstAt, endAt)
	})
}

func TestSandboxdStdin(t *testing.T) {
	onPools(t, sandboxdPools, func(t *testing.T, p pool) {
		c := claimOn(t, p, "e2e-sd2-stdin")
		data := make([]byte, 5<<20)
		_, _ = rand.Read(data)
		sum := sha256.Sum256(data)
		res := Sandbox(t, "exec", "-i", c, "--", "sha256sum").WithStdin(bytes.NewReader(data)).RunOrFail()
		if want := hex.EncodeToString(sum[:]) + "  -\n"; res.Stdout != want {
			t.Errorf("sha256sum printed %q, want %q", res.Stdout, want)
		}
		res = Sandbox(t, "exec", "-i", c, "--", "cat").WithStdin(bytes.NewReader(data)).RunOrFail()
		if !bytes.Equal([]byte(res.Stdout), data) {
			t.Errorf("cat returned %d bytes, differing from the %d sent", len(res.Stdout), len(data))
		}
		// Without -i the command reads end of input at once.
		if res := Sandbox(t, "exec", c, "--", "cat").WithStdin(strings.NewReader("not sent")).RunOrFail(); res.Stdout != "" {
			t.Errorf("without -i, cat printed %q", res.Stdout)
		}
		// -o json keeps its buffered shape.
		res = Sandbox(t, "exec", "-i", c, "-o", "json", "--", "sh", "-c", "cat; echo e >&2; exit 4").WithStdin(strings.NewReader("in")).Run()
		var got struct {
			Stdout, Stderr string
			ExitCode       int
		}
		if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil || got.Stdout != "in" || got.Stderr != "e\n" || got.ExitCode != 4 || res.ExitCode != 4 {
			t.Errorf("-o json: %v: %q (exit %d)", err, res.Stdout, res.ExitCode)
		}
	})
}

func TestSandboxdEnvWorkdirExitCodesAndArgv(t *testing.T) {
	onPools(t, sandboxdPools, func(t *testing.T, p pool) {
		c := claimOn(t, p, "e2e-sd2-env")
		Sandbox(t, "exec", c, "--", "mkdir", "-p", "sub/dir").RunOrFail()
		res := Sandbox(t, "exec", c, "--env", "A=1", "-e", "B=two words", "--workdir", "sub/dir", "--",
			"sh", "-c", `echo "$A|$B"; pwd; echo err >&2; exit 7`).Run()
		if res.ExitCode != 7 || res.Stdout != "1|two words\n/workspace/sub/dir\n" || res.Stderr != "err\n" {
			t.Errorf("exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
		}
		hostile := []string{"hello world", "it's", `"double"`, `back\slash`, "$HOME", "`id`", "a;b|c&d",
			"line1\nline2", "tab\tx", "ünïcødé 日本語 🎉", "", "  ", "-n", "--", "--flag=x", "*", "'", "#x", "~"}
		res = Sandbox(t, append([]string{"exec", c, "--", "sh", "-c", `for a; do printf '%s\0' "$a"; done`, "sh"}, hostile...)...).RunOrFail()
		got := strings.Split(strings.TrimSuffix(res.Stdout, "\x00"), "\x00")
		if !reflect.DeepEqual(got, hostile) {
			t.Errorf("argv\n got %q\nwant %q", got, hostile)
		}
		if res := Sandbox(t, "exec", c, "--", "no-such-command").Run(); res.ExitCode != 1 || !strings.Contains(res.Stderr, "no-such-command") {
			t.Errorf("missing command: exit %d stderr %q", res.ExitCode, res.Stderr)
		}
		// --timeout ends the remote process: it runs while the command waits,
		// and is gone once we exit 124.
		shell, cmdline := sleepCmd(4124)
		cmd := Sandbox(t, "exec", c, "--timeout", "6s", "--", "sh", "-c", shell).command()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		var werr error
		go func() { werr = cmd.Wait(); close(exited) }()
		_, seen := waitRemote(t, c, cmdline, true, 5*time.Second, exited)
		<-exited
		took := time.Since(start)
		code := -1
		if ee := (*exec.ExitError)(nil); errors.As(werr, &ee) {
			code = ee.ExitCode()
		}
		if !seen {
			t.Errorf("--timeout: the remote %q was never seen running (exit %d after %s, stderr %q)", cmdline, code, took, stderr.String())
		}
		if code != 124 || took < 6*time.Second || stdout.String() != "started\n" ||
			stderr.String() != "error: the command did not finish within 6s and was killed (raise --timeout)\n" {
			t.Errorf("--timeout: exit %d after %s, stdout %q stderr %q", code, took, stdout.String(), stderr.String())
		}
		mustBeGone(t, c, cmdline, "--timeout")
	})
}

// TestSandboxdSelectorStreams: `exec -l` over sandboxd claims streams each
// claim's output as the command prints it, with [claim] prefixes and
// stdout and stderr apart (a last line without a newline gets one), and
// exits with the commands' code: each claim's first line reaches our
// stdout while the commands still run, not when they all end.
func TestSandboxdSelectorStreams(t *testing.T) {
	onPools(t, sandboxdPools, func(t *testing.T, p pool) {
		var names []string
		for _, n := range []string{"e2e-sd2-sel-a", "e2e-sd2-sel-b"} {
			names = append(names, claimOn(t, p, n, "-l", "e2e-sd2-sel=yes"+p.suffix))
		}
		run := startLong(t, "exec", "-l", "e2e-sd2-sel=yes"+p.suffix, "--", "sh", "-c", "echo one; echo oops >&2; sleep 2; printf two; exit 5")
		start := time.Now()
		var out []string
		oneAt := map[string]time.Duration{}
		for l := range run.lines {
			out = append(out, l)
			for _, n := range names {
				if l == "["+n+"] one\n" {
					oneAt[n] = time.Since(start)
				}
			}
		}
		code := run.ended(30 * time.Second)
		end := time.Since(start)
		if code != 5 {
			t.Errorf("exit %d; stderr %q", code, run.errOut())
		}
		stdout := strings.Join(out, "")
		for _, n := range names {
			if got := prefixed(stdout, n); !reflect.DeepEqual(got, []string{"one", "two"}) {
				t.Errorf("%s: stdout lines %q in %q", n, got, stdout)
			}
			if got := prefixed(run.errOut(), n); !reflect.DeepEqual(got, []string{"oops"}) {
				t.Errorf("%s: stderr lines %q in %q", n, got, run.errOut())
			}
			// The remote command sleeps 2s after its first line.
			if at, ok := oneAt[n]; !ok || end-at < 1500*time.Millisecond {
				t.Errorf("%s: [one] came at %s (seen: %t), the end at %s: not streamed", n, at, ok, end)
			}
		}
		if len(out) != 2*len(names) {
			t.Errorf("%d lines, want %d: %q", len(out), 2*len(names), out)
		}
	})
}

// TestSandboxdSignals: Ctrl-C (SIGINT) and SIGTERM reach the remote command,
// which ends at once; we exit with its conventional status, and nothing is
// left running.
func TestSandboxdSignals(t *testing.T) {
	onPools(t, sandboxdPools, func(t *testing.T, p pool) {
		c := claimOn(t, p, "e2e-sd2-sig")
		for _, tc := range []struct {
			sig  syscall.Signal
			code int
		}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
			shell, cmdline := sleepCmd(4000 + 10*int(tc.sig) + 7)
			cmd := Sandbox(t, "exec", c, "--", "sh", "-c", shell).command()
			out, _ := cmd.StdoutPipe()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if line, _ := bufio.NewReader(out).ReadString('\n'); line != "started\n" {
				t.Fatalf("%v: first line %q: %s", tc.sig, line, stderr.String())
			}
			mustBeRunning(t, c, cmdline)
			sent := time.Now()
			_ = cmd.Process.Signal(tc.sig)
			err := cmd.Wait()
			took := time.Since(sent)
			code := -1
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			if code != tc.code || took > time.Second {
				t.Errorf("%v: exit %d after %s (want %d within 1s); stderr %q", tc.sig, code, took, tc.code, stderr.String())
			}
			mustBeGone(t, c, cmdline, tc.sig.String())
		}
	})
}

// ptyRun is the plugin on a pseudo-terminal, as a user at a terminal runs
// it.
type ptyRun struct {
	t      *testing.T
	cmd    *exec.Cmd
	master *os.File
	tty    *os.File
	// before is the terminal's mode before the plugin started.
	before unix.Termios
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan struct{}
	err    error
}

func startPTY(t *testing.T, rows, cols uint16, args ...string) *ptyRun {
	t.Helper()
	return startPTYEnv(t, rows, cols, nil, args...)
}

// startPTYEnv is startPTY with KEY=VALUE pairs added to the plugin's
// environment.
func startPTYEnv(t *testing.T, rows, cols uint16, env []string, args ...string) *ptyRun {
	t.Helper()
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := pty.Setsize(master, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	p := &ptyRun{t: t, master: master, tty: tty, done: make(chan struct{})}
	// Read before the plugin starts, so that its raw mode cannot be taken
	// for the terminal's own.
	p.before = termios(t, tty)
	p.cmd = Sandbox(t, args...).WithEnv(env...).command()
	p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = tty, tty, tty
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		master.Close()
		tty.Close()
	})
	return p
}

func (p *ptyRun) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until the output matches re, doing poke (if any) every
// 200ms meanwhile.
func (p *ptyRun) waitFor(re string, poke func()) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := rx.FindStringSubmatch(p.output()); m != nil {
			return m
		}
		if poke != nil {
			poke()
		}
		select {
		case <-p.done:
			// What the plugin wrote before it exited may still be in the
			// terminal, not yet read by the reader goroutine.
			for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				if m := rx.FindStringSubmatch(p.output()); m != nil {
					return m
				}
			}
			p.t.Fatalf("exited (%v) before printing %q; output %q", p.err, re, p.output())
		case <-time.After(200 * time.Millisecond):
		}
	}
	p.t.Fatalf("no %q in %q", re, p.output())
	return nil
}

func (p *ptyRun) exitCode() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.t.Fatalf("still running; output %q", p.output())
	}
	if ee := (*exec.ExitError)(nil); errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		p.t.Fatal(p.err)
	}
	return 0
}

// cookedBefore returns the terminal's mode before the plugin started, and
// fails the test unless it was cooked (canonical, echoing): a restore to a
// raw mode would prove nothing.
func (p *ptyRun) cookedBefore() unix.Termios {
	p.t.Helper()
	if p.before.Lflag&unix.ICANON == 0 || p.before.Lflag&unix.ECHO == 0 {
		p.t.Fatalf("the test terminal is not in cooked mode: lflag %#x", p.before.Lflag)
	}
	return p.before
}

// termios is the terminal's mode, to compare before and after.
func termios(t *testing.T, f *os.File) unix.Termios {
	t.Helper()
	st, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return *st
}

// TestSandboxdTerminal: -t and shell give the command a terminal (isatty,
// not tty(1): under gVisor ttyname fails on a terminal, gVisor #13535),
// of our size, resized with ours; the local terminal is raw meanwhile and
// restored after exit, ^C and SIGTERM.
func TestSandboxdTerminal(t *testing.T) {
	onPools(t, sandboxdPools, func(t *testing.T, p pool) {
		c := claimOn(t, p, "e2e-sd2-tty")
		t.Run("tty, size, resize, exit code", func(t *testing.T) {
			p := startPTY(t, 31, 101, "exec", "-it", c, "--", "sh", "-c",
				`[ -t 0 ] && echo on-a-terminal; stty size; while read -r line; do [ "$line" = q ] && exit 9; stty size; done`)
			before := p.cookedBefore()
			p.waitFor(`on-a-terminal\r?\n31 101\r?\n`, nil)
			if got := termios(t, p.tty); got.Lflag&(unix.ICANON|unix.ECHO) != 0 {
				t.Errorf("the local terminal is not raw while the command runs: lflag %#x", got.Lflag)
			}
			if err := pty.Setsize(p.master, &pty.Winsize{Rows: 42, Cols: 120}); err != nil {
				t.Fatal(err)
			}
			p.waitFor(`42 120`, func() { _, _ = p.master.Write([]byte("\r")) })
			_, _ = p.master.Write([]byte("q\r"))
			if code := p.exitCode(); code != 9 {
				t.Errorf("exit %d, want 9; output %q", code, p.output())
			}
			if got := termios(t, p.tty); got != before {
				t.Errorf("the local terminal was not restored:\n got %+v\nwant %+v", got, before)
			}
		})
		t.Run("Ctrl-C", func(t *testing.T) {
			p := startPTY(t, 24, 80, "exec", "-it", c, "--", "sh", "-c", `echo ready; trap 'echo got-int; exit 3' INT; while :; do sleep 0.1; done`)
			before := p.cookedBefore()
			p.waitFor(`ready`, nil)
			// Raw mode: ^C is a byte for the remote terminal, which interrupts
			// the remote command.
			_, _ = p.master.Write([]byte{3})
			p.waitFor(`got-int`, nil)
			if code := p.exitCode(); code != 3 {
				t.Errorf("exit %d, want 3; output %q", code, p.output())
			}
			if got := termios(t, p.tty); got != before {
				t.Errorf("the local terminal was not restored after ^C")
			}
		})
		t.Run("SIGTERM", func(t *testing.T) {
			shell, cmdline := sleepCmd(4157)
			p := startPTY(t, 24, 80, "exec", "-it", c, "--", "sh", "-c", shell)
			before := p.cookedBefore()
			p.waitFor(`started`, nil)
			mustBeRunning(t, c, cmdline)
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			if code := p.exitCode(); code != 143 {
				t.Errorf("exit %d, want 143; output %q", code, p.output())
			}
			if got := termios(t, p.tty); got != before {
				t.Errorf("the local terminal was not restored after SIGTERM")
			}
			mustBeGone(t, c, cmdline, "SIGTERM on a terminal")
		})
		t.Run("shell", func(t *testing.T) {
			p := startPTY(t, 24, 80, "shell", c)
			p.waitFor(`[#$] $`, nil) // the prompt: the shell reads now
			_, _ = p.master.Write([]byte("echo in-$((6*7)); [ -t 0 ] && echo on-a-ter''minal; exit 6\r"))
			p.waitFor(`in-42\r?\non-a-terminal`, nil)
			if code := p.exitCode(); code != 6 {
				t.Errorf("exit %d, want 6; output %q", code, p.output())
			}
		})
		// Which shell `shell` runs: --shell, else the sandbox's $SHELL (set
		// here with -e, as an image would), else /bin/sh; never our own $SHELL.
		for _, tc := range []struct {
			name      string
			localEnv  []string
			args      []string
			want      string // $0 of the shell
			bashLogin bool
		}{
			{"shell: not our $SHELL", []string{"SHELL=/bin/bash"}, nil, "/bin/sh", false},
			{"shell: the sandbox's $SHELL", nil, []string{"-e", "SHELL=/bin/bash"}, "/bin/bash", true},
			{"shell --shell", []string{"SHELL=/bin/sh"}, []string{"--shell", "/bin/bash"}, "/bin/bash", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := startPTYEnv(t, 24, 80, tc.localEnv, append([]string{"shell", c}, tc.args...)...)
				before := p.cookedBefore()
				// The prompt, maybe followed by bash's bracketed-paste switch.
				p.waitFor(`[#$] (\x1b\[\?2004h)?$`, nil)
				// What the shell prints differs from what we type (the
				// terminal echoes that): ${BASH_VERSION:+BA}SH is BASH in bash
				// only, and L2 says bash is a login shell.
				line := `echo "v=${BASH_VERSION:+BA}SH z=$0."; shopt -q login_shell 2>/dev/null && echo L$((1+1)); exit 6` + "\r"
				_, _ = p.master.Write([]byte(line))
				want := `v=SH z=` + regexp.QuoteMeta(tc.want) + `\.\r?\n`
				if tc.bashLogin {
					want = `v=BASH z=` + regexp.QuoteMeta(tc.want) + `\.\r?\nL2\r?\n`
				}
				p.waitFor(want, nil)
				if code := p.exitCode(); code != 6 {
					t.Errorf("exit %d, want 6; output %q", code, p.output())
				}
				if got := termios(t, p.tty); got != before {
					t.Errorf("the local terminal was not restored after the shell")
				}
			})
		}
	})
}

func TestSandboxdFiles(t *testing.T) {
	onPools(t, sandboxdPools, func(t *testing.T, p pool) {
		c := claimOn(t, p, "e2e-sd2-files")
		src, dst := t.TempDir(), filepath.Join(t.TempDir(), "back")
		want := writeTree(t, src)
		Sandbox(t, "cp", src, c+":up/tree").RunOrFail()
		Sandbox(t, "cp", c+":/workspace/up/tree", dst).RunOrFail()
		if got := sums(t, dst); !reflect.DeepEqual(got, want) {
			t.Fatalf("tree differs after a round trip\n got %v\nwant %v", got, want)
		}
		// What cp wrote, exec sees.
		res := Sandbox(t, "exec", c, "--", "sha256sum", "up/tree/bin/random.dat").RunOrFail()
		if !strings.HasPrefix(res.Stdout, want["bin/random.dat"]+" ") {
			t.Errorf("exec sha256sum: %q, want %s", res.Stdout, want["bin/random.dat"])
		}
		ls := Sandbox(t, "ls", c+":up/tree").RunOrFail().Stdout
		if !regexp.MustCompile(`(?s)^NAME\s+TYPE\s+SIZE\s+MODIFIED\na\.txt\s+file\s+6\s+\S+\nbin\s+directory`).MatchString(ls) {
			t.Errorf("ls:\n%s", ls)
		}
		if cat := Sandbox(t, "cat", c+":up/tree/ünïcødé dir/名前 %41.txt").RunOrFail().Stdout; cat != "unicode\n" {
			t.Errorf("cat %q", cat)
		}
		// rm: a file, a tree (-r), a non-empty directory without -r, a missing path, -f.
		Sandbox(t, "rm", c+":up/tree/a.txt").RunOrFail()
		if res := Sandbox(t, "rm", c+":up/tree/nested").Run(); res.ExitCode != 1 || !strings.Contains(res.Stderr, "use -r") {
			t.Errorf("rm of a non-empty directory: exit %d stderr %q", res.ExitCode, res.Stderr)
		}
		Sandbox(t, "rm", "-r", c+":up/tree/nested").RunOrFail()
		if res := Sandbox(t, "rm", c+":up/tree/nested").Run(); res.ExitCode != 1 ||
			res.Stderr != "error: "+c+":up/tree/nested: no such file or directory in the sandbox\n" {
			t.Errorf("rm of a missing path: exit %d stderr %q", res.ExitCode, res.Stderr)
		}
		Sandbox(t, "rm", "-f", c+":up/tree/nested").RunOrFail()
		res = Sandbox(t, "exec", c, "--", "find", "up", "-name", "*.txt").RunOrFail()
		if strings.Contains(res.Stdout, "a.txt") || strings.Contains(res.Stdout, "nested") {
			t.Errorf("removed files remain: %q", res.Stdout)
		}
		if res := Sandbox(t, "rm", "-r", c+":/workspace").Run(); res.ExitCode != 1 || !strings.Contains(res.Stderr, "root directory") {
			t.Errorf("rm of the root: exit %d stderr %q", res.ExitCode, res.Stderr)
		}
	})
}

func TestSandboxdErrors(t *testing.T) {
	py := readyClaim(t, "e2e-sd2-py")
	res := Sandbox(t, "exec", "-t", py, "--", "true").Run()
	if res.ExitCode != 1 || res.Stderr != "error: the python runtime cannot give a command a terminal (-t): use a sandbox whose template runs sandboxd (e.g. kubectl sandbox create --pool sandboxd), or drop -t\n" {
		t.Errorf("-t on the python runtime: exit %d stderr %q", res.ExitCode, res.Stderr)
	}
	// The python runtime takes input buffered.
	if res := Sandbox(t, "exec", "-i", py, "--", "sha256sum").WithStdin(strings.NewReader("abc")).RunOrFail(); !strings.HasPrefix(res.Stdout, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad ") {
		t.Errorf("python -i: %q", res.Stdout)
	}
	if res := Sandbox(t, "exec", py, "--", "ls", "-a").RunOrFail(); strings.Contains(res.Stdout, ".kubectl-sandbox-stdin") {
		t.Errorf("the input's temporary file was left: %q", res.Stdout)
	}
	// --runtime sandboxd on a python sandbox.
	if res := Sandbox(t, "exec", "--runtime", "sandboxd", py, "--", "true").Run(); res.ExitCode != 1 || !strings.Contains(res.Stderr, "does not answer on sandboxd's port 8080") {
		t.Errorf("--runtime sandboxd on a python pod: exit %d stderr %q", res.ExitCode, res.Stderr)
	}
	// A user who may use claims and sandboxes but not port-forward.
	sd := sandboxdClaim(t, "e2e-sd2-rbac")
	rbac := `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: e2e-no-portforward, namespace: default}
rules:
- apiGroups: [extensions.agents.x-k8s.io]
  resources: [sandboxclaims]
  verbs: [get, list]
- apiGroups: [agents.x-k8s.io]
  resources: [sandboxes]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-no-portforward, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: e2e-no-portforward}
subjects:
- {kind: User, name: e2e-no-portforward, apiGroup: rbac.authorization.k8s.io}
`
	Kubectl(t, "apply", "-f", "-").WithStdin(strings.NewReader(rbac)).RunOrFail()
	t.Cleanup(func() { Kubectl(t, "delete", "role,rolebinding", "e2e-no-portforward", "--ignore-not-found").Run() })
	// Refused a port-forward, auto tries pods/exec, refused too: one line
	// says both.
	res = Sandbox(t, "exec", sd, "--as", "e2e-no-portforward", "--", "true").Run()
	want := regexp.MustCompile(`^error: cannot reach pod default/(\S+): through a port-forward: port-forward to pod default/(\S+) is forbidden: you may not create pods/portforward in namespace "default"; ` +
		`through pods/exec: exec into pod default/(\S+) is forbidden: you may not create pods/exec in namespace "default" ` +
		`\(ask for RBAC create on pods/portforward, or on pods/exec, in namespace default; check with: kubectl auth can-i create pods/portforward -n default\)\n$`)
	if res.ExitCode != 1 || !want.MatchString(res.Stderr) {
		t.Errorf("no pods/portforward: exit %d stderr %q", res.ExitCode, res.Stderr)
	}
	// Told to port-forward, it says which right it lacks.
	res = Sandbox(t, "exec", sd, "--as", "e2e-no-portforward", "--transport", "port-forward", "--", "true").Run()
	if res.ExitCode != 1 || !strings.HasPrefix(res.Stderr, "error: port-forward to pod default/") ||
		!strings.Contains(res.Stderr, `is forbidden: you may not create pods/portforward in namespace "default" (sandboxd is reached by a port-forward: ask for RBAC create on pods/portforward in namespace default`) {
		t.Errorf("no pods/portforward, --transport port-forward: exit %d stderr %q", res.ExitCode, res.Stderr)
	}
}

// TestSandboxdLostConnectionKillsTheCommand: when the plugin dies outright
// (SIGKILL: no cleanup of ours), the port-forward's stream ends and sandboxd
// stops the command instead of leaving it running.
func TestSandboxdLostConnectionKillsTheCommand(t *testing.T) {
	onPools(t, sandboxdPools, func(t *testing.T, p pool) {
		c := claimOn(t, p, "e2e-sd2-lost")
		shell, cmdline := sleepCmd(4343)
		cmd := Sandbox(t, "exec", c, "--", "sh", "-c", shell).command()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, _ := bufio.NewReader(out).ReadString('\n'); line != "started\n" {
			t.Fatalf("first line %q", line)
		}
		mustBeRunning(t, c, cmdline)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if pids, ok := waitRemote(t, c, cmdline, false, 10*time.Second, nil); !ok {
			t.Fatalf("the remote command still runs 10s after the plugin died: pids %v", pids)
		}
	})
}
