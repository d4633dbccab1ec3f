//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startedCmd is a long-running plugin command whose stdout is read line by
// line.
type startedCmd struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string
	mu     sync.Mutex
	stderr *bytes.Buffer
}

func (s *startedCmd) errOut() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

func startLong(t *testing.T, args ...string) *startedCmd {
	t.Helper()
	cmd := Sandbox(t, args...).command()
	out, _ := cmd.StdoutPipe()
	s := &startedCmd{t: t, cmd: cmd, lines: make(chan string, 100), stderr: &bytes.Buffer{}}
	cmd.Stderr = lockedWriter{&s.mu, s.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				s.lines <- line
			}
			if err != nil {
				close(s.lines)
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return s
}

// line waits for the next line of output.
func (s *startedCmd) line(within time.Duration) string {
	s.t.Helper()
	select {
	case l, ok := <-s.lines:
		if !ok {
			s.t.Fatalf("the command ended; stderr %q", s.errOut())
		}
		return l
	case <-time.After(within):
		s.t.Fatalf("no output within %s; stderr %q", within, s.errOut())
	}
	return ""
}

// stop interrupts the command and returns its exit code.
func (s *startedCmd) stop() int {
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	err := s.cmd.Wait()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return 0
}

// webServer starts python3 -m http.server on port in the sandbox's www/
// with a random file and returns the file's bytes.
func webServer(t *testing.T, claim string, port int) []byte {
	t.Helper()
	data := make([]byte, 1<<20)
	_, _ = rand.Read(data)
	Sandbox(t, "cp", "-", claim+":www/blob.bin").WithStdin(bytes.NewReader(data)).RunOrFail()
	Sandbox(t, "exec", claim, "--", "sh", "-c", fmt.Sprintf("cd www && nohup python3 -m http.server %d >/dev/null 2>&1 &", port)).RunOrFail()
	t.Cleanup(func() { Sandbox(t, "exec", claim, "--", "pkill", "-f", fmt.Sprintf("http.server %d", port)).Run() })
	return data
}

// get fetches url, retrying while the server inside starts.
func get(t *testing.T, url string) []byte {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return b
			}
			err = fmt.Errorf("%s: %w", resp.Status, rerr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestLogs(t *testing.T) {
	c := readyClaim(t, "e2e-logs")
	Sandbox(t, "exec", c, "--", "true").RunOrFail()
	res := Sandbox(t, "logs", c).RunOrFail()
	if !strings.Contains(res.Stdout, "POST /execute") {
		t.Fatalf("the runtime's request log is not in the logs:\n%s", res.Stdout)
	}
	if n := strings.Count(Sandbox(t, "logs", c, "--tail", "1").RunOrFail().Stdout, "\n"); n != 1 {
		t.Errorf("--tail 1 printed %d lines", n)
	}
	if res := Sandbox(t, "logs", c, "--since", "1h").RunOrFail(); !strings.Contains(res.Stdout, "POST /execute") {
		t.Errorf("--since 1h lost lines:\n%s", res.Stdout)
	}
	// --since and --since-time drop what is older. (The kubelet's probes
	// log a request every second: only the exec's request is counted.)
	time.Sleep(2500 * time.Millisecond)
	if res := Sandbox(t, "logs", c, "--since", "2s").RunOrFail(); strings.Contains(res.Stdout, "POST /execute") {
		t.Errorf("--since 2s printed lines older than 2s:\n%s", res.Stdout)
	}
	from := time.Now().Add(time.Second).Truncate(time.Second) // RFC3339 has whole seconds
	time.Sleep(time.Until(from) + 100*time.Millisecond)
	Sandbox(t, "exec", c, "--", "true").RunOrFail()
	if n := strings.Count(Sandbox(t, "logs", c).RunOrFail().Stdout, "POST /execute"); n < 2 {
		t.Errorf("the logs hold %d requests, want 2 or more", n)
	}
	res = Sandbox(t, "logs", c, "--since-time", from.UTC().Format(time.RFC3339), "--timestamps").RunOrFail()
	if n := strings.Count(res.Stdout, "POST /execute"); n != 1 {
		t.Errorf("--since-time %s printed %d requests, want the 1 after it:\n%s", from.UTC().Format(time.RFC3339), n, res.Stdout)
	}
	if res := Sandbox(t, "logs", c, "--timestamps", "--tail", "1").RunOrFail(); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`).MatchString(res.Stdout) {
		t.Errorf("--timestamps: %q", res.Stdout)
	}
	// -f shows a new line within a second. The last line so far comes
	// first: the follow has started.
	f := startLong(t, "logs", c, "-f", "--tail", "1")
	f.line(10 * time.Second)
	start := time.Now()
	Sandbox(t, "exec", c, "--", "echo", "marker-for-follow").RunOrFail()
	for !strings.Contains(f.line(5*time.Second), "POST /execute") {
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("the new line took %s to show", took)
	}
	if code := f.stop(); code != 130 {
		t.Errorf("logs -f ended with %d after Ctrl-C; stderr %q", code, f.errOut())
	}
	if f.errOut() != "" {
		t.Errorf("logs -f printed on Ctrl-C: %q", f.errOut())
	}
}

// ended waits for the command to end by itself and returns its exit code.
func (s *startedCmd) ended(within time.Duration) int {
	s.t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			return ee.ExitCode()
		}
		return 0
	case <-time.After(within):
		s.t.Fatalf("still running after %s; stderr %q", within, s.errOut())
	}
	return 0
}

// TestLogsFollowEndsWhenThePodGoes: logs -f ends by itself, exit 0, when the
// sandbox's pod goes: suspended, or the claim deleted.
func TestLogsFollowEndsWhenThePodGoes(t *testing.T) {
	c := readyClaim(t, "e2e-logs-gone")
	for _, gone := range [][]string{{"suspend", c, "--wait=false"}, {"delete", c, "--wait=false"}} {
		if gone[0] == "delete" {
			Sandbox(t, "resume", c).RunOrFail()
		}
		f := startLong(t, "logs", c, "-f")
		f.line(10 * time.Second) // following: the runtime's start-up lines
		start := time.Now()
		Sandbox(t, gone...).RunOrFail()
		if code := f.ended(15 * time.Second); code != 0 || f.errOut() != "" {
			t.Errorf("logs -f after %s: exit %d stderr %q", gone[0], code, f.errOut())
		}
		t.Logf("logs -f ended %s after %s", time.Since(start).Round(time.Millisecond), gone[0])
	}
}

// TestPortForwardAndProxy: port-forward (on gVisor, relayed over
// pods/exec) and proxy (through the router, every way) reach a web server
// and a WebSocket echo server in the sandbox, on every python pool.
func TestPortForwardAndProxy(t *testing.T) {
	onPools(t, pythonPools, func(t *testing.T, p pool) {
		c := claimOn(t, p, "e2e-pf")
		data := webServer(t, c, 9123)
		pf := startLong(t, "port-forward", c, ":9123")
		m := regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> 9123\n$`).FindStringSubmatch(pf.line(10 * time.Second))
		if m == nil {
			t.Fatal("no Forwarding line")
		}
		if got := get(t, "http://127.0.0.1:"+m[1]+"/blob.bin"); !bytes.Equal(got, data) {
			t.Errorf("port-forward: %d bytes, differing from the %d in the sandbox", len(got), len(data))
		}
		if code := pf.stop(); code != 130 {
			t.Errorf("port-forward ended with %d after Ctrl-C", code)
		}
		px := startLong(t, "proxy", c, "9123")
		m = regexp.MustCompile(`^Serving sandboxclaim ` + c + ` port 9123 on (http://127\.0\.0\.1:\d+/)\n$`).FindStringSubmatch(px.line(10 * time.Second))
		if m == nil {
			t.Fatal("no Serving line")
		}
		if got := get(t, m[1]+"blob.bin"); !bytes.Equal(got, data) {
			t.Errorf("proxy: %d bytes, differing from the %d in the sandbox", len(got), len(data))
		}
		// A WebSocket echo server of the test's own, inside the sandbox.
		Sandbox(t, "cp", "-", c+":ws.py").WithStdin(strings.NewReader(wsEchoServer)).RunOrFail()
		Sandbox(t, "exec", c, "--", "sh", "-c", "nohup python3 ws.py 9124 >/dev/null 2>&1 &").RunOrFail()
		t.Cleanup(func() { Sandbox(t, "exec", c, "--", "pkill", "-f", "ws.py 9124").Run() })
		ws := startLong(t, "proxy", c, "9124")
		m = regexp.MustCompile(`on http://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(ws.line(10 * time.Second))
		if m == nil {
			t.Fatal("no Serving line")
		}
		for _, msg := range []string{"hello", strings.Repeat("ü", 100)} {
			if got := wsEcho(t, m[1], msg); got != msg {
				t.Errorf("websocket echo %q, want %q", got, msg)
			}
		}
		ws.stop()

		// The other ways to the router, and other local addresses (127.0.0.0/8
		// is all loopback).
		pf = startLong(t, "port-forward", c, ":9123", "--address", "127.0.0.2")
		m = regexp.MustCompile(`^Forwarding from 127\.0\.0\.2:(\d+) -> 9123\n$`).FindStringSubmatch(pf.line(10 * time.Second))
		if m == nil {
			t.Fatal("no Forwarding line for --address 127.0.0.2")
		}
		if got := get(t, "http://127.0.0.2:"+m[1]+"/blob.bin"); !bytes.Equal(got, data) {
			t.Errorf("port-forward --address: %d bytes, differing from the %d in the sandbox", len(got), len(data))
		}
		pf.stop()
		for _, way := range [][]string{{"--gateway", gatewayName}, {"--router-url", routerURL}} {
			px := startLong(t, append([]string{"proxy", c, "9123", "--address", "127.0.0.3"}, way...)...)
			m = regexp.MustCompile(`^Serving sandboxclaim ` + c + ` port 9123 on (http://127\.0\.0\.3:\d+/)\n$`).FindStringSubmatch(px.line(10 * time.Second))
			if m == nil {
				t.Fatalf("%s: no Serving line on 127.0.0.3", way)
			}
			if got := get(t, m[1]+"blob.bin"); !bytes.Equal(got, data) {
				t.Errorf("proxy %s: %d bytes, differing from the %d in the sandbox", way, len(got), len(data))
			}
			px.stop()
			ws := startLong(t, append([]string{"proxy", c, "9124"}, way...)...)
			m = regexp.MustCompile(`on http://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(ws.line(10 * time.Second))
			if m == nil {
				t.Fatalf("%s: no Serving line", way)
			}
			if got := wsEcho(t, m[1], "through "+way[0]); got != "through "+way[0] {
				t.Errorf("websocket echo %s: %q", way, got)
			}
			ws.stop()
		}
	})
}

// wsEchoServer is a minimal WebSocket echo server (text frames under 64
// KiB), with only the standard library.
const wsEchoServer = `import base64, hashlib, socket, sys, threading
def serve(c):
    f = c.makefile('rb')
    key = None
    while True:
        line = f.readline().decode()
        if line in ('\r\n', ''): break
        if line.lower().startswith('sec-websocket-key:'): key = line.split(':', 1)[1].strip()
    acc = base64.b64encode(hashlib.sha1((key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()
    c.sendall(('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + acc + '\r\n\r\n').encode())
    while True:
        h = f.read(2)
        if len(h) < 2: return
        n = h[1] & 127
        if n == 126: n = int.from_bytes(f.read(2), 'big')
        mask = f.read(4) if h[1] & 128 else b'\0\0\0\0'
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(f.read(n)))
        if h[0] & 15 == 8: return
        out = bytes([0x81]) + (bytes([len(data)]) if len(data) < 126 else bytes([126]) + len(data).to_bytes(2, 'big')) + data
        c.sendall(out)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`

// wsEcho sends one masked text frame over a WebSocket at addr and returns
// the text frame that comes back.
func wsEcho(t *testing.T, addr, msg string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", addr, key)
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Fatalf("upgrade answered %s %v", resp.Status, resp.Header)
	}
	payload := []byte(msg)
	frame := []byte{0x81}
	if len(payload) < 126 {
		frame = append(frame, 0x80|byte(len(payload)))
	} else {
		frame = append(frame, 0x80|126, byte(len(payload)>>8), byte(len(payload)))
	}
	mask := []byte{1, 2, 3, 4}
	frame = append(frame, mask...)
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
	h := make([]byte, 2)
	if _, err := io.ReadFull(r, h); err != nil {
		t.Fatal(err)
	}
	n := int(h[1] & 127)
	if n == 126 {
		b := make([]byte, 2)
		_, _ = io.ReadFull(r, b)
		n = int(b[0])<<8 | int(b[1])
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func TestSuspendResume(t *testing.T) {
	c := readyClaim(t, "e2e-suspend")
	sb := jsonpath(t, c, "{.status.sandbox.name}")
	Sandbox(t, "exec", c, "--", "sh", "-c", "echo kept > kept.txt").RunOrFail()
	if res := Sandbox(t, "suspend", c).RunOrFail(); res.Stdout != claimRes+"/"+c+" suspended\n" {
		t.Errorf("suspend printed %q", res.Stdout)
	}
	if res := Kubectl(t, "get", "pod", sb).Run(); res.ExitCode == 0 {
		t.Errorf("the pod is still there after suspend: %s", res.Stdout)
	}
	if !regexp.MustCompile(`(?m)^` + c + `\s+python\s+python\s+False\s+SandboxSuspended\s`).MatchString(Sandbox(t, "get", c).RunOrFail().Stdout) {
		t.Errorf("get does not show it suspended:\n%s", Sandbox(t, "get", c).Run().Stdout)
	}
	if res := Sandbox(t, "exec", c, "--", "true").Run(); res.ExitCode != 1 || !strings.Contains(res.Stderr, "SandboxSuspended") {
		t.Errorf("exec on a suspended sandbox: exit %d stderr %q", res.ExitCode, res.Stderr)
	}
	if res := Sandbox(t, "resume", c).RunOrFail(); res.Stdout != claimRes+"/"+c+" resumed\n" {
		t.Errorf("resume printed %q", res.Stdout)
	}
	Kubectl(t, "get", "pod", sb).RunOrFail()
	if res := Sandbox(t, "exec", c, "--", "echo", "back").RunOrFail(); res.Stdout != "back\n" {
		t.Errorf("exec after resume: %q", res.Stdout)
	}
	// --wait=false returns at once; the state follows.
	Sandbox(t, "suspend", c, "--wait=false").RunOrFail()
	Sandbox(t, "wait", c, "--for=condition=Ready=False").RunOrFail()
	Sandbox(t, "resume", c, "--wait=false").RunOrFail()
	Sandbox(t, "wait", c, "--for=condition=Ready").RunOrFail()
}

func TestExtend(t *testing.T) {
	c := readyClaim(t, "e2e-extend", "--ttl", "8s")
	res := Sandbox(t, "extend", c, "--ttl", "25s").RunOrFail()
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(claimRes+"/"+c) + ` expires at \S+Z \(in 25s\)\n$`).MatchString(res.Stdout) {
		t.Errorf("extend printed %q", res.Stdout)
	}
	// An expiry not in the future is refused while the claim is there, and
	// the claim's expiry stays as it was.
	expiry := jsonpath(t, c, "{.spec.lifecycle.shutdownTime}")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"extend", c, "--ttl", "-1h"}, "error: invalid --ttl -1h0m0s: it must be positive (the expiry is now plus --ttl)\n"},
		{[]string{"extend", c, "--until", "2020-01-01T00:00:00Z"}, "error: refusing to set the expiry to 2020-01-01T00:00:00Z, which is not in the future\n"},
	} {
		if res := Sandbox(t, tc.args...).Run(); res.ExitCode != 1 || res.Stderr != tc.want {
			t.Errorf("%q: exit %d stderr %q, want %q", tc.args, res.ExitCode, res.Stderr, tc.want)
		}
	}
	if got := jsonpath(t, c, "{.spec.lifecycle.shutdownTime}"); got != expiry {
		t.Errorf("a refused extend moved the expiry from %s to %s", expiry, got)
	}
	time.Sleep(15 * time.Second) // past the old expiry
	if jsonpath(t, c, "{.metadata.name}") != c {
		t.Fatal("the claim is gone before its new expiry")
	}
	Sandbox(t, "wait", c, "--for=delete", "--timeout", "40s").RunOrFail()
}

func TestDoctor(t *testing.T) {
	res := Sandbox(t, "doctor", "--gateway", gatewayName, "--probe").RunOrFail()
	for _, check := range []string{"api", "agent-sandbox-apis", "controller", "templates-and-pools", "router", "gatewayclass", "gateway", "httproute", "gateway-request", "access", "probe", "transports"} {
		if !regexp.MustCompile(`(?m)^OK\s+` + check + `\s`).MatchString(res.Stdout) {
			t.Errorf("check %s is not OK:\n%s", check, res.Stdout)
		}
	}
	res = Sandbox(t, "doctor", "-o", "json").RunOrFail()
	var lines []struct{ Check, Status, Detail string }
	if err := json.Unmarshal([]byte(res.Stdout), &lines); err != nil || len(lines) != 6 {
		t.Errorf("-o json: %v: %s", err, res.Stdout)
	}
	// A pool that is deleted.
	Kubectl(t, "apply", "-f", "-").WithStdin(strings.NewReader(`apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxWarmPool
metadata: {name: e2e-doctor-pool, namespace: default}
spec: {replicas: 0, sandboxTemplateRef: {name: python}}
`)).RunOrFail()
	t.Cleanup(func() { Kubectl(t, "delete", "sandboxwarmpool", "e2e-doctor-pool", "--ignore-not-found").Run() })
	if res := Sandbox(t, "doctor", "--pool", "e2e-doctor-pool").Run(); res.ExitCode != 0 || !regexp.MustCompile(`(?m)^(OK|WARN)\s+templates-and-pools\s.*e2e-doctor-pool 0/0`).MatchString(res.Stdout) {
		t.Errorf("a pool of 0: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	Kubectl(t, "delete", "sandboxwarmpool", "e2e-doctor-pool").RunOrFail()
	res = Sandbox(t, "doctor", "--pool", "e2e-doctor-pool").Run()
	if res.ExitCode != 1 || !regexp.MustCompile(`(?m)^FAIL\s+templates-and-pools\s+no sandboxwarmpool "e2e-doctor-pool"`).MatchString(res.Stdout) ||
		res.Stderr != "error: 1 check(s) failed\n" {
		t.Errorf("deleted pool: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	// A user who may do nothing.
	res = Sandbox(t, "doctor", "--as", "e2e-nobody").Run()
	if res.ExitCode != 1 || !regexp.MustCompile(`(?m)^FAIL\s+access\s+in namespace default you may not: create sandboxclaims`).MatchString(res.Stdout) {
		t.Errorf("restricted user: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	// The router stopped.
	stopRouter(t)
	res = Sandbox(t, "doctor").Run()
	if res.ExitCode != 1 || !regexp.MustCompile(`(?m)^FAIL\s+router\s+.*\(fix: deploy the sandbox router`).MatchString(res.Stdout) {
		t.Errorf("router stopped: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	}
}

// stopRouter scales the router's Deployment to no replica, waits for its
// pod to go, and scales it back (and waits for a ready router) when the
// test ends.
func stopRouter(t *testing.T) {
	t.Helper()
	Kubectl(t, "-n", "agent-sandbox-system", "scale", "deployment", "sandbox-router", "--replicas=0").RunOrFail()
	t.Cleanup(func() {
		Kubectl(t, "-n", "agent-sandbox-system", "scale", "deployment", "sandbox-router", "--replicas=1").RunOrFail()
		Kubectl(t, "-n", "agent-sandbox-system", "rollout", "status", "deployment", "sandbox-router", "--timeout=90s").RunOrFail()
	})
	Kubectl(t, "-n", "agent-sandbox-system", "wait", "--for=delete", "pod", "-l", "app.kubernetes.io/name=sandbox-router", "--timeout=90s").RunOrFail()
}

func TestAroundBadInput(t *testing.T) {
	// A claim on a pool that does not exist stays not Ready, with no sandbox.
	pending := "e2e-around-pending"
	Kubectl(t, "delete", "sandboxclaim", pending, "--ignore-not-found").RunOrFail()
	cleanupClaim(t, pending)
	Kubectl(t, "apply", "-f", "-").WithStdin(strings.NewReader(`apiVersion: extensions.agents.x-k8s.io/v1beta1
kind: SandboxClaim
metadata: {name: e2e-around-pending, namespace: default}
spec: {warmPoolRef: {name: e2e-no-such-pool-either}}
`)).RunOrFail()
	c := readyClaim(t, "e2e-around-bad")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "e2e-nope"}, `error: sandboxclaim "e2e-nope" not found in namespace "default"`},
		{[]string{"port-forward", "e2e-nope", "80"}, `error: sandboxclaim "e2e-nope" not found in namespace "default"`},
		{[]string{"proxy", "e2e-nope", "80"}, `error: sandboxclaim "e2e-nope" not found in namespace "default"`},
		{[]string{"suspend", "e2e-nope"}, `error: sandboxclaim "e2e-nope" not found in namespace "default"`},
		{[]string{"extend", "e2e-nope", "--ttl", "1h"}, `error: sandboxclaim "e2e-nope" not found in namespace "default"`},
		{[]string{"logs", pending}, `error: sandboxclaim "` + pending + `" has no sandbox yet`},
		{[]string{"port-forward", pending, "80"}, `error: sandboxclaim "` + pending + `" has no sandbox yet`},
		{[]string{"proxy", pending, "80"}, `error: sandboxclaim "` + pending + `" is not Ready`},
		{[]string{"port-forward", c, "70000"}, `error: invalid port "70000"`},
		{[]string{"proxy", c, "0"}, `error: invalid port "0": must be 1-65535`},
		{[]string{"port-forward", c, fmt.Sprintf("%d:9123", busyPort)}, fmt.Sprintf("error: port-forward to pod default/%s: Unable to listen on port %d: ", jsonpath(t, c, "{.status.sandbox.name}"), busyPort)},
		{[]string{"proxy", c, "9123", "--port", fmt.Sprint(busyPort)}, fmt.Sprintf("error: listening on 127.0.0.1:%d: ", busyPort)},
		{[]string{"extend", c, "--ttl", "-1h"}, "error: invalid --ttl -1h0m0s: it must be positive"},
		{[]string{"logs", c, "-c", "nope"}, `error: container "nope" is not in pod`},
	} {
		res := Sandbox(t, tc.args...).Run()
		if res.ExitCode != 1 || !strings.HasPrefix(res.Stderr, tc.want) || strings.Count(res.Stderr, "\n") != 1 {
			t.Errorf("%q: exit %d stderr %q, want a line starting %q", tc.args, res.ExitCode, res.Stderr, tc.want)
		}
	}
}
