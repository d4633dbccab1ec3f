package mcp

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkExecKept is sandbox_exec of `true` on one sandbox, call after
// call, through an in-memory MCP session and a fake router over loopback
// HTTP: the plugin's own share of a call (the MCP SDK, the tool, the cache,
// the python client). BenchmarkRouterPost is the same request to the same
// fake router through a kept-alive connection, the floor.
func BenchmarkExecKept(b *testing.B) {
	c := newCluster(b)
	srv := newServer(b, c, Options{})
	b.Cleanup(func() { _ = srv.Cleanup() })
	cl := connect(b, srv.MCP())
	cl.create(map[string]any{"name": "box"})
	ctx := context.Background()
	args := map[string]any{"name": "box", "command": []string{"true"}}
	b.ResetTimer()
	for range b.N {
		res, err := cl.cs.CallTool(ctx, &sdk.CallToolParams{Name: "sandbox_exec", Arguments: args})
		if err != nil || res.IsError {
			b.Fatalf("%v %v", err, text(res))
		}
	}
}

func BenchmarkRouterPost(b *testing.B) {
	c := newCluster(b)
	client := &http.Client{}
	b.Cleanup(client.CloseIdleConnections)
	b.ResetTimer()
	for range b.N {
		req, _ := http.NewRequest(http.MethodPost, c.router.URL+"/execute", strings.NewReader(`{"command":"true"}`))
		req.Header.Set("X-Sandbox-ID", "sb-box")
		req.Header.Set("X-Sandbox-Namespace", "default")
		req.Header.Set("X-Sandbox-Port", "8888")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}
