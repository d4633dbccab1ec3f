package cmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// ProxyOptions serves a local HTTP listener that forwards to a port of a
// sandbox through the router.
type ProxyOptions struct {
	Connect ConnectFlags
	Address string
	Port    int

	claim, namespace string
	remote           int
	session          session.Options

	Clients Factory
	genericiooptions.IOStreams
}

// NewCmdProxy returns `kubectl sandbox proxy`.
func NewCmdProxy(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ProxyOptions{Clients: f, IOStreams: streams, Address: "127.0.0.1"}
	cmd := &cobra.Command{
		Use:   "proxy CLAIM PORT [--address ADDR] [--port LOCAL_PORT]",
		Short: "Serve a sandbox's HTTP port locally, through the sandbox router",
		Long: `Serve a local HTTP listener that passes every request, WebSockets included,
to PORT of a claim's sandbox through the sandbox router (X-Sandbox-Port), the
same three ways the data-plane verbs reach the router. It needs no
pods/portforward right on the sandbox's pod. The router's token, if any,
replaces a request's Authorization header. It runs until Ctrl-C.`,
		Example: `  # A web app the agent started on port 8000, at the printed local URL
  kubectl sandbox proxy my-sandbox 8000

  # On a fixed local port, through a Gateway
  kubectl sandbox proxy my-sandbox 8000 --port 8080 --gateway external-http-gateway`,
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeNames(f, listClaimNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Connect.AddFlags(cmd)
	cmd.Flags().StringVar(&o.Address, "address", o.Address, "The local address to listen on")
	cmd.Flags().IntVar(&o.Port, "port", 0, "The local port to listen on (0: a free one)")
	return cmd
}

// Complete takes the claim, the router flags, the namespace and the port.
func (o *ProxyOptions) Complete(args []string) error {
	o.claim = args[0]
	var err error
	if o.session, o.namespace, err = o.Connect.Complete(o.Clients); err != nil {
		return err
	}
	if o.remote, err = strconv.Atoi(args[1]); err != nil || o.remote < 1 || o.remote > 65535 {
		return fmt.Errorf("invalid port %q: must be 1-65535", args[1])
	}
	return nil
}

// Validate checks the claim, the local port and the address; it makes no
// API calls.
func (o *ProxyOptions) Validate() error {
	if err := validateName("claim", o.claim); err != nil {
		return err
	}
	if o.Port < 0 || o.Port > 65535 {
		return fmt.Errorf("invalid --port %d: must be 0-65535", o.Port)
	}
	if o.Address != "localhost" && net.ParseIP(o.Address) == nil {
		return fmt.Errorf("invalid --address %q: use an IP address or localhost", o.Address)
	}
	return nil
}

// Run serves until ctx ends.
func (o *ProxyOptions) Run(ctx context.Context) error {
	clients, err := o.Clients.Clients()
	if err != nil {
		return err
	}
	s := session.New(clients, o.namespace, o.session)
	defer s.Close()
	handler, err := s.Proxy(ctx, o.claim, o.remote, func(r *http.Request, err error) {
		fmt.Fprintf(o.ErrOut, "error: %s %s: %v\n", r.Method, r.URL.Path, err)
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.Address, strconv.Itoa(o.Port)))
	if err != nil {
		return fmt.Errorf("listening on %s: %w", net.JoinHostPort(o.Address, strconv.Itoa(o.Port)), err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	fmt.Fprintf(o.Out, "Serving sandboxclaim %s port %d on http://%s/\n", o.claim, o.remote, ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return context.Cause(ctx)
}
