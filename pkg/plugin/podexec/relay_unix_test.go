//go:build unix

package podexec_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec/podexectest"
)

// The relay's command runs here as it runs in a container: sh, then bash
// or python3, as separate processes in their own process group, so that a
// test can tell that none of them is left.

// interpreters is a folder for PATH holding links to the named programs
// only (sh is run by its full path).
func interpreters(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			t.Skipf("no %s here: %v", n, err)
		}
		if n == "python3" {
			// pyenv's shims need their own PATH: link the interpreter itself.
			out, err := exec.Command(p, "-c", "import sys; print(sys.executable)").Output()
			if err != nil {
				t.Skipf("python3 does not run: %v", err)
			}
			p = string(out[:len(out)-1])
		}
		if err := os.Symlink(p, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// relay is the relay's command started here.
type relay struct {
	cmd    *exec.Cmd
	stdin  *os.File // our end of its input
	stdout *bufio.Reader
	stderr *os.File
	exited chan error
}

// startRelay starts the relay to port with PATH path.
func startRelay(t *testing.T, path string, port int) *relay {
	t.Helper()
	argv := podexec.Command(port)
	sh, err := exec.LookPath(argv[0])
	if err != nil {
		t.Skipf("no sh: %v", err)
	}
	cmd := exec.Command(sh, argv[1:]...)
	cmd.Env = []string{"PATH=" + path}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*os.File{inR, outW, errW} {
		_ = f.Close()
	}
	r := &relay{cmd: cmd, stdin: inW, stdout: bufio.NewReader(outR), stderr: errR, exited: make(chan error, 1)}
	go func() { r.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = inW.Close()
		_ = outR.Close()
		_ = errR.Close()
		<-r.exited
	})
	return r
}

// gone waits until no process of the relay's group is left.
func (r *relay) gone(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for syscall.Kill(-r.cmd.Process.Pid, 0) == nil {
		if time.Now().After(deadline) {
			out, _ := exec.Command("ps", "-o", "pid,pgid,args", "-g", strconv.Itoa(r.cmd.Process.Pid)).CombinedOutput()
			t.Fatalf("relay processes left 5s later:\n%s", out)
		}
		<-tick.C
	}
}

// exitCode waits for the relay's first process to end.
func (r *relay) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case err := <-r.exited:
		r.exited <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(5 * time.Second):
		t.Fatal("the relay did not end within 5s")
		return -1
	}
}

func accept(t *testing.T, conns <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c := <-conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("the relay did not connect within 5s")
		return nil
	}
}

// connected starts the relay under the first interpreter of path that
// runs here, to a listener, and checks a round trip through it: the relay
// and the listener's end of its connection.
func connected(t *testing.T, path ...string) (*relay, net.Conn) {
	t.Helper()
	port, conns := podexectest.Listener(t)
	r := startRelay(t, interpreters(t, path...), port)
	server := accept(t, conns)
	roundTrip(t, r, server)
	return r, server
}

// roundTrip checks that bytes pass both ways and that the relay said it
// was ready first.
func roundTrip(t *testing.T, r *relay, server net.Conn) {
	t.Helper()
	line, err := r.stdout.ReadString('\n')
	if err != nil || line != podexec.Ready {
		t.Fatalf("first line %q, %v; want %q", line, err, podexec.Ready)
	}
	if _, err := r.stdin.Write([]byte("ping\x00\xff")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "ping\x00\xff" {
		t.Fatalf("the server read %q, %v", buf, err)
	}
	if _, err := server.Write([]byte("pong\x00\xfe")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r.stdout, buf); err != nil || string(buf) != "pong\x00\xfe" {
		t.Fatalf("the relay wrote %q, %v", buf, err)
	}
}

var relayInterpreters = []struct {
	name string
	path []string
}{
	{"bash", []string{"bash", "cat"}},
	{"python3 (no bash)", []string{"python3"}},
	{"python3 (bash without cat)", []string{"bash", "python3"}},
}

// TestRelayEndsWithItsInput: bytes pass both ways unchanged; when the
// input ends (the client closed the connection) the server sees the
// connection end, and no process of the relay is left.
func TestRelayEndsWithItsInput(t *testing.T) {
	for _, tc := range relayInterpreters {
		t.Run(tc.name, func(t *testing.T) {
			r, server := connected(t, tc.path...)
			_ = r.stdin.Close()
			if n, err := server.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
				t.Errorf("the server read %d, %v; want EOF", n, err)
			}
			if code := r.exitCode(t); code != 0 && code != 143 {
				t.Errorf("exit code %d", code)
			}
			r.gone(t)
		})
	}
}

