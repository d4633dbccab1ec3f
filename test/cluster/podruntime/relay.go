package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

// relayMain is `podruntime relay --netns-file FILE --port PORT`: the command
// of a sandboxd pod's kwok PortForward. kwok runs it for each connection of
// a port-forward with the connection's stream as its stdin and stdout; it
// connects to 127.0.0.1:PORT inside the pod's network namespace (that of
// the process recorded in FILE by podruntime) and copies both ways until
// the pod's side closes. When stdin ends (the client closed its side), it
// closes the write side of the connection and goes on copying the pod's
// answer, so a half-close reaches the pod and the end of the answer reaches
// the client.
func relayMain(args []string) int {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	netnsFile := fs.String("netns-file", "", "file naming the process whose network namespace to enter (written by podruntime)")
	port := fs.Int("port", 0, "port to connect to on 127.0.0.1 in that namespace")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout for the connection")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *netnsFile == "" || *port <= 0 || *port > 65535 || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: podruntime relay --netns-file FILE --port PORT")
		return 2
	}
	pid, err := readNetns(*netnsFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "podruntime relay: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	conn, err := dialInNetns(ctx, pid, net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "podruntime relay: port %d of the pod: %v\n", *port, err)
		return 1
	}
	if err := relay(conn.(*net.TCPConn), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "podruntime relay: port %d of the pod: %v\n", *port, err)
		return 1
	}
	return 0
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
