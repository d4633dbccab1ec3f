package mcp

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"k8s.io/apimachinery/pkg/api/meta"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/oneshot"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// CreateIn is sandbox_create's input.
type CreateIn struct {
	Pool      string            `json:"pool,omitempty" jsonschema:"the SandboxWarmPool to claim from (or give template)"`
	Template  string            `json:"template,omitempty" jsonschema:"the SandboxTemplate to use: the pool that serves it is claimed from"`
	Name      string            `json:"name,omitempty" jsonschema:"the claim's name (default: generated)"`
	TTL       string            `json:"ttl,omitempty" jsonschema:"how long until it expires, as a Go duration like 30m (at most the server's --ttl, its default)"`
	Labels    map[string]string `json:"labels,omitempty" jsonschema:"labels for the claim"`
	Namespace string            `json:"namespace,omitempty" jsonschema:"namespace (only if the server allows namespaces)"`
}

// SandboxOut describes one sandbox.
type SandboxOut struct {
	Name      string `json:"name" jsonschema:"the claim's name: the name the other tools take"`
	Namespace string `json:"namespace"`
	Pool      string `json:"pool"`
	Sandbox   string `json:"sandbox,omitempty" jsonschema:"the Sandbox bound to the claim"`
	Ready     bool   `json:"ready"`
	Reason    string `json:"reason,omitempty" jsonschema:"the reason of the Ready condition"`
	ExpiresAt string `json:"expiresAt,omitempty" jsonschema:"RFC3339 expiry"`
	Mine      bool   `json:"mine" jsonschema:"created by this MCP session (deleted when it ends)"`
}

// ListIn is sandbox_list's input.
type ListIn struct {
	Selector  string `json:"selector,omitempty" jsonschema:"a label selector"`
	Mine      bool   `json:"mine,omitempty" jsonschema:"only the sandboxes this session created"`
	Namespace string `json:"namespace,omitempty"`
}

// ListOut is sandbox_list's output.
type ListOut struct {
	Sandboxes []SandboxOut `json:"sandboxes"`
}

// ExecIn is sandbox_exec's input.
type ExecIn struct {
	Name           string            `json:"name" jsonschema:"the sandbox (claim) name"`
	Command        []string          `json:"command" jsonschema:"the argv, run without a shell (use [\"sh\",\"-c\",\"...\"] for one)"`
	Stdin          string            `json:"stdin,omitempty" jsonschema:"standard input for the command"`
	Env            map[string]string `json:"env,omitempty" jsonschema:"environment variables for the command"`
	Workdir        string            `json:"workdir,omitempty" jsonschema:"working directory, relative to the sandbox's root"`
	TimeoutSeconds int               `json:"timeoutSeconds,omitempty" jsonschema:"give up (and kill it, on sandboxd) after this many seconds"`
	MaxOutputBytes int               `json:"maxOutputBytes,omitempty" jsonschema:"keep at most this many bytes of stdout and of stderr each (head and tail); default the server's budget, -1 for all"`
	Namespace      string            `json:"namespace,omitempty"`
}

// ExecOut is a command's result.
type ExecOut struct {
	ExitCode  int    `json:"exitCode"`
	Stdout    string `json:"stdout"`
	Stderr    string `json:"stderr"`
	Truncated bool   `json:"truncated" jsonschema:"an output budget left bytes out (a marker shows where)"`
}

// WriteIn is sandbox_write_file's input.
type WriteIn struct {
	Name      string `json:"name"`
	Path      string `json:"path" jsonschema:"the file, relative to the sandbox's root; parent directories are created"`
	Content   string `json:"content" jsonschema:"the content: text, or base64 when encoding is base64"`
	Encoding  string `json:"encoding,omitempty" jsonschema:"utf-8 (default) or base64"`
	Namespace string `json:"namespace,omitempty"`
}

// WriteOut is sandbox_write_file's output.
type WriteOut struct {
	Path  string `json:"path"`
	Bytes int    `json:"bytes"`
}

