//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The MCP tests drive `kubectl sandbox mcp` with a real MCP client: the
// official TypeScript SDK, in test/mcp/client.mjs (node and npm are
// required; the test installs the client's locked dependencies).

// mcpSessionLabel is the label the server puts on the claims it creates. No
// other test uses it, so "no claim has it" means the server cleaned up.
const mcpSessionLabel = "kubectl-sandbox/mcp-session"

var mcpTools = []string{"sandbox_create", "sandbox_delete", "sandbox_exec", "sandbox_job_kill", "sandbox_job_list",
	"sandbox_job_output", "sandbox_job_start", "sandbox_list", "sandbox_list_files", "sandbox_read_file", "sandbox_run", "sandbox_write_file"}

var (
	mcpDepsOnce sync.Once
	mcpDepsErr  error
)

// mcpMinNode is the oldest Node.js major version the TypeScript SDK
// supports (its engines; the client does not load @hono/node-server, which
// asks for 20 and serves only the SDK's HTTP servers). Debian 12's nodejs is
// 18; the MCP tests passed with Node.js 18.20.8 and 20.20.2.
const mcpMinNode = 18

// mcpClientDeps installs test/mcp's locked dependencies once per run (npm
// ci, preferring npm's cache: seconds, and no network once it is warm).
// Missing node or npm, or a node older than mcpMinNode, fails the test.
func mcpClientDeps(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the MCP tests need %s (Node.js %d or later) on PATH to run the TypeScript SDK's client: install it (hack/install-deps.sh installs the distribution's nodejs and npm): %v", tool, mcpMinNode, err)
		}
	}
	out, err := exec.Command("node", "--version").Output()
	version := strings.TrimSpace(string(out))
	major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	if n, perr := strconv.Atoi(major); err != nil || perr != nil || n < mcpMinNode {
		t.Fatalf("the MCP tests need Node.js %d or later (test/mcp/package.json's engines); node --version says %q (%v)", mcpMinNode, version, err)
	}
	mcpDepsOnce.Do(func() {
		start := time.Now()
		cmd := exec.Command("npm", "ci", "--prefix", "test/mcp", "--no-audit", "--no-fund", "--prefer-offline")
		cmd.Dir = repoRoot
		out, err := cmd.CombinedOutput()
		if err != nil {
			mcpDepsErr = errors.New("npm ci --prefix test/mcp: " + err.Error() + "\n" + string(out))
			return
		}
		t.Logf("npm ci --prefix test/mcp in %s", time.Since(start).Round(time.Millisecond))
	})
	if mcpDepsErr != nil {
		t.Fatal(mcpDepsErr)
	}
}

