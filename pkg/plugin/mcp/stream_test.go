package mcp

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// streamer is a streaming runtime (as sandboxd is) that writes chunks.
type streamer struct {
	sandbox.Runtime // the rest is not used
	stdout, stderr  []string
	code            int
	stdin           string
	cmd             sandbox.Command
}

func (f *streamer) Stream(ctx context.Context, cmd sandbox.Command, s sandbox.Streams) (int, error) {
	f.cmd = cmd
	if s.Stdin != nil {
		b, err := io.ReadAll(s.Stdin)
		if err != nil {
			return 0, err
		}
		f.stdin = string(b)
	}
	for i := 0; i < max(len(f.stdout), len(f.stderr)); i++ {
		if i < len(f.stdout) {
			_, _ = io.WriteString(s.Stdout, f.stdout[i])
		}
		if i < len(f.stderr) {
			_, _ = io.WriteString(s.Stderr, f.stderr[i])
		}
	}
	return f.code, nil
}

// TestRunCommandStreams: on a streaming runtime, with a progress token, the
// output is kept within the budget and every chunk is also sent as a
// progress notification (as valid UTF-8).
func TestRunCommandStreams(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{MaxOutput: 8})
	progress := make(chan *sdk.ProgressNotificationParams, 100)
	cl := connectWith(t, srv.MCP(), legacyProtocol, &sdk.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *sdk.ProgressNotificationClientRequest) { progress <- req.Params },
	})
	rt := &streamer{stdout: []string{"0123", "4567", "89ab", "\xff"}, stderr: []string{"warn\n"}, code: 4}
	req := &sdk.CallToolRequest{Session: cl.ss, Params: &sdk.CallToolParamsRaw{Meta: sdk.Meta{"progressToken": "tok"}}}
	cmd := sandbox.Command{Argv: []string{"make"}, Env: map[string]string{"A": "1"}}
	out, err := srv.runCommand(context.Background(), req, rt, cmd, "input", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantOut, _ := sandbox.Trim("0123456789ab\xff", 8)
	if want := (ExecOut{ExitCode: 4, Stdout: wantOut, Stderr: "warn\n", Truncated: true}); out != want {
		t.Errorf("output %+v\nwant %+v", out, want)
	}
	if rt.stdin != "input" || !reflect.DeepEqual(rt.cmd, cmd) {
		t.Errorf("stdin %q, command %+v", rt.stdin, rt.cmd)
	}
	var msgs []string
	for len(msgs) < 5 {
		select {
		case p := <-progress:
			if p.ProgressToken != "tok" || p.Progress != float64(len(msgs)+1) {
				t.Errorf("notification %+v", p)
			}
			msgs = append(msgs, p.Message)
		case <-time.After(10 * time.Second):
			t.Fatalf("notifications %q", msgs)
		}
	}
	want := []string{"stdout: 0123", "stderr: warn\n", "stdout: 4567", "stdout: 89ab", "stdout: \uFFFD"}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("notifications %q\nwant %q", msgs, want)
	}

	// -1 keeps everything.
	rt = &streamer{stdout: []string{strings.Repeat("x", 100)}}
	out, err = srv.runCommand(context.Background(), req, rt, cmd, "", 0, -1)
	if err != nil || out.Stdout != strings.Repeat("x", 100) || out.Truncated || rt.stdin != "" {
		t.Errorf("output %+v, %v", out, err)
	}
	<-progress // its one chunk

	// Without a progress token, the output is collected and trimmed alike.
	rt = &streamer{stdout: []string{"0123", "4567", "89ab"}}
	out, err = srv.runCommand(context.Background(), &sdk.CallToolRequest{Session: cl.ss, Params: &sdk.CallToolParamsRaw{}}, rt, cmd, "", 0, 0)
	if wantOut, _ := sandbox.Trim("0123456789ab", 8); err != nil || out != (ExecOut{Stdout: wantOut, Truncated: true}) {
		t.Errorf("output %+v, %v", out, err)
	}
	select {
	case p := <-progress:
		t.Errorf("notification without a token: %+v", p)
	default:
	}
}
