package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/mcp"
)

// TestMCPValidation: bad flags are refused before any API call.
func TestMCPValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--http", "nonsense"}, `invalid --http "nonsense": use HOST:PORT or :PORT`},
		{[]string{"--http", "localhost:"}, `invalid --http "localhost:": use HOST:PORT or :PORT`},
		{[]string{"--http", "8765"}, `invalid --http "8765": use HOST:PORT or :PORT`},
		{[]string{"--ttl", "0"}, "--ttl must be positive: the server's sandboxes always expire"},
		{[]string{"--ttl", "-1h"}, "--ttl must be positive: the server's sandboxes always expire"},
		{[]string{"--ready-timeout", "0s"}, "--ready-timeout must be positive"},
		{[]string{"--max-output", "0"}, "--max-output must be positive, or -1 for everything"},
		{[]string{"--max-output", "-2"}, "--max-output must be positive, or -1 for everything"},
		{[]string{"--max-read-bytes", "0"}, "--max-read-bytes must be positive"},
		{[]string{"--allow-pool", "python", "--allow-pool", "Not_A_Pool"}, `invalid pool name "Not_A_Pool": `},
		{[]string{"--allow-template", "bad template"}, `invalid template name "bad template": `},
		{[]string{"--runtime", "java"}, `invalid --runtime "java"`},
		{[]string{"extra"}, `unknown command "extra" for "mcp"`},
	} {
		f := newFakeFactory()
		res := runWith(t, f, NewCmdMCP, "", tc.args)
		if res.err == nil || !strings.HasPrefix(res.err.Error(), tc.want) {
			t.Errorf("%v: error %v\nwant %s", tc.args, res.err, tc.want)
		}
		if a := append(f.ext.Actions(), f.core.Actions()...); len(a) != 0 {
			t.Errorf("%v: invalid flags reached the API: %v", tc.args, a)
		}
		if res.out != "" {
			t.Errorf("%v: stdout %q", tc.args, res.out)
		}
	}
}

// TestMCPValidateHTTP: an address without a host is on loopback.
func TestMCPValidateHTTP(t *testing.T) {
	for addr, want := range map[string]string{":8765": "127.0.0.1:8765", "0.0.0.0:80": "0.0.0.0:80", "[::1]:9": "[::1]:9", "": ""} {
		o := &MCPOptions{HTTP: addr, TTL: time.Hour, ReadyTimeout: time.Minute, MaxOutput: -1, MaxReadBytes: 1}
		if err := o.Validate(); err != nil || o.HTTP != want {
			t.Errorf("%q: %q, %v; want %q", addr, o.HTTP, err, want)
		}
	}
}

// TestMCPStdio: the verb speaks JSON-RPC lines on its streams: initialize,
// then tools/list, and it ends cleanly at the end of its input, having made
// no API call.
func TestMCPStdio(t *testing.T) {
	f := newFakeFactory()
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"0"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
	}, "\n") + "\n"
	res := runWith(t, f, NewCmdMCP, in, []string{"--allow-pool", "python"})
	if res.err != nil {
		t.Fatalf("%v (stderr %q)", res.err, res.errOut)
	}
	answers := map[float64]json.RawMessage{}
	for _, line := range strings.Split(strings.TrimSpace(res.out), "\n") {
		var msg struct {
			ID     float64         `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal([]byte(line), &msg); err != nil {
			t.Fatalf("stdout line %q: %v", line, err)
		}
		if msg.Error != nil {
			t.Errorf("error answer %s", line)
		}
		answers[msg.ID] = msg.Result
	}
	var init struct {
		ProtocolVersion string `json:"protocolVersion"`
		ServerInfo      struct {
			Name string `json:"name"`
		} `json:"serverInfo"`
		Capabilities struct {
			Tools any `json:"tools"`
		} `json:"capabilities"`
	}
	if err := json.Unmarshal(answers[1], &init); err != nil || init.ProtocolVersion != "2025-11-25" || init.ServerInfo.Name != "kubectl-sandbox" || init.Capabilities.Tools == nil {
		t.Errorf("initialize answer %s (%v)", answers[1], err)
	}
	var list struct {
		Tools []struct {
			Name         string          `json:"name"`
			InputSchema  json.RawMessage `json:"inputSchema"`
			OutputSchema json.RawMessage `json:"outputSchema"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(answers[2], &list); err != nil {
		t.Fatalf("tools/list answer %s: %v\nstdout %s", answers[2], err, res.out)
	}
	var names []string
	for _, tool := range list.Tools {
		names = append(names, tool.Name)
		if len(tool.InputSchema) == 0 || len(tool.OutputSchema) == 0 {
			t.Errorf("%s: schemas %s, %s", tool.Name, tool.InputSchema, tool.OutputSchema)
		}
	}
	slices.Sort(names)
	want := []string{"sandbox_create", "sandbox_delete", "sandbox_exec", "sandbox_list", "sandbox_list_files", "sandbox_read_file", "sandbox_run", "sandbox_write_file"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("tools %q\nwant %q", names, want)
	}
	if a := append(f.ext.Actions(), f.core.Actions()...); len(a) != 0 {
		t.Errorf("API calls %v", a)
	}
	if res.errOut != "" {
		t.Errorf("stderr %q", res.errOut)
	}
}

// TestMCPStdioEmpty: no input at all is a clean end.
func TestMCPStdioEmpty(t *testing.T) {
	res := runWith(t, newFakeFactory(), NewCmdMCP, "", nil)
	if res.err != nil || res.out != "" {
		t.Errorf("%+v", res)
	}
}

// lockedBuffer is a buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stdioClient drives the verb over pipes, one JSON-RPC line at a time.
type stdioClient struct {
	t    *testing.T
	in   *io.PipeWriter
	out  *bufio.Scanner
	done chan error
}

// startMCP runs the verb with args on pipes, the clock pinned.
func startMCP(t *testing.T, f Factory, args []string) (*stdioClient, *lockedBuffer) {
	t.Helper()
	clock = func() time.Time { return testNow }
	t.Cleanup(func() { clock = time.Now })
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	errOut := &lockedBuffer{}
	cmd := NewCmdMCP(f, genericiooptions.IOStreams{In: inR, Out: outW, ErrOut: errOut})
	cmd.SetArgs(args)
	cmd.SetOut(outW)
	cmd.SetErr(errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	c := &stdioClient{t: t, in: inW, out: bufio.NewScanner(outR), done: make(chan error, 1)}
	c.out.Buffer(nil, 1<<20)
	go func() {
		err := cmd.ExecuteContext(context.Background())
		_ = outW.Close()
		c.done <- err
	}()
	t.Cleanup(func() {
		_ = inW.Close()
		go func() { _, _ = io.Copy(io.Discard, outR) }()
	})
	return c, errOut
}

func (c *stdioClient) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		c.t.Fatal(err)
	}
}