// ReadIn is sandbox_read_file's input.
type ReadIn struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	MaxBytes  int    `json:"maxBytes,omitempty" jsonschema:"read at most this many bytes (default and cap: the server's)"`
	Namespace string `json:"namespace,omitempty"`
}

// ReadOut is a file's content.
type ReadOut struct {
	Path      string `json:"path"`
	Content   string `json:"content"`
	Encoding  string `json:"encoding" jsonschema:"utf-8, or base64 for content that is not UTF-8 text"`
	Bytes     int    `json:"bytes" jsonschema:"bytes returned"`
	Truncated bool   `json:"truncated" jsonschema:"the file is longer than what was returned"`
}

// FilesIn is sandbox_list_files's input.
type FilesIn struct {
	Name      string `json:"name"`
	Path      string `json:"path,omitempty" jsonschema:"the directory (default: the sandbox's root)"`
	Namespace string `json:"namespace,omitempty"`
}

// FileOut is one directory entry.
type FileOut struct {
	Name     string `json:"name"`
	Type     string `json:"type" jsonschema:"file or directory"`
	Size     int64  `json:"size"`
	Modified string `json:"modified,omitempty"`
}

// FilesOut is a listing.
type FilesOut struct {
	Entries []FileOut `json:"entries"`
}

// DeleteIn is sandbox_delete's input.
type DeleteIn struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// DeleteOut is sandbox_delete's output.
type DeleteOut struct {
	Deleted string `json:"deleted"`
}

// RunIn is sandbox_run's input.
type RunIn struct {
	Pool           string            `json:"pool,omitempty"`
	Template       string            `json:"template,omitempty"`
	Command        []string          `json:"command" jsonschema:"the argv, run without a shell"`
	Files          map[string]string `json:"files,omitempty" jsonschema:"files to write first: path -> UTF-8 content"`
	Read           []string          `json:"read,omitempty" jsonschema:"files to read back after the command"`
	Stdin          string            `json:"stdin,omitempty"`
	Env            map[string]string `json:"env,omitempty"`
	TimeoutSeconds int               `json:"timeoutSeconds,omitempty"`
	MaxOutputBytes int               `json:"maxOutputBytes,omitempty"`
	Namespace      string            `json:"namespace,omitempty"`
}

// RunOut is sandbox_run's output.
type RunOut struct {
	ExecOut
	Sandbox string             `json:"sandbox"`
	Files   map[string]ReadOut `json:"files,omitempty"`
}

func (s *Server) addTools(srv *sdk.Server) {
	sdk.AddTool(srv, &sdk.Tool{Name: "sandbox_create", Description: "Claim a sandbox from a warm pool (or a template) and wait until it is ready. It expires at its TTL and is deleted when this session ends."}, s.create)
	sdk.AddTool(srv, &sdk.Tool{Name: "sandbox_list", Description: "List sandboxes (claims) in the namespace."}, s.list)
	sdk.AddTool(srv, &sdk.Tool{Name: "sandbox_exec", Description: "Run a command (an argv, no shell) in a sandbox; returns its exit code and output (within an output budget). On sandboxd sandboxes, output also streams as progress notifications."}, s.exec)
	sdk.AddTool(srv, &sdk.Tool{Name: "sandbox_write_file", Description: "Write a file in a sandbox (text, or base64 for bytes)."}, s.writeFile)
	sdk.AddTool(srv, &sdk.Tool{Name: "sandbox_read_file", Description: "Read a file from a sandbox: UTF-8 text, or base64 for other bytes, up to a size cap."}, s.readFile)
	sdk.AddTool(srv, &sdk.Tool{Name: "sandbox_list_files", Description: "List a directory in a sandbox."}, s.listFiles)
	sdk.AddTool(srv, &sdk.Tool{Name: "sandbox_delete", Description: "Delete a sandbox this server created (in this session or another)."}, s.delete)
	sdk.AddTool(srv, &sdk.Tool{Name: "sandbox_run", Description: "One shot: claim a sandbox, write files, run a command, read files back, delete the sandbox."}, s.run)
	s.addJobTools(srv)
}