// mcpReport is what client.mjs prints.
type mcpReport struct {
	OK    bool   `json:"ok"`
	Step  string `json:"step"`
	Error string `json:"error"`

	Server struct{ Name, Version string } `json:"server"`
	Tools  []struct {
		Name            string `json:"name"`
		HasInputSchema  bool   `json:"hasInputSchema"`
		HasOutputSchema bool   `json:"hasOutputSchema"`
	} `json:"tools"`
	MissingTools []string `json:"missingTools"`
	SessionID    string   `json:"sessionId"`

	Created struct {
		Name, Pool string
		Ready      bool `json:"ready"`
		Mine       bool `json:"mine"`
	} `json:"created"`
	Exec struct {
		ExitCode  int    `json:"exitCode"`
		Stdout    string `json:"stdout"`
		Stderr    string `json:"stderr"`
		Truncated bool   `json:"truncated"`
		IsError   bool   `json:"isError"`
	} `json:"exec"`
	File struct {
		SentBytes     int    `json:"sentBytes"`
		WrittenBytes  int    `json:"writtenBytes"`
		ReadBytes     int    `json:"readBytes"`
		ReadEncoding  string `json:"readEncoding"`
		ReadTruncated bool   `json:"readTruncated"`
		SHA256Sent    string `json:"sha256Sent"`
		SHA256Read    string `json:"sha256Read"`
		Equal         bool   `json:"equal"`
	} `json:"file"`
	ListFiles struct {
		Entries []struct {
			Name, Type string
			Size       int64 `json:"size"`
		} `json:"entries"`
	} `json:"listFiles"`
	Budget struct {
		ExitCode     int  `json:"exitCode"`
		Truncated    bool `json:"truncated"`
		StdoutLength int  `json:"stdoutLength"`
	} `json:"budget"`
	Deleted           string `json:"deleted"`
	ListedAfterDelete bool   `json:"listedAfterDelete"`
	Run               struct {
		ExitCode  int     `json:"exitCode"`
		Stdout    string  `json:"stdout"`
		Stderr    string  `json:"stderr"`
		Truncated bool    `json:"truncated"`
		Sandbox   string  `json:"sandbox"`
		ReadBack  *string `json:"readBack"`
		IsError   bool    `json:"isError"`
		Left      bool    `json:"left"`
	} `json:"run"`
	LeftForCleanup    string `json:"leftForCleanup"`
	SessionTerminated bool   `json:"sessionTerminated"`
	ServerExit        *struct {
		ExitCode *int   `json:"exitCode"`
		Signal   string `json:"signal"`
		TimedOut bool   `json:"timedOut"`
		AfterMs  int    `json:"afterMs"`
	} `json:"serverExit"`

	// The full flow's list; the restricted flow's create and list.
	List   json.RawMessage `json:"list"`
	Create struct {
		IsError bool   `json:"isError"`
		Text    string `json:"text"`
	} `json:"create"`

	// The progress flow.
	Progress []struct {
		AtMs    int    `json:"atMs"`
		Message string `json:"message"`
	} `json:"progress"`
	ResultAtMs int `json:"resultAtMs"`

	// The security flow: each refusal's HTTP status.
	NoToken          mcpRefusal `json:"noToken"`
	WrongToken       mcpRefusal `json:"wrongToken"`
	ForeignOrigin    mcpRefusal `json:"foreignOrigin"`
	BigBody          mcpRefusal `json:"bigBody"`
	ListAfterBigBody struct {
		IsError bool `json:"isError"`
	} `json:"listAfterBigBody"`

	// The bench flow.
	DurationsMs []float64 `json:"durationsMs"`
}

// mcpRefusal is the HTTP status of a request the client's transport saw
// refused (200: not refused), with the start of its message.
type mcpRefusal struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// runMCPClient runs `node test/mcp/client.mjs ARGS...` with kubectl's
// environment (KUBECONFIG, bin/ on PATH) plus env, and decodes its report.
// A client that failed a step fails the test with its output.
func runMCPClient(t *testing.T, env []string, args ...string) mcpReport {
	t.Helper()
	mcpClientDeps(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(repoRoot, "test", "mcp", "client.mjs")}, args...)...)
	cmd.Dir = repoRoot
	cmd.Env = append(Kubectl(t).command().Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("node client.mjs %s -> %v in %s", strings.Join(args, " "), err, time.Since(start).Round(time.Millisecond))
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Logf("client and server stderr:\n%s", s)
	}
	var rep mcpReport
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		t.Fatalf("client: %v; its stdout is not one JSON object (%v):\n%s", err, jerr, stdout.String())
	}
	if err != nil || !rep.OK {
		t.Fatalf("client failed at step %q: %s (%v)\nreport: %s", rep.Step, rep.Error, err, stdout.String())
	}
	return rep
}

