package mcp

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestToolsList: the eight tools, each with an input and an output schema
// of type object, and the server's identity in the handshake.
func TestToolsList(t *testing.T) {
	c := newCluster(t)
	srv := newServer(t, c, Options{Version: "v1.2.3"})
	cl := connect(t, srv.MCP())
	if info := cl.cs.InitializeResult().ServerInfo; info == nil || info.Name != "kubectl-sandbox" || info.Version != "v1.2.3" {
		t.Errorf("server info %+v", info)
	}
	if ins := cl.cs.InitializeResult().Instructions; !strings.Contains(ins, "sandbox_create") {
		t.Errorf("instructions %q", ins)
	}
	res, err := cl.cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		if tool.Description == "" {
			t.Errorf("%s: no description", tool.Name)
		}
		for what, schema := range map[string]any{"input": tool.InputSchema, "output": tool.OutputSchema} {
			b, err := json.Marshal(schema)
			if err != nil {
				t.Fatal(err)
			}
			var s struct {
				Type       string         `json:"type"`
				Properties map[string]any `json:"properties"`
			}
			if err := json.Unmarshal(b, &s); err != nil || s.Type != "object" || len(s.Properties) == 0 {
				t.Errorf("%s: %s schema %s", tool.Name, what, b)
			}
		}
	}
	slices.Sort(names)
	want := []string{"sandbox_create", "sandbox_delete", "sandbox_exec", "sandbox_job_kill", "sandbox_job_list", "sandbox_job_output", "sandbox_job_start",
		"sandbox_list", "sandbox_list_files", "sandbox_read_file", "sandbox_run", "sandbox_write_file"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("tools %q\nwant %q", names, want)
	}
	// A few properties the agents rely on.
	for tool, props := range map[string][]string{
		"sandbox_create":     {"pool", "template", "ttl", "labels", "name"},
		"sandbox_exec":       {"name", "command", "stdin", "env", "workdir", "maxOutputBytes", "timeoutSeconds"},
		"sandbox_run":        {"command", "files", "read"},
		"sandbox_job_start":  {"name", "command", "env", "workdir", "job"},
		"sandbox_job_output": {"name", "id", "offset", "maxBytes", "waitSeconds"},
		"sandbox_job_kill":   {"name", "id", "signal", "waitSeconds"},
	} {
		i := slices.IndexFunc(res.Tools, func(x *sdk.Tool) bool { return x.Name == tool })
		b, _ := json.Marshal(res.Tools[i].InputSchema)
		for _, p := range props {
			if !strings.Contains(string(b), `"`+p+`"`) {
				t.Errorf("%s: input schema lacks %s: %s", tool, p, b)
			}
		}
	}
}
