package cmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/mcp"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/version"
)

// MCPOptions serves the tools over MCP.
type MCPOptions struct {
	Connect                    ConnectFlags
	HTTP                       string
	AllowPools, AllowTemplates []string
	AllowNamespace, Keep       bool
	TTL, ReadyTimeout          time.Duration
	HTTPSessionTimeout         time.Duration
	MaxOutput, MaxReadBytes    int

	namespace string
	listen    string // --http, with its host
	session   session.Options

	Clients Factory
	genericiooptions.IOStreams
}

// NewCmdMCP returns `kubectl sandbox mcp`.
func NewCmdMCP(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &MCPOptions{Clients: f, IOStreams: streams, TTL: mcp.DefaultTTL, ReadyTimeout: mcp.DefaultReadyTimeout,
		MaxOutput: mcp.DefaultMaxOutput, MaxReadBytes: mcp.DefaultMaxReadBytes, HTTPSessionTimeout: 10 * time.Minute}
	cmd := &cobra.Command{
		Use:   "mcp [--http ADDR]",
		Short: "Serve sandboxes to AI agents over the Model Context Protocol",
		Long: `Serve tools to create sandboxes, run commands, move files and delete them
over the Model Context Protocol: on stdin and stdout, or with --http ADDR
over the streamable HTTP transport (on loopback unless ADDR names a host).

The tools act with your kubeconfig's identity, context and namespace: the
cluster's RBAC decides what an agent may do. Every sandbox the server
creates expires at --ttl and carries the label kubectl-sandbox/mcp-session;
when the session ends (stdin closed, the client gone, SIGTERM) they are
deleted, unless --keep. Over HTTP, a session idle for --http-session-timeout
ends too. After stdin closes, calls still running get 5s to finish; then
they are cancelled.`,
		Example: `  # For an MCP client's configuration: {"command": "kubectl", "args": ["sandbox", "mcp"]}
  kubectl sandbox mcp

  # Only the python pool, over HTTP on 127.0.0.1:8765 (endpoint /mcp)
  kubectl sandbox mcp --http :8765 --allow-pool python`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Connect.AddFlags(cmd)
	fs := cmd.Flags()
	fs.StringVar(&o.HTTP, "http", "", "Serve the streamable HTTP transport on this address (HOST:PORT; :PORT means 127.0.0.1:PORT) instead of stdio")
	fs.StringArrayVar(&o.AllowPools, "allow-pool", nil, "Allow claiming only from this pool (repeatable; with --allow-template, either may match)")
	fs.StringArrayVar(&o.AllowTemplates, "allow-template", nil, "Allow claiming only pools of this template (repeatable)")
	fs.DurationVar(&o.HTTPSessionTimeout, "http-session-timeout", o.HTTPSessionTimeout, "With --http, end a session idle this long (its sandboxes are then deleted); 0: never")
	fs.BoolVar(&o.AllowNamespace, "allow-namespace", false, "Let tool calls name another namespace than the current one")
	fs.BoolVar(&o.Keep, "keep", false, "Keep the sandboxes a session created when it ends")
	fs.DurationVar(&o.TTL, "ttl", o.TTL, "Expiry of the sandboxes the server creates (a tool call may ask for less)")
	fs.DurationVar(&o.ReadyTimeout, "ready-timeout", o.ReadyTimeout, "How long a created sandbox may take to become Ready")
	fs.IntVar(&o.MaxOutput, "max-output", o.MaxOutput, "Default budget of a command's stdout and of its stderr, in bytes (head and tail kept; -1: everything)")
	fs.IntVar(&o.MaxReadBytes, "max-read-bytes", o.MaxReadBytes, "Most bytes sandbox_read_file returns")
	return cmd
}

// Complete reads the router flags and the namespace, and the address to
// serve HTTP on (:PORT is 127.0.0.1:PORT).
func (o *MCPOptions) Complete() error {
	var err error
	if o.session, o.namespace, err = o.Connect.Complete(o.Clients); err != nil {
		return err
	}
	if o.HTTP != "" {
		o.listen, err = listenAddress(o.HTTP)
	}
	return err
}

// listenAddress is the address of --http: HOST:PORT, or :PORT on loopback.
func listenAddress(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("invalid --http %q: use HOST:PORT or :PORT", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Validate checks the flags; it makes no API calls.
func (o *MCPOptions) Validate() error {
	if err := validateNames("pool", o.AllowPools); err != nil {
		return err
	}
	if err := validateNames("template", o.AllowTemplates); err != nil {
		return err
	}
	switch {
	case o.TTL <= 0:
		return errors.New("--ttl must be positive: the server's sandboxes always expire")
	case o.ReadyTimeout <= 0:
		return errors.New("--ready-timeout must be positive")
	case o.MaxOutput < -1 || o.MaxOutput == 0:
		return errors.New("--max-output must be positive, or -1 for everything")
	case o.MaxReadBytes <= 0:
		return errors.New("--max-read-bytes must be positive")
	case o.HTTPSessionTimeout < 0:
		return errors.New("--http-session-timeout must not be negative")
	}
	return nil
}

// Run serves until the client goes (stdio: end of input) or ctx ends, then
// deletes what the sessions created.
func (o *MCPOptions) Run(ctx context.Context) error {
	clients, err := o.Clients.Clients()
	if err != nil {
		return err
	}
	srv := mcp.New(clients, mcp.Options{
		Namespace: o.namespace, AllowNamespace: o.AllowNamespace, AllowPools: o.AllowPools, AllowTemplates: o.AllowTemplates,
		TTL: o.TTL, Keep: o.Keep, MaxOutput: o.MaxOutput, MaxReadBytes: o.MaxReadBytes, ReadyTimeout: o.ReadyTimeout,
		Session: o.session, Version: version.Get().Version, Describe: describeToolError, Now: clock,
	})
	m := srv.MCP()
	if o.listen == "" {
		err = m.Run(ctx, mcp.StdioTransport(o.In, o.Out, shutdownGrace))
	} else {
		err = o.serveHTTP(ctx, m)
	}
	if cerr := srv.Cleanup(); cerr != nil {
		return errors.Join(err, cerr)
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// shutdownGrace is how long calls under way may take to finish once the
// client is gone (the end of input, on stdio) or the server is stopped
// (over HTTP); then the server stops waiting for them (stdio cancels
// them) and deletes its sandboxes.
const shutdownGrace = 5 * time.Second

func (o *MCPOptions) serveHTTP(ctx context.Context, m *sdk.Server) error {
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.listen, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return m },
		&sdk.StreamableHTTPOptions{SessionTimeout: o.HTTPSessionTimeout}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	fmt.Fprintf(o.ErrOut, "Serving MCP on http://%s/mcp\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	_ = hs.Shutdown(sctx)
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
