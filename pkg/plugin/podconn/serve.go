package podconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
)

// Route is a local listener whose connections go to Port in the pod.
type Route struct {
	Listener net.Listener
	Port     int
}

// Serve passes each connection accepted on the routes' listeners to its
// port through d, copying both ways, until ctx ends (its cause is
// returned) or a connection fails in a way every next one would: RBAC
// refuses d's transport (a *kube.ForbiddenError), or no relay can start in
// the container (a *podexec.NoRelayError); that error is returned. warn
// hears of every other connection that could not be passed on (nothing
// listens on the port yet, say). Serve closes the listeners, and returns
// once every connection it passed on has ended.
func Serve(ctx context.Context, d Dialer, routes []Route, warn func(error)) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var conns sync.WaitGroup
	defer conns.Wait()
	var accepting sync.WaitGroup
	for _, r := range routes {
		accepting.Go(func() {
			for {
				c, err := r.Listener.Accept()
				if err != nil {
					if ctx.Err() == nil {
						stop(err)
					}
					return
				}
				conns.Go(func() {
					if err := pass(ctx, d, c, r.Port); err != nil {
						if fatal(err) {
							stop(err)
						} else if ctx.Err() == nil {
							warn(err)
						}
					}
				})
			}
		})
	}
	<-ctx.Done()
	for _, r := range routes {
		_ = r.Listener.Close()
	}
	accepting.Wait()
	return context.Cause(ctx)
}

// fatal says whether every next connection would fail as err did.
func fatal(err error) bool {
	_, forbidden := errors.AsType[*kube.ForbiddenError](err)
	_, noRelay := errors.AsType[*podexec.NoRelayError](err)
	return forbidden || noRelay
}

// pass copies between local and a new connection to port until either
// side ends (which ends both) or ctx does.
func pass(ctx context.Context, d Dialer, local net.Conn, port int) error {
	defer func() { _ = local.Close() }()
	remote, err := d.DialPort(ctx, port)
	if err != nil {
		return err
	}
	defer func() { _ = remote.Close() }()
	stop := context.AfterFunc(ctx, func() {
		_ = local.Close()
		_ = remote.Close()
	})
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(remote, local)
		// A relay cannot half-close the pod's side (its input ending ends
		// it): the local side's end ends the connection.
		_ = remote.Close()
	}()
	_, _ = io.Copy(local, remote)
	_ = local.Close()
	<-done
	return nil
}

// Listen listens on every address for each LOCAL:REMOTE pair, as kubectl
// port-forward does: LOCAL 0 is a free port, the same one on every
// address. On an error, what it opened is closed.
func Listen(addresses []string, pairs [][2]int) ([]Route, error) {
	var routes []Route
	for _, p := range pairs {
		local := p[0]
		for _, a := range addresses {
			lis, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(local)))
			if err != nil {
				for _, r := range routes {
					_ = r.Listener.Close()
				}
				return nil, fmt.Errorf("unable to listen on port %d: %w", local, err)
			}
			local = lis.Addr().(*net.TCPAddr).Port
			routes = append(routes, Route{Listener: lis, Port: p[1]})
		}
	}
	return routes, nil
}