// answer reads lines until the answer to id, and returns its result.
func (c *stdioClient) answer(id int) json.RawMessage {
	c.t.Helper()
	for c.out.Scan() {
		var msg struct {
			ID     *int            `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(c.out.Bytes(), &msg); err != nil {
			c.t.Fatalf("stdout line %q: %v", c.out.Text(), err)
		}
		if msg.ID == nil || *msg.ID != id {
			continue // a notification
		}
		if msg.Error != nil {
			c.t.Fatalf("answer %d: error %s", id, msg.Error)
		}
		return msg.Result
	}
	c.t.Fatalf("no answer %d: %v", id, c.out.Err())
	return nil
}

// call calls a tool and decodes its result.
func (c *stdioClient) call(id int, tool string, args any) (structured json.RawMessage, text string, isError bool) {
	c.t.Helper()
	b, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": map[string]any{"name": tool, "arguments": args}})
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(string(b))
	var res struct {
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
		StructuredContent json.RawMessage `json:"structuredContent"`
		IsError           bool            `json:"isError"`
	}
	if err := json.Unmarshal(c.answer(id), &res); err != nil {
		c.t.Fatal(err)
	}
	if len(res.Content) > 0 {
		text = res.Content[0].Text
	}
	return res.StructuredContent, text, res.IsError
}

// TestMCPStdioSession: a session over stdio creates a sandbox (labelled
// with its session, expiring at --ttl), runs a command in it, is refused a
// pool outside --allow-pool, and when its input ends the verb deletes the
// sandbox and returns.
func TestMCPStdioSession(t *testing.T) {
	f, r, router := dataPlane(t)
	readyOnCreate(f)
	r.Exec = echoExec
	c, errOut := startMCP(t, f, append(router, "--allow-pool", "python", "--ttl", "30m"))
	c.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"0"}}}`)
	c.answer(1)
	c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	out, text, isErr := c.call(2, "sandbox_create", map[string]any{"pool": "python"})
	var created mcp.SandboxOut
	if err := json.Unmarshal(out, &created); err != nil || isErr || created.Name != "sandbox-claim-abcde" || !created.Ready || !created.Mine ||
		created.ExpiresAt != "2026-11-25T12:30:00Z" {
		t.Fatalf("create: %s %q %v (%v)", out, text, isErr, err)
	}
	claim, err := f.ext.ExtensionsV1beta1().SandboxClaims("default").Get(context.Background(), created.Name, metav1.GetOptions{})
	if err != nil || !strings.HasPrefix(claim.Labels[mcp.SessionLabel], "mcp-") {
		t.Fatalf("claim %+v, %v", claim, err)
	}
	out, text, isErr = c.call(3, "sandbox_exec", map[string]any{"name": created.Name, "command": []string{"echo", "hi"}})
	var ran mcp.ExecOut
	if err := json.Unmarshal(out, &ran); err != nil || isErr || ran != (mcp.ExecOut{Stdout: "sb-sandbox-claim-abcde: hi\n"}) {
		t.Errorf("exec: %s %q (%v)", out, text, err)
	}
	// A refusal is a tool error, worded as the CLI words errors, on one line.
	_, text, isErr = c.call(4, "sandbox_create", map[string]any{"pool": "go"})
	if !isErr || text != `pool "go" (template "") is not allowed here: allowed pools [python], templates []` {
		t.Errorf("refusal: %q %v", text, isErr)
	}
	// A claim the server did not create cannot be deleted.
	_, text, isErr = c.call(5, "sandbox_delete", map[string]any{"name": "a"})
	if !isErr || !strings.Contains(text, "was not created by this MCP server") {
		t.Errorf("delete: %q %v", text, isErr)
	}

	_ = c.in.Close() // the client is done
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("%v (stderr %q)", err, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the verb did not end at the end of its input")
	}
	if left := claimNames(t, f); !reflect.DeepEqual(left, []string{"a", "b", "p"}) {
		t.Errorf("claims left: %v", left)
	}
}