func (s *Server) create(ctx context.Context, req *sdk.CallToolRequest, in CreateIn) (*sdk.CallToolResult, SandboxOut, error) {
	out, err := s.createClaim(ctx, req, in)
	return nil, out, s.describe(err, "create")
}

func (s *Server) createClaim(ctx context.Context, req *sdk.CallToolRequest, in CreateIn) (SandboxOut, error) {
	ns, err := s.namespace(in.Namespace)
	if err != nil {
		return SandboxOut{}, err
	}
	id := s.sessionID(req.Session)
	spec, err := s.claimSpec(ctx, ns, id, in)
	if err != nil {
		return SandboxOut{}, err
	}
	var created string
	c, err := claims.CreateAndWait(ctx, s.clients.Ext, claims.NewClaim(spec, s.opts.Now()), s.opts.ReadyTimeout, s.tracking(id, ns, &created))
	if err != nil {
		s.forget(id, ns, created, err) // CreateAndWait deleted it
		return SandboxOut{}, err
	}
	return sandboxOut(c, true), nil
}

// claimSpec checks what a tool asks to claim with the create flags' own
// validation (claims.Spec.Validate), within the server's TTL, labelled
// with session id, and resolves its pool, which the allow-lists must hold.
func (s *Server) claimSpec(ctx context.Context, ns, id string, in CreateIn) (claims.Spec, error) {
	ttl := s.opts.TTL
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if err != nil || d <= 0 {
			return claims.Spec{}, fmt.Errorf("invalid ttl %q: use a positive Go duration like 30m", in.TTL)
		}
		ttl = min(d, s.opts.TTL)
	}
	spec := claims.Spec{Namespace: ns, Name: in.Name, Pool: in.Pool, Template: in.Template, TTL: ttl, Labels: map[string]string{}}
	for k, v := range in.Labels {
		spec.Labels[k] = v
	}
	spec.Labels[SessionLabel] = id
	if err := spec.Validate(); err != nil {
		return spec, err
	}
	if err := claims.ResolvePool(ctx, s.clients.Ext, &spec); err != nil {
		return spec, err
	}
	template := in.Template
	if template == "" {
		if p, err := s.clients.Ext.ExtensionsV1beta1().SandboxWarmPools(ns).Get(ctx, spec.Pool, getOpts); err == nil {
			template = p.Spec.TemplateRef.Name
		}
	}
	return spec, s.allowed(spec.Pool, template)
}

// tracking are the wait hooks of a claim the session creates: it is
// recorded as soon as it exists (before it is Ready, so that a session
// that ends meanwhile still deletes it), name is set to it, and a pod that
// cannot start ends the wait.
func (s *Server) tracking(id, ns string, name *string) claims.WaitHooks {
	return claims.WaitHooks{
		Created: func(c *extv1beta1.SandboxClaim) {
			*name = c.Name
			s.track(id, ns, c.Name)
		},
		Pods: s.clients.Core,
	}
}

// forget stops tracking a claim that the engine deleted after err, unless
// the deletion failed (a *claims.CleanupError): the session's end tries
// again then.
func (s *Server) forget(id, ns, name string, err error) {
	var cleanup *claims.CleanupError
	if name != "" && !errors.As(err, &cleanup) {
		s.untrack(id, ns, name)
	}
}

func sandboxOut(c *extv1beta1.SandboxClaim, mine bool) SandboxOut {
	out := SandboxOut{Name: c.Name, Namespace: c.Namespace, Pool: c.Spec.WarmPoolRef.Name, Sandbox: claims.SandboxName(c), Ready: claims.IsReady(c), Mine: mine}
	if cond := meta.FindStatusCondition(c.Status.Conditions, claims.ConditionReady); cond != nil {
		out.Reason = cond.Reason
	}
	if lc := c.Spec.Lifecycle; lc != nil && lc.ShutdownTime != nil {
		out.ExpiresAt = lc.ShutdownTime.UTC().Format(time.RFC3339)
	}
	return out
}

