package cmd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/mcp"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandboxd"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
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
		{[]string{"--transport", "ssh"}, `invalid --transport "ssh"`},
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

// TestMCPListenAddress: an address without a host is on loopback.
func TestMCPListenAddress(t *testing.T) {
	for addr, want := range map[string]string{":8765": "127.0.0.1:8765", "0.0.0.0:80": "0.0.0.0:80", "[::1]:9": "[::1]:9"} {
		if got, err := listenAddress(addr); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", addr, got, err, want)
		}
	}
	for _, addr := range []string{"8765", ":http", ":70000", "host:"} {
		if got, err := listenAddress(addr); err == nil || err.Error() != `invalid --http "`+addr+`": use HOST:PORT or :PORT` {
			t.Errorf("%q: %q, %v; want it refused", addr, got, err)
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
	want := []string{"sandbox_create", "sandbox_delete", "sandbox_exec", "sandbox_job_kill", "sandbox_job_list", "sandbox_job_output", "sandbox_job_start",
		"sandbox_list", "sandbox_list_files", "sandbox_read_file", "sandbox_run", "sandbox_write_file"}
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

// TestToolErrorsNameToolFields: the MCP tools' errors carry the CLI's
// hints, but where a hint names a setting it names what the reader can
// set: the tool's field (timeoutSeconds, pool), another tool, or the
// server's own flag (--ready-timeout, --router-url), never a CLI flag the
// agent has no way to pass.
func TestToolErrorsNameToolFields(t *testing.T) {
	for _, tc := range []struct {
		err  error
		verb string
		want string
	}{
		{&sandbox.CommandTimeoutError{After: time.Second}, "exec", "the command did not finish within 1s; it may still be running in the sandbox (raise timeoutSeconds)"},
		{&sandbox.CommandTimeoutError{After: time.Second}, "run", "the command did not finish within 1s; it may still be running in the sandbox (raise timeoutSeconds)"},
		{&sandbox.HTTPError{Op: "execute", Status: 504}, "exec", "execute: HTTP 504: the sandbox did not answer in time (raise timeoutSeconds?)"},
		{&claims.TimeoutError{Name: "c", For: "become Ready", After: 2 * time.Minute}, "create",
			`timed out after 2m0s waiting for sandboxclaim "c" to become Ready (the server gives a sandbox its --ready-timeout to become Ready: start it with a longer one, or use a warm pool with ready sandboxes)`},
		{&claims.NotReadyError{Name: "c", Reason: "SandboxNotReady"}, "exec", `sandboxclaim "c" is not Ready (SandboxNotReady): it may still be starting; check with sandbox_list`},
		{&claims.NotReadyError{Name: "c", Reason: "SandboxSuspended: Sandbox is suspended"}, "exec", `sandboxclaim "c" is not Ready (SandboxSuspended: Sandbox is suspended): it is suspended (no tool resumes it; a user can, with: kubectl sandbox resume c)`},
		{&session.ChangedError{Claim: "c", Err: &python.SentError{Op: "execute", Err: io.ErrUnexpectedEOF}}, "exec",
			`sandboxclaim "c" changed while the request was under way (it names another sandbox or pod now): execute: the connection to the sandbox router failed after the request was sent: unexpected EOF: the command may have run; it was not retried (see what it is now with sandbox_list)`},
		{&claims.CleanupError{Name: "c", Err: errors.New("boom")}, "run", `deleting sandboxclaim "c" failed: boom (it expires at its TTL; delete it with sandbox_delete, name "c")`},
		{&claims.NoPoolError{Namespace: "d", Template: "t", Templates: []string{"t"}}, "create", `no SandboxWarmPool in namespace "d" uses SandboxTemplate "t"; pools: none; templates: t; create a pool for it (spec.sandboxTemplateRef.name: t, replicas: 0 for cold starts) or give pool`},
		{&claims.NoPoolError{Namespace: "d", Template: "t"}, "run", `no SandboxWarmPool in namespace "d" uses SandboxTemplate "t"; pools: none; templates: none; check the template name, or give pool`},
		{&sandbox.InputTooLargeError{Max: 16 << 20}, "exec", "standard input is larger than 16 MiB, the most this runtime takes (it cannot stream input): use a sandbox whose template runs sandboxd, or write the input to a file with sandbox_write_file"},
		{&python.NoAnswerError{Op: "list d", After: 30 * time.Second}, "ls", "list d: the sandbox router did not answer within 30s (is the router running and reachable? check the server's --router-url, --gateway or the router's port-forward)"},
		{&sandbox.HTTPError{Op: "execute", Status: 401}, "exec", "execute: HTTP 401: the router refused the request (start the server with --router-token, --router-token-file or KUBECTL_SANDBOX_ROUTER_TOKEN)"},
		{routerRefusal(401, router.Credential{Identity: router.IdentityClientCert}, false), "exec",
			"execute: the sandbox router asks for a bearer token (HTTP 401: unauthenticated) and none was sent: your kubeconfig's identity is a client certificate, which cannot be sent to the router: " +
				"the router asks for tokens (tokenreview mode requiring them, or scoped-token mode); start the server with --router-token-file: a ServiceAccount's for tokenreview mode (kubectl create token NAME > FILE), one minted for the sandbox for scoped-token mode"},
		{routerRefusal(401, router.Credential{Identity: router.IdentityToken, WithheldFrom: "10.96.0.10:8080"}, false), "exec",
			"execute: the sandbox router asks for a bearer token (HTTP 401: unauthenticated) and none was sent: your kubeconfig's token is not sent over plain http to 10.96.0.10:8080: " +
				"the router asks for tokens (tokenreview mode requiring them, or scoped-token mode); start the server with an https router (--router-url https://..., or --gateway-scheme https, with --router-ca-file), or with --router-allow-insecure-token if the network is trusted"},
		{routerRefusal(401, router.Credential{Presents: router.PresentScoped}, true), "exec",
			"execute: the sandbox router refused the scoped token (HTTP 401: unauthenticated): a router in scoped-token mode could not verify it (minted with another secret, or mangled?): mint a new one; " +
				"a router in tokenreview mode takes Kubernetes tokens: start the server without a router token to send its kubeconfig's"},
		{routerRefusal(401, router.Credential{Presents: router.PresentToken}, true), "exec",
			"execute: the sandbox router refused the router token (HTTP 401: unauthenticated): a router in tokenreview mode found it invalid, expired, revoked or for another audience; " +
				"a router in scoped-token mode takes only a token minted for the sandbox; check the server's --router-token, --router-token-file and $KUBECTL_SANDBOX_ROUTER_TOKEN"},
		{x509.UnknownAuthorityError{}, "exec",
			"x509: certificate signed by unknown authority (the router's certificate is signed by a CA you do not trust: start the server with --router-ca-file naming the router's CA)"},
		{&router.GatewayError{Namespace: "d", Name: "g", Problem: "has no HTTPS listener", NoListener: true}, "exec",
			"gateway d/g has no HTTPS listener: add the listener to the Gateway, or start the server with another --gateway-scheme"},
		{&router.GatewayError{Namespace: "d", Name: "g", NotFound: true}, "exec", `gateway "g" not found in namespace "d": check the server's --gateway and --gateway-namespace`},
		{&router.NoRouterError{Problems: []string{"x"}}, "exec", "cannot port-forward to the sandbox router: x (deploy the router, or start the server with --router-namespace, --gateway or --router-url)"},
		{&router.InsecureTokenError{Host: "h"}, "exec", "refusing to send the router token over plain http to h: use https, or start the server with --router-allow-insecure-token if the network is trusted"},
		{&sandboxd.UnreachableError{Namespace: "d", Pod: "p", Port: 8080, Err: errors.New("refused")}, "exec",
			"pod d/p does not answer on sandboxd's port 8080: refused (does its pod run sandboxd? start the server with --runtime python for the python runtime, or with --sandboxd-rest-port and --sandboxd-grpc-port)"},
		{&sandboxd.NotReadyError{Sandbox: "s", Err: errors.New("503")}, "exec", "sandboxd in sandbox s is not ready: 503 (is the sandbox Ready? check with sandbox_list)"},
		{&sandboxd.LostError{Err: errors.New("EOF")}, "exec", "the connection to sandboxd was lost while the command ran (sandboxd stops it): EOF (check the server's connection to the cluster; start it with -v=4 for the port-forward's log)"},
	} {
		got := describeToolError(tc.err, tc.verb)
		if got != tc.want {
			t.Errorf("%T (%s):\ngot  %s\nwant %s", tc.err, tc.verb, got, tc.want)
		}
		for _, cliOnly := range []string{" --timeout", "--command-timeout", "--pool", "kubectl sandbox wait", "kubectl sandbox cp", "kubectl sandbox delete", "run again"} {
			if strings.Contains(got, cliOnly) {
				t.Errorf("%T: a tool error names %q: %s", tc.err, cliOnly, got)
			}
		}
		// The CLI keeps its own wording.
		if cli := describeError(tc.err, tc.verb); cli == got {
			t.Errorf("%T: the CLI's hint is the tools' too: %s", tc.err, cli)
		}
	}
	// Hints that name no setting are the CLI's.
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "extensions.agents.x-k8s.io", Resource: "sandboxclaims"}, "", errors.New("no"))
	if got, cli := describeToolError(forbidden, "create"), describeError(forbidden, "create"); got != cli {
		t.Errorf("forbidden: tools %q, CLI %q", got, cli)
	}
}

