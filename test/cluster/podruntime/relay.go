package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// relayMain is `podruntime relay [--netns-file FILE] [--host HOST] --port
// PORT`: the command of a pod's kwok PortForward. kwok runs it for each
// connection of a port-forward with the connection's stream as its stdin and
// stdout; it connects to HOST:PORT (HOST defaults to 127.0.0.1) inside the
// pod's network namespace (that of the process recorded in FILE by
// podruntime; without FILE, in the host's, for python pods) and copies both
// ways until the pod's side closes. When stdin ends (the client closed its
// side), it closes the write side of the connection and goes on copying the
// pod's answer, so a half-close reaches the pod and the end of the answer
// reaches the client.
//
// With --any-port instead of --port it is the command of the PortForward's
// default forward, which kwok runs for a port the PortForward does not list
// (without telling which): a port the pod began to listen on since
// podruntime last wrote the PortForward (see watchPorts). It waits up to
// --wait for exactly one port outside --known (the listed ones) to listen
// in the pod (in FILE's network namespace; for a python pod, --pid-file
// names its runtime, whose processes' sockets count) and relays to it;
// none, or more than one, is an error.
func relayMain(args []string) int {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	netnsFile := fs.String("netns-file", "", "file naming the process whose network namespace to enter (written by podruntime)")
	pidFile := fs.String("pid-file", "", "with --any-port, for a python pod: file naming its runtime process (written by podruntime)")
	host := fs.String("host", "127.0.0.1", "IP address to connect to in that namespace (with --any-port and --pid-file: the pod's IP)")
	port := fs.Int("port", 0, "port to connect to in that namespace")
	anyPort := fs.Bool("any-port", false, "connect to the one port outside --known the pod listens on")
	known := fs.String("known", "", "with --any-port: the ports not to consider, comma-separated")
	wait := fs.Duration("wait", 2*time.Second, "with --any-port: how long to wait for such a port")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout for the connection")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if net.ParseIP(*host) == nil || fs.NArg() != 0 || *anyPort == (*port != 0) || *port < 0 || *port > 65535 ||
		(*anyPort && (*netnsFile == "") == (*pidFile == "")) {
		fmt.Fprintln(os.Stderr, "usage: podruntime relay [--netns-file FILE] [--host IP] --port PORT\n"+
			"       podruntime relay (--netns-file FILE | --pid-file FILE --host POD_IP) --any-port [--known PORT,...] [--wait D]")
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "podruntime relay: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	netnsPid := 0
	if *netnsFile != "" {
		var err error
		if netnsPid, err = readNetns(*netnsFile); err != nil {
			return fail(err)
		}
	}
	f := forward{port: int32(*port), host: *host}
	if *anyPort {
		var err error
		if f, err = newPort(*netnsFile, *pidFile, *host, parsePorts(*known), *wait); err != nil {
			return fail(err)
		}
	}
	addr := net.JoinHostPort(f.host, strconv.Itoa(int(f.port)))
	var conn net.Conn
	var err error
	if netnsPid == 0 {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", addr)
	} else {
		conn, err = dialInNetns(ctx, netnsPid, addr)
	}
	if err != nil {
		return fail(fmt.Errorf("port %d of the pod: %w", f.port, err))
	}
	if err := relay(conn.(*net.TCPConn), os.Stdin, os.Stdout); err != nil {
		return fail(fmt.Errorf("port %d of the pod: %w", f.port, err))
	}
	return 0
}

// parsePorts reads a comma-separated list of ports (skipping what is not one).
func parsePorts(s string) []int32 {
	var out []int32
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 && n < 65536 {
			out = append(out, int32(n))
		}
	}
	return out
}

// newPort waits up to wait for the pod to listen on exactly one port not in
// known, and returns it (see relayMain): the pod's sockets are those of the
// network namespace of the process in netnsFile (sandboxd), or those the
// processes of the runtime in pidFile hold (python, on podIP).
func newPort(netnsFile, pidFile, podIP string, known []int32, wait time.Duration) (forward, error) {
	deadline := time.Now().Add(wait)
	for {
		var fws []forward
		if netnsFile != "" {
			pid, err := readNetns(netnsFile)
			if err != nil {
				return forward{}, err
			}
			socks, err := readListening(pid)
			if err != nil {
				return forward{}, err
			}
			fws = sandboxdForwards(socks)
		} else {
			pid, err := readNetns(pidFile)
			if err != nil {
				return forward{}, err
			}
			socks, err := readListening(pid)
			if err != nil {
				return forward{}, err
			}
			fws = pythonForwards(socks, socketInodes(pid), podIP)
		}
		fws = slices.DeleteFunc(fws, func(f forward) bool { return slices.Contains(known, f.port) })
		switch {
		case len(fws) == 1:
			return fws[0], nil
		case len(fws) > 1:
			return forward{}, fmt.Errorf("the port asked for is not one the pod's port-forward lists yet, and the pod has begun to listen on several (%v): which one is unknown; try again", forwardPorts(nil, fws))
		case time.Now().After(deadline):
			return forward{}, fmt.Errorf("nothing in the pod listens on the port asked for (its port-forward lists %v)", known)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// relay copies in to conn and conn to out. It returns once the pod's side
// of conn has ended (EOF or an error) and all of it was written to out,
// closing conn and then out (when out is an io.Closer). When in ends first,
// the write side of conn is closed (a half-close) and the copy from conn
// goes on; when copying from in fails, conn is closed.
func relay(conn *net.TCPConn, in io.Reader, out io.Writer) error {
	defer func() { _ = conn.Close() }()
	go func() {
		if _, err := io.Copy(conn, in); err != nil {
			_ = conn.Close()
			return
		}
		_ = conn.CloseWrite()
	}()
	_, err := io.Copy(out, conn)
	if c, ok := out.(io.Closer); ok {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	if errors.Is(err, net.ErrClosed) {
		// conn was closed above: the copy from in failed, so the client
		// is gone.
		err = nil
	}
	return err
}
