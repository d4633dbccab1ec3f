package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// mcpDeps installs the TypeScript MCP client's locked dependencies (npm
// ci, from npm's cache when it is warm), once.
var mcpDepsOnce sync.Once

func (b *bench) mcpDeps() {
	mcpDepsOnce.Do(func() { b.sh("npm ci --prefix test/mcp --no-audit --no-fund --prefer-offline >/dev/null") })
}

// mcpClient runs test/mcp/client.mjs with args and env added and decodes
// its report into out; a failed flow fails the bench.
func (b *bench) mcpClient(out any, env []string, args ...string) {
	b.mcpDeps()
	cmd := exec.Command("node", append([]string{"test/mcp/client.mjs"}, args...)...)
	cmd.Env = append(append(os.Environ(), b.env...), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	var rep struct {
		OK    bool   `json:"ok"`
		Step  string `json:"step"`
		Error string `json:"error"`
	}
	if jerr := json.Unmarshal(stdout, &rep); err != nil || jerr != nil || !rep.OK {
		fail("node client.mjs %v: %v, step %q: %s\n%s%s", args, err, rep.Step, rep.Error, stdout, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		fail("client.mjs report: %v", err)
	}
}

// mcpCalls times calls sandbox_exec of `true` on sandbox through a new
// `kubectl sandbox mcp SERVERARGS` on stdio (the official TypeScript
// client), after 3 untimed ones.
// The pings that follow, as many, are the protocol's floor (the same
// client, transport and server SDK, no tool): they are returned second.
func (b *bench) mcpCalls(sandbox string, calls int, serverArgs ...string) (execs, pings []sample) {
	var rep struct {
		DurationsMs []float64 `json:"durationsMs"`
		PingMs      []float64 `json:"pingMs"`
	}
	b.mcpClient(&rep, []string{"MCP_SANDBOX=" + sandbox, "MCP_CALLS=" + strconv.Itoa(calls), "MCP_WARMUP=3"},
		append([]string{"stdio", "--flow", "bench", "--"}, serverArgs...)...)
	toSamples := func(ms []float64) []sample {
		out := make([]sample, len(ms))
		for i, m := range ms {
			out[i] = sample{dur: time.Duration(m * float64(time.Millisecond))}
		}
		return out
	}
	return toSamples(rep.DurationsMs), toSamples(rep.PingMs)
}

// curlKept times n requests made by one curl, each with args, on one
// connection that the first of 3 untimed ones opened (curl keeps it
// across --next).
func (b *bench) curlKept(n int, args ...string) []sample {
	var argv []string
	for i := 0; i < n+3; i++ {
		if i > 0 {
			argv = append(argv, "--next")
		}
		argv = append(argv, "-sS", "-f", "-o", "/dev/null", "-w", "%{time_total} %{num_connects}\n")
		argv = append(argv, args...)
	}
	cmd := exec.Command("curl", argv...)
	cmd.Env = append(os.Environ(), b.env...)
	out, err := cmd.Output()
	if err != nil {
		fail("curl: %v\n%s", err, out)
	}
	var s []sample
	for i, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var secs float64
		var connects int
		if _, err := fmt.Sscanf(line, "%g %d", &secs, &connects); err != nil {
			fail("curl wrote %q: %v", line, err)
		}
		if i < 3 {
			continue
		}
		if connects != 0 {
			fmt.Fprintf(os.Stderr, "bench: warning: curl opened a connection for request %d; the baseline is meant to keep one open\n", i)
		}
		s = append(s, sample{dur: time.Duration(secs * float64(time.Second))})
	}
	return s
}

// mcpExec compares sandbox_exec of `true`, call after call on one sandbox
// through one MCP server, with curl of the same request through a
// connection it keeps open, for both runtimes: 3 rounds of interleaved
// batches (MCP, then curl), each with its own warm-up.
func (b *bench) mcpExec() {
	rounds, per := 3, b.n(10)
	name, sandbox, ip := b.claim("python", "bench=mcp")
	defer b.sh(b.plugin + " delete -l bench=mcp")
	execute := append([]string{"-X", "POST", router + "/execute", "-H", "Content-Type: application/json", "-d", `{"command":"true"}`}, curlHeaders(sandbox, ip)...)
	var a, base, pings []sample
	for range rounds {
		execs, p := b.mcpCalls(name, per, "--router-url", router)
		a, pings = append(a, execs...), append(pings, p...)
		base = append(base, b.curlKept(per, execute...)...)
	}
	b.add(fmt.Sprintf("MCP `sandbox_exec` of `true`, %d calls on one sandbox through one server (python runtime, `--router-url R`; the official TypeScript client on stdio) vs curl POST /execute on a kept-open connection", len(a)), a, base, 1.3, true)

	sd, sdSandbox, _ := b.claim("sandboxd", "bench=mcp")
	pod := b.sh("kubectl get sandbox " + sdSandbox + " -o jsonpath='{.metadata.annotations.agents\\.x-k8s\\.io/pod-name}'")
	if pod == "" {
		pod = sdSandbox
	}
	local, stop := b.portForward(pod, 9090)
	defer stop()
	a, base = nil, nil
	for range rounds {
		execs, p := b.mcpCalls(sd, per)
		a, pings = append(a, execs...), append(pings, p...)
		base = append(base, b.grpcKept(local, per, "true")...)
	}
	b.add(fmt.Sprintf("MCP `sandbox_exec` of `true`, %d calls on one sandboxd sandbox through one server (its port-forward to the pod kept) vs the same gRPC Start (read to its exit) on a kept-open grpc-go connection through a standing `kubectl port-forward`", len(a)), a, base, 1.3, true)
	b.notes = append(b.notes, fmt.Sprintf("MCP floor: an MCP ping through the same client, stdio and server SDK (no tool behind it) took %s at the median "+
		"(%d pings after the timed calls of both rows): of a `sandbox_exec`, that much is the protocol's, before the plugin does anything.", ms(durations(pings).median), len(pings)))
	b.notes = append(b.notes, "MCP calls: the server keeps, per claim, the router connection or the sandboxd port-forward and gRPC connection, "+
		"and a watch of the claim (from the resourceVersion it read) tells it when the claim changes: a call after the first makes no API call. "+
		"Before (1cd5965, the issue's numbers: stdio, the same client, a Gateway) each call read the claim, opened the way and closed it again: "+
		"42.7 ms (python runtime) and 111 ms (sandboxd) at the median against 7.1 ms for curl. "+
		"In process, with a fake router on loopback (`go test ./pkg/plugin/mcp -bench ExecKept`), a call costs 0.6-0.9 ms of CPU on this machine against 0.1-0.3 ms for the bare request, "+
		"most of it in the MCP SDK's JSON decoding and schema validation; the plugin's own code is under a tenth. "+
		"The server runs its collector at GOGC=400 unless GOGC is set: at the default it collected its 3 MB heap every ten or so calls "+
		"(2026-12-07, three interleaved pairs of this part: python `sandbox_exec` 12.9, 12.4 and 11.6 ms at the median before, 11.3, 11.0 and 11.0 ms after).")
}

// mcpServer is `kubectl sandbox mcp --http 127.0.0.1:0 ... --debug-addr
// 127.0.0.1:0`, for the soak.
type mcpServer struct {
	cmd       *exec.Cmd
	url, prof string
}

var (
	servingRE  = regexp.MustCompile(`^Serving MCP on (http://127\.0\.0\.1:\d+/mcp)$`)
	profilesRE = regexp.MustCompile(`^Serving profiles on (http://127\.0\.0\.1:\d+)/debug/pprof/$`)
)

func (b *bench) startMCPServer(args ...string) *mcpServer {
	s := &mcpServer{cmd: exec.Command(b.plugin, append([]string{"mcp", "--http", "127.0.0.1:0", "--debug-addr", "127.0.0.1:0"}, args...)...)}
	s.cmd.Env = append(os.Environ(), b.env...)
	pipe, err := s.cmd.StderrPipe()
	if err != nil {
		fail("%v", err)
	}
	if err := s.cmd.Start(); err != nil {
		fail("kubectl sandbox mcp: %v", err)
	}
	r := bufio.NewReader(pipe)
	for s.url == "" || s.prof == "" {
		line, err := r.ReadString('\n')
		if err != nil {
			fail("kubectl sandbox mcp said no address: %v", err)
		}
		line = strings.TrimSpace(line)
		if m := servingRE.FindStringSubmatch(line); m != nil {
			s.url = m[1]
		} else if m := profilesRE.FindStringSubmatch(line); m != nil {
			s.prof = m[1]
		}
	}
	go func() { _, _ = io.Copy(os.Stderr, r) }()
	return s
}

// idleConns is how long the server's idle HTTP connections to the router
// live (net/http's default IdleConnTimeout, 90 s), and a margin.
const idleConns = 95 * time.Second

// settled waits until the idle connections of the last calls (made by
// last) are closed, frees what the server's heap no longer holds, waits a
// moment, and returns its goroutines and RSS (KiB).
func (s *mcpServer) settled(last time.Time) (goroutines int, rssKiB int64) {
	time.Sleep(time.Until(last.Add(idleConns)))
	for range 3 {
		resp, err := http.Post(s.prof+"/debug/free", "", nil)
		if err != nil {
			fail("%v", err)
		}
		resp.Body.Close()
		time.Sleep(time.Second)
	}
	resp, err := http.Get(s.prof + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		fail("%v", err)
	}
	first, _ := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	if _, err := fmt.Sscanf(first, "goroutine profile: total %d", &goroutines); err != nil {
		fail("goroutine profile %q: %v", first, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		fail("%v", err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			_, _ = fmt.Sscanf(strings.TrimPrefix(l, "VmRSS:"), "%d", &rssKiB)
		}
	}
	return goroutines, rssKiB
}

// stop SIGTERMs the server and waits for it.
func (s *mcpServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
}

// soakReport is the soak flow's count.
type soakReport struct {
	Soak struct {
		Sessions, Calls, Errors, Dropped int
		FirstErrors                      []string `json:"firstErrors"`
	} `json:"soak"`
}

// mcpClaims counts the claims an MCP session made.
func (b *bench) mcpClaims() int {
	out := b.sh("kubectl get sandboxclaims -l kubectl-sandbox/mcp-session -o name | wc -l")
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	return n
}

// waitNoMCPClaims waits (up to 3 minutes) until no claim of an MCP session
// is left, and returns how many are.
func (b *bench) waitNoMCPClaims() int {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		n := b.mcpClaims()
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(time.Second)
	}
}

// soak runs SOAK_SESSIONS (20) MCP sessions at once against one server,
// each making 100 calls of mixed tools on a sandbox of its own, a quarter
// of them dropped without ending their session (the server ends them when
// they have been idle for --http-session-timeout); before it, a warm-up of
// the same sessions with 10 calls each. After each, once no claim is left,
// the server's goroutines and RSS are taken (after a forced collection).
func (b *bench) soak() {
	const sessions, calls, idle = 20, 100, 15 * time.Second
	s := b.startMCPServer("--router-url", router, "--http-session-timeout", idle.String())
	defer s.stop()
	env := func(calls int) []string {
		return []string{"SOAK_SESSIONS=" + strconv.Itoa(sessions), "SOAK_CALLS=" + strconv.Itoa(calls), "SOAK_DROP_EVERY=4", "MCP_POOL=python"}
	}
	var warm soakReport
	b.mcpClient(&warm, env(10), "http", s.url, "--flow", "soak")
	leftWarm := b.waitNoMCPClaims()
	g0, rss0 := s.settled(time.Now())
	var rep soakReport
	start := time.Now()
	b.mcpClient(&rep, env(b.n(calls)), "http", s.url, "--flow", "soak")
	took := time.Since(start)
	left := b.waitNoMCPClaims()
	g1, rss1 := s.settled(time.Now())
	ok := rep.Soak.Errors == 0 && warm.Soak.Errors == 0 && left == 0 && leftWarm == 0 &&
		float64(g1) <= 1.1*float64(g0) && float64(rss1) <= 1.1*float64(rss0)
	var t strings.Builder
	t.WriteString("### MCP soak\n\n")
	fmt.Fprintf(&t, "One `kubectl sandbox mcp --http` (`--router-url R --http-session-timeout %s`); the official TypeScript client runs %d sessions at once over HTTP, "+
		"each creating a sandbox (pool python), starting a background job in it and making calls of mixed tools (`sandbox_exec` of `true` and of `echo` with its output checked, "+
		"`sandbox_write_file`, `sandbox_read_file` of what was written, `sandbox_list_files`, `sandbox_job_output`, `sandbox_list`); every 4th session goes without ending its session "+
		"(no DELETE: the server ends it when it has been idle for the timeout), half of the others delete their sandbox, the rest leave it to the session's end. "+
		"A warm-up with 10 calls per session comes first. Goroutines and RSS of the server are taken once no claim is left and its idle connections to the router have timed out (90 s), "+
		"after a forced collection that returns freed memory (the hidden `--debug-addr`).\n\n", idle, sessions)
	t.WriteString("| sessions × calls | calls | errors (in the warm-up) | dropped sessions | time | claims left | goroutines after warm-up → after | RSS after warm-up → after | target | met |\n|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&t, "| %d × %d | %d | %d (%d) | %d | %s | %d | %d → %d | %d MiB → %d MiB | no error, no claim left, goroutines and RSS within 10%% | %s |\n\n",
		sessions, b.n(calls), rep.Soak.Calls, rep.Soak.Errors, warm.Soak.Errors, rep.Soak.Dropped, took.Round(100*time.Millisecond), left, g0, g1, rss0/1024, rss1/1024, yesNo(ok))
	if len(rep.Soak.FirstErrors) > 0 || len(warm.Soak.FirstErrors) > 0 {
		fmt.Fprintf(&t, "First errors (warm-up, then soak): %q %q\n\n", warm.Soak.FirstErrors, rep.Soak.FirstErrors)
	}
	b.sections = append(b.sections, t.String())
	fmt.Fprintf(os.Stderr, "bench: soak %d calls, %d errors (%d in the warm-up), %d claims left, goroutines %d -> %d, RSS %d -> %d KiB\n",
		rep.Soak.Calls, rep.Soak.Errors, warm.Soak.Errors, left, g0, g1, rss0, rss1)
}