func (s *Server) list(ctx context.Context, req *sdk.CallToolRequest, in ListIn) (*sdk.CallToolResult, ListOut, error) {
	out := ListOut{Sandboxes: []SandboxOut{}}
	ns, err := s.namespace(in.Namespace)
	if err != nil {
		return nil, out, err
	}
	sel := in.Selector
	if in.Mine {
		mine := SessionLabel + "=" + s.sessionID(req.Session)
		if sel == "" {
			sel = mine
		} else {
			sel += "," + mine
		}
	}
	list, err := claims.List(ctx, s.clients.Ext, ns, sel)
	if err != nil {
		return nil, out, s.describe(err, "get")
	}
	id := s.sessionID(req.Session)
	for i := range list {
		c := &list[i]
		out.Sandboxes = append(out.Sandboxes, sandboxOut(c, c.Labels[SessionLabel] == id))
	}
	return nil, out, nil
}

// runtime is a Ready claim's runtime, kept across calls (see
// session.Cache).
func (s *Server) runtime(ctx context.Context, ns, name string) (sandbox.Runtime, error) {
	return s.cache(ns).Runtime(ctx, name)
}

func (s *Server) budget(asked int) int {
	switch {
	case asked < 0:
		return 0
	case asked > 0:
		return asked
	}
	return max(s.opts.MaxOutput, 0)
}

func (s *Server) exec(ctx context.Context, req *sdk.CallToolRequest, in ExecIn) (*sdk.CallToolResult, ExecOut, error) {
	ns, err := s.namespace(in.Namespace)
	if err != nil {
		return nil, ExecOut{}, err
	}
	cmd, err := command(in.Command, in.Env, in.Workdir)
	if err != nil {
		return nil, ExecOut{}, err
	}
	rt, err := s.runtime(ctx, ns, in.Name)
	if err != nil {
		return nil, ExecOut{}, s.describe(err, "exec")
	}
	out, err := s.runCommand(ctx, req, rt, cmd, in.Stdin, in.TimeoutSeconds, in.MaxOutputBytes)
	return nil, out, s.describe(err, "exec")
}

// command checks an argv, env and workdir.
func command(argv []string, env map[string]string, workdir string) (sandbox.Command, error) {
	if err := sandbox.CheckArgv(argv); err != nil {
		return sandbox.Command{}, err
	}
	cmd := sandbox.Command{Argv: argv, Env: env}
	if err := sandbox.CheckEnv(env); err != nil {
		return cmd, err
	}
	if workdir != "" {
		wd, err := session.RemotePath(workdir)
		if err != nil {
			return cmd, err
		}
		cmd.Workdir = wd
	}
	return cmd, nil
}

// runCommand runs cmd within the output budget asked for; on a streaming
// runtime, with a progress token, each chunk of output is also sent as a
// progress notification.
func (s *Server) runCommand(ctx context.Context, req *sdk.CallToolRequest, rt sandbox.Runtime, cmd sandbox.Command, stdin string, timeoutSeconds, maxOutput int) (ExecOut, error) {
	res, err := sandbox.Run(ctx, rt, cmd, s.commandIO(ctx, req, stdin, timeoutSeconds, maxOutput))
	if err != nil {
		return ExecOut{}, err
	}
	return execOut(res), nil
}

func execOut(res *sandbox.Result) ExecOut {
	return ExecOut{ExitCode: res.ExitCode, Stdout: res.Stdout, Stderr: res.Stderr, Truncated: res.Truncated}
}

// commandIO is how a tool's command runs: its input, budget, timeout, and
// progress notifications when the call asks for them.
func (s *Server) commandIO(ctx context.Context, req *sdk.CallToolRequest, stdin string, timeoutSeconds, maxOutput int) sandbox.IO {
	o := sandbox.IO{Budget: s.budget(maxOutput), Timeout: time.Duration(max(timeoutSeconds, 0)) * time.Second}
	if stdin != "" {
		o.Stdin = strings.NewReader(stdin)
	}
	if req != nil && req.Params != nil {
		if token := req.Params.GetProgressToken(); token != nil {
			o.Tap = (&progress{ctx: ctx, ss: req.Session, token: token}).send
		}
	}
	return o
}