// checkTools: the twelve tools, each with an input and an output schema.
func checkTools(t *testing.T, rep mcpReport) {
	t.Helper()
	var names []string
	for _, tool := range rep.Tools {
		names = append(names, tool.Name)
		if !tool.HasInputSchema || !tool.HasOutputSchema {
			t.Errorf("tool %s: input schema %v, output schema %v", tool.Name, tool.HasInputSchema, tool.HasOutputSchema)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, mcpTools) {
		t.Errorf("tools %q, want %q", names, mcpTools)
	}
	if rep.Server.Name != "kubectl-sandbox" {
		t.Errorf("server name %q", rep.Server.Name)
	}
}

// checkFullFlow asserts the full flow's report.
func checkFullFlow(t *testing.T, rep mcpReport) {
	t.Helper()
	checkTools(t, rep)
	if c := rep.Created; c.Name == "" || c.Pool != "python" || !c.Ready || !c.Mine {
		t.Errorf("sandbox_create: %+v", c)
	}
	if e := rep.Exec; e.ExitCode != 3 || e.Stdout != "out\n" || e.Stderr != "err\n" || e.Truncated || e.IsError {
		t.Errorf("sandbox_exec: %+v, want exit 3, stdout \"out\\n\", stderr \"err\\n\"", e)
	}
	f := rep.File
	if f.SentBytes != 1<<20 || f.WrittenBytes != 1<<20 || f.ReadBytes != 1<<20 || f.ReadEncoding != "base64" || f.ReadTruncated {
		t.Errorf("1 MiB round trip: %+v", f)
	}
	if !f.Equal || f.SHA256Sent != f.SHA256Read || len(f.SHA256Sent) != 64 {
		t.Errorf("the file read back differs: sent sha256 %s, read %s", f.SHA256Sent, f.SHA256Read)
	}
	var list struct {
		Found, Mine, Ready, FoundBySelector bool
	}
	if err := json.Unmarshal(rep.List, &list); err != nil || !list.Found || !list.Mine || !list.Ready || !list.FoundBySelector {
		t.Errorf("sandbox_list: %s (%v)", rep.List, err)
	}
	if e := rep.ListFiles.Entries; len(e) != 1 || e[0].Name != "data.bin" || e[0].Type != "file" || e[0].Size != 1<<20 {
		t.Errorf("sandbox_list_files: %+v", e)
	}
	if b := rep.Budget; b.ExitCode != 0 || !b.Truncated || b.StdoutLength == 0 || b.StdoutLength > 1000 {
		t.Errorf("10000 bytes with maxOutputBytes 100: %+v", b)
	}
	if rep.Deleted != rep.Created.Name || rep.ListedAfterDelete {
		t.Errorf("sandbox_delete: deleted %q (created %q), still listed %v", rep.Deleted, rep.Created.Name, rep.ListedAfterDelete)
	}
	r := rep.Run
	if r.ExitCode != 4 || r.Stdout != "hello from run\n" || r.Stderr != "oops\n" || r.Truncated || r.IsError {
		t.Errorf("sandbox_run: %+v, want exit 4, stdout \"hello from run\\n\", stderr \"oops\\n\"", r)
	}
	if r.ReadBack == nil || *r.ReadBack != "hello from run\n" {
		got := "nothing"
		if r.ReadBack != nil {
			got = strconv.Quote(*r.ReadBack)
		}
		t.Errorf("sandbox_run read back %s, want the file it wrote", got)
	}
	if r.Sandbox == "" || r.Sandbox == rep.Created.Name || r.Left {
		t.Errorf("sandbox_run's sandbox %q (the created one %q) is still listed after it: %v", r.Sandbox, rep.Created.Name, r.Left)
	}
	if rep.LeftForCleanup == "" || rep.LeftForCleanup == rep.Created.Name || rep.LeftForCleanup == r.Sandbox {
		t.Errorf("second sandbox_create: %q", rep.LeftForCleanup)
	}
}

// mcpClaims lists the claims that carry the MCP session label.
func mcpClaims(t *testing.T) []string {
	t.Helper()
	res := Kubectl(t, "get", "sandboxclaims", "-l", mcpSessionLabel, "-o", "name").RunOrFail()
	return strings.Fields(res.Stdout)
}

// waitNoMCPClaims polls until no claim carries the session label (deletion
// is asynchronous).
func waitNoMCPClaims(t *testing.T, why string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := mcpClaims(t)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: claims with label %s remain after 30s: %v", why, mcpSessionLabel, left)
		}
		time.Sleep(time.Second)
	}
}

// noMCPClaimsBefore makes sure an earlier, interrupted run left nothing
// that would pass for this run's leftovers, and deletes what the test
// leaves if it fails.
func noMCPClaimsBefore(t *testing.T) {
	t.Helper()
	Kubectl(t, "delete", "sandboxclaims", "-l", mcpSessionLabel, "--ignore-not-found").RunOrFail()
	t.Cleanup(func() {
		Kubectl(t, "delete", "sandboxclaims", "-l", mcpSessionLabel, "--ignore-not-found", "--wait=false").Run()
	})
}

func checkCleanExit(t *testing.T, rep mcpReport) {
	t.Helper()
	if e := rep.ServerExit; e == nil || e.TimedOut || e.ExitCode == nil || *e.ExitCode != 0 || e.Signal != "" {
		b, _ := json.Marshal(e)
		t.Errorf("the server did not exit 0 by itself when its stdin closed: %s", b)
	}
}

// TestMCPStdio: the full flow over stdio; closing the server's stdin ends
// it (exit 0) and deletes the sandbox the session left.
func TestMCPStdio(t *testing.T) {
	noMCPClaimsBefore(t)
	rep := runMCPClient(t, nil, "stdio")
	checkFullFlow(t, rep)
	checkCleanExit(t, rep)
	waitNoMCPClaims(t, "after the stdio session ended")
}

