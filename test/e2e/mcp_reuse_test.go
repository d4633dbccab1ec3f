//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mcpAnswer is the repl flow's answer to one tool call.
type mcpAnswer struct {
	IsError           bool            `json:"isError"`
	Text              string          `json:"text"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	ProtocolError     string          `json:"protocolError"`
	Ms                float64         `json:"ms"`
}

// mcpRepl is client.mjs's repl flow: one MCP session, driven one tool call
// at a time, so that the test acts on the cluster between calls.
type mcpRepl struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
	cancel context.CancelFunc
}

// startMCPRepl runs `node client.mjs ARGS... --flow repl` (ARGS: stdio, or
// http URL) with env added to kubectl's environment.
func startMCPRepl(t *testing.T, env []string, args ...string) *mcpRepl {
	t.Helper()
	mcpClientDeps(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	r := &mcpRepl{t: t, cancel: cancel}
	argv := []string{filepath.Join(repoRoot, "test", "mcp", "client.mjs")}
	argv = append(argv, args[0])
	if args[0] == "http" {
		argv = append(argv, args[1])
		args = args[2:]
	} else {
		args = args[1:]
	}
	argv = append(argv, "--flow", "repl")
	argv = append(argv, args...)
	r.cmd = exec.CommandContext(ctx, "node", argv...)
	r.cmd.Dir = repoRoot
	r.cmd.Env = append(Kubectl(t).command().Env, env...)
	r.cmd.Stderr = &r.stderr
	var err error
	if r.in, err = r.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.out = bufio.NewReader(out)
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.in.Close()
		_ = r.cmd.Wait()
		cancel()
		if s := strings.TrimSpace(r.stderr.String()); s != "" {
			t.Logf("client and server stderr:\n%s", s)
		}
	})
	return r
}

// call makes one tool call and returns the answer.
func (r *mcpRepl) call(tool string, args map[string]any) mcpAnswer {
	r.t.Helper()
	line, err := json.Marshal(map[string]any{"tool": tool, "args": args})
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.in.Write(append(line, '\n')); err != nil {
		r.t.Fatalf("writing to the client: %v\n%s", err, r.stderr.String())
	}
	answer, err := r.out.ReadBytes('\n')
	if err != nil {
		r.t.Fatalf("reading the client's answer to %s: %v\n%s", tool, err, r.stderr.String())
	}
	var a mcpAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		r.t.Fatalf("the client's answer to %s: %v: %s", tool, err, answer)
	}
	if a.ProtocolError != "" {
		r.t.Fatalf("%s: protocol error %s", tool, a.ProtocolError)
	}
	return a
}

// close ends the session (stdin closes) and returns the client's report.
func (r *mcpRepl) close() mcpReport {
	r.t.Helper()
	_ = r.in.Close()
	rest, _ := io.ReadAll(r.out)
	err := r.cmd.Wait()
	var rep mcpReport
	if jerr := json.Unmarshal(bytes.TrimSpace(rest), &rep); jerr != nil || err != nil || !rep.OK {
		r.t.Fatalf("client: %v, report %s (%v)\n%s", err, rest, jerr, r.stderr.String())
	}
	return rep
}

// execOut is sandbox_exec's structured output.
type execOut struct {
	ExitCode int    `json:"exitCode"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
}

// staleWords are what an error from a connection kept past its sandbox
// would say.
var staleWords = []string{"cannot reach", "connection", "port-forward", "may have run", "HTTP 502", "Unavailable", "EOF", "lost"}

// TestMCPReuseFollowsTheSandbox: one MCP session makes calls on a sandbox
// that is suspended, resumed, deleted and created again under the same name
// between them (by the CLI, outside the server), on both runtimes. Each
// call answers right, or with one line that says what the claim is now:
// never a stale connection's error.
func TestMCPReuseFollowsTheSandbox(t *testing.T) {
	for _, pool := range []string{"python", "sandboxd"} {
		t.Run(pool, func(t *testing.T) {
			name := "e2e-mcp-reuse-" + pool
			create := readyClaim
			if pool == "sandboxd" {
				create = sandboxdClaim
			}
			create(t, name)
			r := startMCPRepl(t, nil, "stdio")
			exec := func(word string) mcpAnswer {
				return r.call("sandbox_exec", map[string]any{"name": name, "command": []string{"echo", word}})
			}
			ok := func(step, word string) {
				t.Helper()
				a := exec(word)
				var out execOut
				if a.IsError || json.Unmarshal(a.StructuredContent, &out) != nil || out.ExitCode != 0 || out.Stdout != word+"\n" {
					t.Errorf("%s: %+v %s", step, a, a.StructuredContent)
				}
			}
			refused := func(step, prefix, suffix string) {
				t.Helper()
				a := exec("refused")
				if !a.IsError || strings.Contains(a.Text, "\n") || !strings.HasPrefix(a.Text, prefix) || !strings.HasSuffix(a.Text, suffix) {
					t.Errorf("%s: isError %v, %q\nwant one line %q...%q", step, a.IsError, a.Text, prefix, suffix)
				}
				for _, w := range staleWords {
					if strings.Contains(a.Text, w) {
						t.Errorf("%s: a stale connection's error (%q): %s", step, w, a.Text)
					}
				}
			}
			ok("first call", "one")
			ok("second call, kept", "two")

			Sandbox(t, "suspend", name).RunOrFail()
			Sandbox(t, "wait", name, "--for=condition=Ready=False").RunOrFail()
			refused("suspended", `sandboxclaim "`+name+`" is not Ready (SandboxSuspended`,
				`: it is suspended (no tool resumes it; a user can, with: kubectl sandbox resume `+name+`)`)

			Sandbox(t, "resume", name).RunOrFail()
			ok("resumed", "three")

			Sandbox(t, "delete", name).RunOrFail()
			// Exactly this line: the prefix is all of it.
			refused("deleted", `sandboxclaim "`+name+`" not found in namespace "default"`, `sandboxclaim "`+name+`" not found in namespace "default"`)

			Sandbox(t, "create", name, "--pool", pool).RunOrFail()
			ok("created again", "four")
			ok("kept again", "five")

			r.close()
		})
	}
}
