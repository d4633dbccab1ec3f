package podexectest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
)

// Listener listens on loopback, as a pod's server would, and hands each
// connection it accepts to the test. It closes, with the connections the
// test did not take, when the test ends.
func Listener(t testing.TB) (port int, conns <-chan net.Conn) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		_ = lis.Close()
		<-done
		close(accepted)
		for c := range accepted {
			_ = c.Close()
		}
	})
	return lis.Addr().(*net.TCPAddr).Port, accepted
}

// RelayTo runs each relay's command as the pod's shell relay does, in Go,
// but to addr ("": 127.0.0.1 at the relay's port); see Relay. Each exec's
// container goes to containers, if set.
func RelayTo(addr string, containers chan<- string) Run {
	return Relay(func(port int) (string, bool) {
		if addr == "" {
			return fmt.Sprintf("127.0.0.1:%d", port), true
		}
		return addr, true
	}, containers)
}

// RelayToPorts is Relay to addrs[port] (pod port -> address); a port not
// in addrs has nothing listening.
func RelayToPorts(addrs map[string]string) Run {
	return Relay(func(port int) (string, bool) {
		addr, ok := addrs[strconv.Itoa(port)]
		return addr, ok
	}, nil)
}

// Relay runs each relay's command as the pod's shell relay does, in Go:
// it connects to the address addrOf gives for the relay's port, says so
// when nothing accepts there (exit podexec.ExitRefused), writes
// podexec.Ready, then copies both ways until either side ends. Any other
// command cannot start. Each exec's container goes to containers, if set.
func Relay(addrOf func(port int) (string, bool), containers chan<- string) Run {
	return func(e *Exec) (int, error) {
		if containers != nil {
			containers <- e.Container
		}
		port, ok := podexec.RelayPort(e.Command)
		if !ok {
			return 0, fmt.Errorf("exec: %q: executable file not found in $PATH", e.Command[0])
		}
		var c net.Conn
		err := errors.New("nothing listens")
		if addr, ok := addrOf(port); ok {
			c, err = net.Dial("tcp", addr)
		}
		if err != nil {
			fmt.Fprintf(e.Stderr, "nothing accepts connections on 127.0.0.1:%d\n", port)
			return podexec.ExitRefused, nil
		}
		defer func() { _ = c.Close() }()
		if _, err := io.WriteString(e.Stdout, podexec.Ready); err != nil {
			return 1, nil
		}
		ended := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(c, e.Stdin); ended <- struct{}{} }()
		go func() { _, _ = io.Copy(e.Stdout, c); ended <- struct{}{} }()
		select {
		case <-ended:
		case <-e.Context.Done():
		}
		return 0, nil
	}
}