// mcpHTTPServer is `kubectl sandbox mcp --http 127.0.0.1:0`.
type mcpHTTPServer struct {
	cmd    *exec.Cmd
	url    string
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

var servingRE = regexp.MustCompile(`^Serving MCP on (https?)://([0-9.]+):(\d+)/mcp$`)

func startMCPHTTP(t *testing.T, args ...string) *mcpHTTPServer {
	t.Helper()
	return startMCPHTTPOn(t, "127.0.0.1:0", nil, args...)
}

// startMCPHTTPOn is `kubectl sandbox mcp --http ADDR ARGS...` with env
// added to its environment; its url is on 127.0.0.1 whatever the address.
func startMCPHTTPOn(t *testing.T, addr string, env []string, args ...string) *mcpHTTPServer {
	t.Helper()
	s := &mcpHTTPServer{done: make(chan struct{})}
	s.cmd = Sandbox(t, append([]string{"mcp", "--http", addr}, args...)...).WithEnv(env...).command()
	pipe, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	go func() {
		r := bufio.NewReader(pipe)
		line, _ := r.ReadString('\n')
		s.mu.Lock()
		s.stderr.WriteString(line)
		s.mu.Unlock()
		first <- strings.TrimSuffix(line, "\n")
		var buf [4096]byte
		for {
			n, err := r.Read(buf[:])
			s.mu.Lock()
			s.stderr.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				break
			}
		}
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		t.Logf("server stderr:\n%s", s.Stderr())
	})
	select {
	case line := <-first:
		host, _, _ := strings.Cut(addr, ":")
		m := servingRE.FindStringSubmatch(line)
		if m == nil || m[2] != host {
			t.Fatalf("the server's first line is %q, want %q", line, "Serving MCP on http(s)://"+host+":PORT/mcp")
		}
		s.url = m[1] + "://127.0.0.1:" + m[3] + "/mcp"
	case <-time.After(30 * time.Second):
		t.Fatal("the server printed no address within 30s")
	}
	return s
}

func (s *mcpHTTPServer) Stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop SIGTERMs the server and returns its exit code.
func (s *mcpHTTPServer) stop(t *testing.T) int {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the server still runs 30s after SIGTERM; stderr:\n%s", s.Stderr())
	}
	var exitErr *exec.ExitError
	switch {
	case s.err == nil:
		return 0
	case errors.As(s.err, &exitErr):
		return exitErr.ExitCode()
	}
	t.Fatalf("waiting for the server: %v", s.err)
	return -1
}

// TestMCPHTTP: the full flow over the streamable HTTP transport; ending
// the session (DELETE) deletes its sandboxes while the server keeps
// running. A second session that is never ended is cleaned up by SIGTERM,
// after which the server exits 143.
func TestMCPHTTP(t *testing.T) {
	noMCPClaimsBefore(t)
	srv := startMCPHTTP(t)
	rep := runMCPClient(t, nil, "http", srv.url)
	checkFullFlow(t, rep)
	if rep.SessionID == "" || !rep.SessionTerminated {
		t.Errorf("session %q terminated %v", rep.SessionID, rep.SessionTerminated)
	}
	waitNoMCPClaims(t, "after the client terminated its HTTP session")
	select {
	case <-srv.done:
		t.Fatalf("the server exited when one session ended: %v\n%s", srv.err, srv.Stderr())
	default:
	}

	// A session the client never ends (it goes without a DELETE): the
	// server keeps it until it has been idle for --http-session-timeout
	// (10m by default, far beyond this test), so here the shutdown deletes
	// its sandbox.
	left := runMCPClient(t, nil, "http", srv.url, "--flow", "create", "--keep-session")
	if left.LeftForCleanup == "" || left.SessionTerminated {
		t.Fatalf("create flow: left %q, terminated %v", left.LeftForCleanup, left.SessionTerminated)
	}
	if got := mcpClaims(t); !slices.Contains(got, "sandboxclaim.extensions.agents.x-k8s.io/"+left.LeftForCleanup) {
		t.Fatalf("the open session's claim %s is not there before SIGTERM: %v", left.LeftForCleanup, got)
	}
	if code := srv.stop(t); code != 143 {
		t.Errorf("after SIGTERM the server exited %d, want 143; stderr:\n%s", code, srv.Stderr())
	}
	waitNoMCPClaims(t, "after SIGTERM")
}