// TestRelayEndsWithTheConnection: when the server closes the connection,
// the relay's output ends and its first process exits while its input is
// still open (so the exec ends and the client sees the end); nothing is
// left once the kubelet closes the input.
func TestRelayEndsWithTheConnection(t *testing.T) {
	for _, tc := range relayInterpreters {
		t.Run(tc.name, func(t *testing.T) {
			r, server := connected(t, tc.path...)
			_ = server.Close()
			if rest, err := io.ReadAll(r.stdout); err != nil || len(rest) != 0 {
				t.Errorf("output after the server closed: %q, %v", rest, err)
			}
			if code := r.exitCode(t); code != 0 {
				t.Errorf("exit code %d", code)
			}
			_ = r.stdin.Close()
			r.gone(t)
		})
	}
}

// TestRelayKilled: the kubelet's runtime kills the exec's process (only
// that one) when the client goes away, then closes its input: nothing of
// the relay is left, and the server sees the connection end.
func TestRelayKilled(t *testing.T) {
	for _, tc := range relayInterpreters {
		t.Run(tc.name, func(t *testing.T) {
			r, server := connected(t, tc.path...)
			_ = r.cmd.Process.Kill()
			r.exitCode(t)
			_ = r.stdin.Close()
			if n, err := server.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
				t.Errorf("the server read %d, %v; want EOF", n, err)
			}
			r.gone(t)
		})
	}
}

// TestRelayRefused: nothing listens on the port: exit 97 and one line.
func TestRelayRefused(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	_ = lis.Close()
	for _, tc := range relayInterpreters {
		t.Run(tc.name, func(t *testing.T) {
			r := startRelay(t, interpreters(t, tc.path...), port)
			if code := r.exitCode(t); code != podexec.ExitRefused {
				t.Errorf("exit code %d, want %d", code, podexec.ExitRefused)
			}
			msg, _ := io.ReadAll(r.stderr)
			if want := "nothing accepts connections on 127.0.0.1:" + strconv.Itoa(port) + "\n"; string(msg) != want {
				t.Errorf("stderr %q, want %q", msg, want)
			}
			r.gone(t)
		})
	}
}

// TestRelayWithoutInterpreter: neither bash with cat nor python3: exit 96
// and one line.
func TestRelayWithoutInterpreter(t *testing.T) {
	r := startRelay(t, interpreters(t, "cat"), 9)
	if code := r.exitCode(t); code != podexec.ExitNoInterpreter {
		t.Errorf("exit code %d, want %d", code, podexec.ExitNoInterpreter)
	}
	if msg, _ := io.ReadAll(r.stderr); string(msg) != "neither bash with cat nor python3 is in the container\n" {
		t.Errorf("stderr %q", msg)
	}
}

// TestRelayPort: the port of a relay's argv, and nothing of another argv.
func TestRelayPort(t *testing.T) {
	if p, ok := podexec.RelayPort(podexec.Command(9090)); p != 9090 || !ok {
		t.Errorf("RelayPort = %d, %v", p, ok)
	}
	for _, argv := range [][]string{{"sh", "-c", "true"}, append(podexec.Command(1)[:4:4], "x", "", ""), append(podexec.Command(1)[:4:4], "0", "", "")} {
		if _, ok := podexec.RelayPort(argv); ok {
			t.Errorf("RelayPort(%q) is a relay", argv)
		}
	}
}