// progress sends output chunks as progress notifications.
type progress struct {
	ctx   context.Context
	ss    *sdk.ServerSession
	token any
	mu    sync.Mutex
	n     float64
}

// send notifies one chunk of a stream's output; a notification that
// cannot be sent does not stop the command.
func (p *progress) send(stream string, chunk []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	msg := string(chunk)
	if !utf8.ValidString(msg) {
		msg = strings.ToValidUTF8(msg, "\uFFFD")
	}
	_ = p.ss.NotifyProgress(p.ctx, &sdk.ProgressNotificationParams{
		ProgressToken: p.token, Progress: p.n, Message: stream + ": " + msg,
	})
}

func (s *Server) writeFile(ctx context.Context, req *sdk.CallToolRequest, in WriteIn) (*sdk.CallToolResult, WriteOut, error) {
	ns, err := s.namespace(in.Namespace)
	if err != nil {
		return nil, WriteOut{}, err
	}
	data, err := decodeContent(in.Content, in.Encoding)
	if err != nil {
		return nil, WriteOut{}, err
	}
	p, err := filePath(in.Path)
	if err != nil {
		return nil, WriteOut{}, err
	}
	rt, err := s.runtime(ctx, ns, in.Name)
	if err != nil {
		return nil, WriteOut{}, s.describe(err, "cp")
	}
	if err := sandbox.WriteFile(ctx, rt, p, bytes.NewReader(data)); err != nil {
		return nil, WriteOut{}, s.describe(err, "cp")
	}
	return nil, WriteOut{Path: in.Path, Bytes: len(data)}, nil
}