// TestMCPRestrictedUser: a user who may read claims but not create them.
// sandbox_create is a tool error naming the forbidden create; the server
// keeps serving (sandbox_list answers) and exits 0 when the client closes.
func TestMCPRestrictedUser(t *testing.T) {
	noMCPClaimsBefore(t)
	visible := readyClaim(t, "e2e-mcp-visible")
	const user = "e2e-mcp-restricted"
	rbac := `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: e2e-mcp-restricted, namespace: default}
rules:
- apiGroups: [extensions.agents.x-k8s.io]
  resources: [sandboxclaims]
  verbs: [get, list, watch]
- apiGroups: [extensions.agents.x-k8s.io]
  resources: [sandboxwarmpools, sandboxtemplates]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-mcp-restricted, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: e2e-mcp-restricted}
subjects:
- {kind: User, name: e2e-mcp-restricted, apiGroup: rbac.authorization.k8s.io}
`
	Kubectl(t, "apply", "-f", "-").WithStdin(strings.NewReader(rbac)).RunOrFail()
	t.Cleanup(func() { Kubectl(t, "delete", "role,rolebinding", user, "--ignore-not-found").Run() })

	rep := runMCPClient(t, nil, "stdio", "--flow", "restricted", "--", "--as", user)
	checkTools(t, rep)
	// The API server's refusal, with the RBAC hint of cmd/errors.go.
	const (
		refusal = `creating sandboxclaim: sandboxclaims.extensions.agents.x-k8s.io is forbidden: User "e2e-mcp-restricted" cannot create resource "sandboxclaims" in API group "extensions.agents.x-k8s.io" in the namespace "default"`
		hint    = " (ask a cluster admin for RBAC access; check with: kubectl auth can-i --list)"
	)
	if !rep.Create.IsError || strings.Contains(rep.Create.Text, "\n") ||
		!strings.HasPrefix(rep.Create.Text, refusal) || !strings.HasSuffix(rep.Create.Text, hint) {
		t.Errorf("sandbox_create as %s: isError %v, text %q\nwant a one-line tool error: %s...%s", user, rep.Create.IsError, rep.Create.Text, refusal, hint)
	}
	var list struct {
		IsError bool
		Text    string
		Names   []string
	}
	if err := json.Unmarshal(rep.List, &list); err != nil || list.IsError || !slices.Contains(list.Names, visible) {
		t.Errorf("sandbox_list after the failed create: %s (%v); want it to answer and list %s", rep.List, err, visible)
	}
	checkCleanExit(t, rep)
	if left := mcpClaims(t); len(left) != 0 {
		t.Errorf("claims with the session label: %v", left)
	}
}

// TestMCPSandboxdStreams: on a sandboxd sandbox (runc's, and gVisor's,
// reached over pods/exec as the CLI does), an exec with a progress token
// streams its output as progress notifications while it runs.
func TestMCPSandboxdStreams(t *testing.T) {
	onPools(t, sandboxdPools, func(t *testing.T, p pool) {
		noMCPClaimsBefore(t)
		rep := runMCPClient(t, []string{"MCP_POOL=" + p.name}, "stdio", "--flow", "progress")
		if c := rep.Created; c.Pool != p.name || !c.Ready {
			t.Errorf("sandbox_create on sandboxd: %+v", c)
		}
		if e := rep.Exec; e.ExitCode != 0 || e.Stdout != "a\nb\n" || e.Stderr != "" || e.IsError {
			t.Errorf("sandbox_exec: %+v", e)
		}
		firstA := -1
		for _, p := range rep.Progress {
			if strings.Contains(p.Message, "stdout: a") {
				firstA = p.AtMs
				break
			}
		}
		switch {
		case firstA < 0:
			t.Errorf("no progress notification with %q: %+v (result at %dms)", "stdout: a", rep.Progress, rep.ResultAtMs)
		case rep.ResultAtMs-firstA < 500:
			t.Errorf("%q came at %dms and the result at %dms: not streamed while the command ran (it sleeps 1s)", "stdout: a", firstA, rep.ResultAtMs)
		}
		t.Logf("progress: %+v; result at %dms", rep.Progress, rep.ResultAtMs)
		checkCleanExit(t, rep)
		waitNoMCPClaims(t, "after the stdio session ended")
	})
}
