package cmd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/mcp"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
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
	HTTPTokenFile              string
	HTTPCertFile, HTTPKeyFile  string
	HTTPAllowPlaintext         bool
	HTTPMaxBodyBytes           int64
	DebugAddr                  string

	namespace string
	listen    string // --http, with its host
	session   session.Options
	// token is read from --http-token-file or the environment, never
	// from a flag's value (process lists show those).
	token string
	tls   *tls.Config

	Clients Factory
	genericiooptions.IOStreams
}

// NewCmdMCP returns `kubectl sandbox mcp`.
func NewCmdMCP(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &MCPOptions{Clients: f, IOStreams: streams, TTL: mcp.DefaultTTL, ReadyTimeout: mcp.DefaultReadyTimeout,
		MaxOutput: mcp.DefaultMaxOutput, MaxReadBytes: mcp.DefaultMaxReadBytes, HTTPSessionTimeout: 10 * time.Minute,
		HTTPMaxBodyBytes: mcp.DefaultMaxBodyBytes}
	cmd := &cobra.Command{
		Use:   "mcp [--http ADDR]",
		Short: "Serve sandboxes to AI agents over the Model Context Protocol",
		Long: `Serve tools to create sandboxes, run commands, move files and delete them
over the Model Context Protocol: on stdin and stdout, or with --http ADDR
over the streamable HTTP transport (on loopback unless ADDR names a host).

Over HTTP, a request must carry the bearer token of --http-token-file or
$KUBECTL_SANDBOX_MCP_TOKEN when one is set (401 otherwise); on an address
that is not loopback the token is required, and so is TLS (--tls-cert-file
and --tls-key-file) unless --http-allow-plaintext. Cross-origin requests
(from a browser's page) are refused (403), and request bodies are bounded
(--http-max-body-bytes, 413).

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
  kubectl sandbox mcp --http :8765 --allow-pool python

  # For agents on other machines: every address, a token, TLS
  kubectl sandbox mcp --http 0.0.0.0:8765 --http-token-file token --tls-cert-file tls.crt --tls-key-file tls.key`,
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
	fs.StringVar(&o.HTTPTokenFile, "http-token-file", "", "With --http, a file holding the bearer token every request must carry (or $"+envMCPToken+"); required off loopback")
	fs.StringVar(&o.HTTPCertFile, "tls-cert-file", "", "With --http, serve HTTPS with this certificate (PEM; with --tls-key-file); required off loopback")
	fs.StringVar(&o.HTTPKeyFile, "tls-key-file", "", "With --http, the private key of --tls-cert-file (PEM)")
	fs.BoolVar(&o.HTTPAllowPlaintext, "http-allow-plaintext", false, "Allow --http off loopback without TLS (behind a proxy that terminates TLS)")
	fs.Int64Var(&o.HTTPMaxBodyBytes, "http-max-body-bytes", o.HTTPMaxBodyBytes, "With --http, refuse request bodies larger than this (413)")
	fs.StringVar(&o.DebugAddr, "debug-addr", "", "Serve the server's profiles (pprof, /debug/pprof/) on this loopback HOST:PORT")
	_ = fs.MarkHidden("debug-addr")
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

// envMCPToken gives the bearer token of --http when --http-token-file
// does not.
const envMCPToken = "KUBECTL_SANDBOX_MCP_TOKEN"

// minTokenLength is the shortest bearer token taken: a guessable one would
// protect nothing.
const minTokenLength = 16

// mcpReadyGrace is how long a tool call waits for a sandbox whose pod is
// not ready (starting, or failing its readiness probe on a busy node)
// before it says the sandbox is not Ready: an agent's loop should not fail
// on a probe's blip.
const mcpReadyGrace = 15 * time.Second

// Complete reads the router flags and the namespace, the address to serve
// HTTP on (:PORT is 127.0.0.1:PORT), its token (from --http-token-file or
// the environment) and its TLS certificate.
func (o *MCPOptions) Complete() error {
	var err error
	if o.session, o.namespace, err = o.Connect.Complete(o.Clients); err != nil {
		return err
	}
	o.session.ReadyGrace = mcpReadyGrace
	if o.HTTP == "" {
		return nil
	}
	if o.listen, err = listenAddress(o.HTTP); err != nil {
		return err
	}
	o.token = os.Getenv(envMCPToken)
	if o.HTTPTokenFile != "" {
		b, err := os.ReadFile(o.HTTPTokenFile)
		if err != nil {
			return fmt.Errorf("reading --http-token-file: %w", err)
		}
		o.token = string(b)
	}
	o.token = strings.TrimSpace(o.token)
	if o.HTTPCertFile != "" && o.HTTPKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.HTTPCertFile, o.HTTPKeyFile)
		if err != nil {
			return fmt.Errorf("loading --tls-cert-file and --tls-key-file: %w", err)
		}
		o.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return nil
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
	if o.DebugAddr != "" {
		if host, _, err := net.SplitHostPort(o.DebugAddr); err != nil || !router.IsLoopback(host) {
			return fmt.Errorf("invalid --debug-addr %q: use a loopback HOST:PORT (profiles show the server's insides)", o.DebugAddr)
		}
	}
	return o.validateHTTP()
}

// validateHTTP checks what keeps --http safe: off loopback, a token and
// TLS (unless --http-allow-plaintext).
func (o *MCPOptions) validateHTTP() error {
	if o.HTTP == "" {
		if o.HTTPTokenFile != "" || o.HTTPCertFile != "" || o.HTTPKeyFile != "" {
			return errors.New("--http-token-file, --tls-cert-file and --tls-key-file need --http")
		}
		return nil
	}
	host, _, _ := net.SplitHostPort(o.listen)
	exposed := !router.IsLoopback(host)
	switch {
	case (o.HTTPCertFile == "") != (o.HTTPKeyFile == ""):
		return errors.New("give both --tls-cert-file and --tls-key-file, or neither")
	case o.HTTPMaxBodyBytes <= 0:
		return errors.New("--http-max-body-bytes must be positive")
	case o.token != "" && (len(o.token) < minTokenLength || strings.ContainsAny(o.token, " \t\r\n")):
		return fmt.Errorf("the bearer token of --http-token-file or $%s must be at least %d characters, without white space (make one with: openssl rand -hex 32)", envMCPToken, minTokenLength)
	case exposed && o.token == "":
		return fmt.Errorf("--http %s serves other machines: it needs a bearer token in a file (--http-token-file) or in $%s (make one with: openssl rand -hex 32)", o.listen, envMCPToken)
	case exposed && o.tls == nil && !o.HTTPAllowPlaintext:
		return fmt.Errorf("--http %s serves other machines: it needs TLS (--tls-cert-file and --tls-key-file), or --http-allow-plaintext behind a proxy that terminates TLS", o.listen)
	}
	return nil
}

// Run serves until the client goes (stdio: end of input) or ctx ends, then
// deletes what the sessions created.
func (o *MCPOptions) Run(ctx context.Context) error {
	serverGC(os.LookupEnv)
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
	if o.DebugAddr != "" {
		stop, err := o.serveDebug()
		if err != nil {
			return err
		}
		defer stop()
	}
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

// mcpGCPercent is the server's GOGC unless the environment sets one. An
// agent's calls are many and small on a live heap of about 3 MB: at Go's
// default (100, a 4 MB floor) the collector ran every ten or so calls
// (GODEBUG=gctrace=1, 2026-12-07: 3-5 ms and 3-6 ms of CPU each on 2
// cores, as much as the call's own work in the MCP SDK). At 400 it runs
// about every forty, for some 12 MB more of heap.
const mcpGCPercent = 400

// serverGC sets the collector's target for a long-lived server, unless
// the user set GOGC (lookup is os.LookupEnv). It returns the percent set,
// or -1 when it left the runtime's.
func serverGC(lookup func(string) (string, bool)) int {
	if _, set := lookup("GOGC"); set {
		return -1
	}
	debug.SetGCPercent(mcpGCPercent)
	return mcpGCPercent
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
	scheme := "http"
	if o.tls != nil {
		scheme = "https"
		ln = tls.NewListener(ln, o.tls)
	}
	hs := &http.Server{
		Handler: mcp.HTTPHandler(m, mcp.HTTPOptions{Token: o.token, MaxBodyBytes: o.HTTPMaxBodyBytes, SessionTimeout: o.HTTPSessionTimeout}),
		// Bounded headers, and no client may hold a connection open
		// without sending them.
		ReadHeaderTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10,
	}
	// The address asked for, with the port the system picked for :0.
	host, _, _ := net.SplitHostPort(o.listen)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	fmt.Fprintf(o.ErrOut, "Serving MCP on %s://%s%s\n", scheme, net.JoinHostPort(host, port), mcp.Path)
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

// serveDebug serves the server's profiles on --debug-addr until stop.
func (o *MCPOptions) serveDebug() (stop func(), err error) {
	ln, err := net.Listen("tcp", o.DebugAddr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", o.DebugAddr, err)
	}
	hs := &http.Server{Handler: mcp.DebugHandler(), ReadHeaderTimeout: 30 * time.Second}
	fmt.Fprintf(o.ErrOut, "Serving profiles on http://%s/debug/pprof/\n", ln.Addr())
	done := make(chan struct{})
	go func() {
		_ = hs.Serve(ln)
		close(done)
	}()
	return func() {
		_ = hs.Close()
		<-done
	}, nil
}