func decodeContent(content, encoding string) ([]byte, error) {
	switch encoding {
	case "", "utf-8", "utf8":
		return []byte(content), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(content)
		if err != nil {
			return nil, fmt.Errorf("content is not valid base64: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("invalid encoding %q: use utf-8 or base64", encoding)
}

// filePath is a file's runtime path; the root itself is not a file.
func filePath(p string) (string, error) {
	rp, err := session.RemotePath(p)
	if err != nil {
		return "", err
	}
	if rp == "" {
		return "", fmt.Errorf("path %q is the sandbox's root directory, not a file", p)
	}
	return rp, nil
}

func (s *Server) readFile(ctx context.Context, req *sdk.CallToolRequest, in ReadIn) (*sdk.CallToolResult, ReadOut, error) {
	ns, err := s.namespace(in.Namespace)
	if err != nil {
		return nil, ReadOut{}, err
	}
	p, err := filePath(in.Path)
	if err != nil {
		return nil, ReadOut{}, err
	}
	rt, err := s.runtime(ctx, ns, in.Name)
	if err != nil {
		return nil, ReadOut{}, s.describe(err, "cat")
	}
	out, err := s.read(ctx, rt, in.Path, p, in.MaxBytes)
	return nil, out, s.describe(err, "cat")
}

func (s *Server) read(ctx context.Context, rt sandbox.Runtime, shown, p string, maxBytes int) (ReadOut, error) {
	limit := s.opts.MaxReadBytes
	if maxBytes > 0 && maxBytes < limit {
		limit = maxBytes
	}
	body, _, err := rt.Download(ctx, p)
	if err != nil {
		return ReadOut{}, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, int64(limit)+1))
	if err != nil {
		return ReadOut{}, fmt.Errorf("reading %s: %w", shown, err)
	}
	out := ReadOut{Path: shown}
	if len(data) > limit {
		data, out.Truncated = data[:limit], true
	}
	out.Bytes = len(data)
	if utf8.Valid(data) {
		out.Content, out.Encoding = string(data), "utf-8"
	} else {
		out.Content, out.Encoding = base64.StdEncoding.EncodeToString(data), "base64"
	}
	return out, nil
}

func (s *Server) listFiles(ctx context.Context, req *sdk.CallToolRequest, in FilesIn) (*sdk.CallToolResult, FilesOut, error) {
	out := FilesOut{Entries: []FileOut{}}
	ns, err := s.namespace(in.Namespace)
	if err != nil {
		return nil, out, err
	}
	p, err := session.RemotePath(in.Path)
	if err != nil {
		return nil, out, err
	}
	rt, err := s.runtime(ctx, ns, in.Name)
	if err != nil {
		return nil, out, s.describe(err, "ls")
	}
	entries, err := rt.List(ctx, p)
	if err != nil {
		return nil, out, s.describe(err, "ls")
	}
	for _, e := range entries {
		f := FileOut{Name: e.Name, Type: e.Type, Size: e.Size}
		if !e.ModTime.IsZero() {
			f.Modified = e.ModTime.UTC().Format(time.RFC3339)
		}
		out.Entries = append(out.Entries, f)
	}
	return nil, out, nil
}

func (s *Server) delete(ctx context.Context, req *sdk.CallToolRequest, in DeleteIn) (*sdk.CallToolResult, DeleteOut, error) {
	ns, err := s.namespace(in.Namespace)
	if err != nil {
		return nil, DeleteOut{}, err
	}
	id, ok := s.owns(ns, in.Name)
	if !ok {
		return nil, DeleteOut{}, fmt.Errorf("sandboxclaim %q in namespace %s was not created by this MCP server; it deletes only its own (use kubectl sandbox delete)", in.Name, ns)
	}
	if _, err := claims.DeleteAll(ctx, s.clients.Ext, ns, []string{in.Name}, claims.DeleteOptions{Wait: true, Timeout: claims.CleanupTimeout}); err != nil {
		return nil, DeleteOut{}, s.describe(err, "delete")
	}
	s.untrack(id, ns, in.Name)
	s.cache(ns).Forget(in.Name)
	return nil, DeleteOut{Deleted: in.Name}, nil
}

func (s *Server) run(ctx context.Context, req *sdk.CallToolRequest, in RunIn) (*sdk.CallToolResult, RunOut, error) {
	ns, err := s.namespace(in.Namespace)
	if err != nil {
		return nil, RunOut{}, err
	}
	cmd, err := command(in.Command, in.Env, "")
	if err != nil {
		return nil, RunOut{}, err
	}
	// Every path is checked before a sandbox is made for them.
	writes, reads := map[string]string{}, map[string]string{}
	for p := range in.Files {
		if writes[p], err = filePath(p); err != nil {
			return nil, RunOut{}, err
		}
	}
	for _, p := range in.Read {
		if reads[p], err = filePath(p); err != nil {
			return nil, RunOut{}, err
		}
	}
	id := s.sessionID(req.Session)
	spec, err := s.claimSpec(ctx, ns, id, CreateIn{Pool: in.Pool, Template: in.Template})
	if err != nil {
		return nil, RunOut{}, s.describe(err, "run")
	}
	var out RunOut
	outcome, err := oneshot.Run(ctx, s.clients, s.opts.Session, oneshot.Plan{
		Claim: claims.NewClaim(spec, s.opts.Now()), ReadyTimeout: s.opts.ReadyTimeout,
		Command: cmd, IO: s.commandIO(ctx, req, in.Stdin, in.TimeoutSeconds, in.MaxOutputBytes),
		Before: func(ctx context.Context, rt sandbox.Runtime) error {
			for p, content := range in.Files {
				if err := sandbox.WriteFile(ctx, rt, writes[p], strings.NewReader(content)); err != nil {
					return err
				}
			}
			return nil
		},
		After: func(ctx context.Context, rt sandbox.Runtime) error {
			for _, p := range in.Read {
				f, err := s.read(ctx, rt, p, reads[p], 0)
				if err != nil {
					return err
				}
				if out.Files == nil {
					out.Files = map[string]ReadOut{}
				}
				out.Files[p] = f
			}
			return nil
		},
	}, oneshot.Hooks{WaitHooks: s.tracking(id, ns, &out.Sandbox)})
	s.forget(id, ns, out.Sandbox, err)
	if outcome.Result != nil {
		out.ExecOut = execOut(outcome.Result)
	}
	return nil, out, s.describe(err, "run")
}