// TestMCPToolErrorHints: the verb words its tools' errors for the agent.
func TestMCPToolErrorHints(t *testing.T) {
	f, _, router := dataPlane(t)
	c, _ := startMCP(t, f, router)
	c.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"0"}}}`)
	c.answer(1)
	c.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	_, text, isErr := c.call(2, "sandbox_exec", map[string]any{"name": "p", "command": []string{"true"}})
	if want := `sandboxclaim "p" is not Ready (SandboxNotReady): it may still be starting; check with sandbox_list`; !isErr || text != want {
		t.Errorf("exec on a claim that is not Ready: %q, %v\nwant %q", text, isErr, want)
	}
}

// TestMCPHTTPSessionTimeout: over --http, a session whose client goes
// quiet without ending it (no DELETE) is ended after
// --http-session-timeout, and the sandboxes it created are deleted.
func TestMCPHTTPSessionTimeout(t *testing.T) {
	f, _, router := dataPlane(t)
	readyOnCreate(f)
	deleted := make(chan string, 10)
	f.ext.PrependReactor("delete", "sandboxclaims", func(a k8stesting.Action) (bool, runtime.Object, error) {
		deleted <- a.(k8stesting.DeleteAction).GetName()
		return false, nil, nil
	})
	errOut := &signalWriter{want: "Serving MCP on ", seen: make(chan struct{})}
	cmd := NewCmdMCP(f, genericiooptions.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: errOut})
	cmd.SetArgs(append(router, "--http", "127.0.0.1:0", "--http-session-timeout", "300ms"))
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("mcp: %v", err)
		}
	}()
	select {
	case <-errOut.seen:
	case err := <-done:
		done <- err
		t.Fatalf("mcp ended: %v", err)
	}
	_, endpoint, _ := strings.Cut(strings.TrimSpace(errOut.String()), "Serving MCP on ")
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "0"}, nil).Connect(ctx, &sdk.StreamableClientTransport{Endpoint: endpoint}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "sandbox_create", Arguments: map[string]any{"pool": "python"}})
	if err != nil || res.IsError {
		t.Fatalf("create: %+v, %v", res, err)
	}
	// The client neither calls again nor ends its session.
	select {
	case name := <-deleted:
		if name != "sandbox-claim-abcde" {
			t.Errorf("deleted %q", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the idle session's sandbox was not deleted")
	}
	if _, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "sandbox_list", Arguments: map[string]any{}}); err == nil {
		t.Error("the idle session still answers")
	}
}

// TestServerGC: the server raises the collector's target unless GOGC is
// set, which it leaves to the runtime.
func TestServerGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	if got := serverGC(func(string) (string, bool) { return "50", true }); got != -1 || debug.SetGCPercent(100) != 100 {
		t.Errorf("with GOGC set: %d, and the runtime's target changed", got)
	}
	if got := serverGC(func(string) (string, bool) { return "", false }); got != mcpGCPercent || debug.SetGCPercent(100) != mcpGCPercent {
		t.Errorf("without GOGC: %d, want %d and the runtime's target with it", got, mcpGCPercent)
	}
}
