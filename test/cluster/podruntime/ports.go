package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
)

// Any port of a pod is reachable with `kubectl port-forward`, as with a
// real kubelet: kwok does not tell the command of a forward without ports
// which port was asked for, so podruntime watches the TCP sockets that
// listen in each pod (every portPollInterval) and keeps the pod's
// PortForward in step, one forward per listening port besides the static
// ones (see staticForwards).
//
//   - sandboxd pods: every LISTEN socket of the pod's network namespace
//     (/proc/<holder>/net/tcp and tcp6); the relay dials it inside that
//     namespace, on 127.0.0.1 for a wildcard or 127.0.0.1 socket.
//   - python pods share the host's network: the LISTEN sockets that a
//     process of the pod holds (a descendant of the runtime's bubblewrap)
//     bound to the pod's IP or a wildcard address (dialled on the pod's IP),
//     or to 127.0.0.1 or ::1 (dialled there).
const portPollInterval = 300 * time.Millisecond

// forward is one port of a pod's PortForward and the address the relay
// dials for it (in the pod's network namespace for sandboxd pods).
type forward struct {
	port int32
	host string
}

// listenSocket is one LISTEN line of /proc/net/tcp or tcp6.
type listenSocket struct {
	addr  netip.Addr
	port  uint16
	inode uint64
}

// tcpListen is the state of a listening socket in /proc/net/tcp{,6}.
const tcpListen = "0A"

// parseProcNetTCP returns the LISTEN sockets of a /proc/net/tcp or
// /proc/net/tcp6 table (lines it cannot read are skipped).
func parseProcNetTCP(data []byte) []listenSocket {
	var out []listenSocket
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != tcpListen {
			continue
		}
		addr, port, ok := parseHexAddr(f[1])
		if !ok {
			continue
		}
		inode, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, listenSocket{addr: addr, port: port, inode: inode})
	}
	return out
}

// parseHexAddr reads a /proc/net/tcp{,6} address, "0100007F:1F90": the IP
// as 32-bit words in host byte order, then the port in hex.
func parseHexAddr(s string) (netip.Addr, uint16, bool) {
	ipHex, portHex, ok := strings.Cut(s, ":")
	if !ok || (len(ipHex) != 8 && len(ipHex) != 32) {
		return netip.Addr{}, 0, false
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	raw, err := hex.DecodeString(ipHex)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	ip := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(ip[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(ip)
	return addr, uint16(port), true
}

// readListening returns the LISTEN sockets of the network namespace of
// process pid.
func readListening(pid int) ([]listenSocket, error) {
	var out []listenSocket
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			if table == "tcp6" && errors.Is(err, os.ErrNotExist) {
				continue // no IPv6
			}
			return nil, err
		}
		out = append(out, parseProcNetTCP(b)...)
	}
	return out, nil
}

// socketInodes returns the inodes of the sockets that process root and its
// descendants hold open.
func socketInodes(root int) map[uint64]bool {
	inodes := map[uint64]bool{}
	queue := []int{root}
	for seen := 0; len(queue) > 0 && seen < 10000; seen++ {
		pid := queue[0]
		queue = queue[1:]
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		fds, _ := os.ReadDir(dir)
		for _, fd := range fds {
			l, err := os.Readlink(dir + "/" + fd.Name())
			if err != nil || !strings.HasPrefix(l, "socket:[") {
				continue
			}
			if n, err := strconv.ParseUint(strings.TrimSuffix(l[len("socket:["):], "]"), 10, 64); err == nil {
				inodes[n] = true
			}
		}
		queue = append(queue, children(pid)...)
	}
	return inodes
}

// sandboxdForwards are the forwards of the LISTEN sockets of a sandboxd
// pod's own network namespace: each port dialled at 127.0.0.1 when a
// socket of it is bound there or to a wildcard address (an IPv6 one
// included: Linux's default is dual-stack), else at the address of its
// first socket.
func sandboxdForwards(socks []listenSocket) []forward {
	return choose(socks, "127.0.0.1", func(a netip.Addr) (string, bool) {
		if a.IsUnspecified() {
			return "127.0.0.1", true
		}
		return a.String(), true
	})
}

// pythonForwards are the forwards of the LISTEN sockets a python pod's
// processes hold (owned), in the host's network namespace: bound to the
// pod's IP or a wildcard address, dialled at the pod's IP; bound to
// 127.0.0.1 or ::1, dialled there. Others (another pod's IP) are left out.
func pythonForwards(socks []listenSocket, owned map[uint64]bool, podIP string) []forward {
	ip, err := netip.ParseAddr(podIP)
	if err != nil {
		return nil
	}
	var mine []listenSocket
	for _, s := range socks {
		if owned[s.inode] {
			mine = append(mine, s)
		}
	}
	return choose(mine, podIP, func(a netip.Addr) (string, bool) {
		switch {
		case a.IsUnspecified() || a == ip:
			return podIP, true
		case a == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || a == netip.IPv6Loopback():
			return a.String(), true
		}
		return "", false
	})
}

// choose returns one forward per port of socks, sorted by port: dialled at
// preferred when one of the port's sockets maps to it, else at what its
// first socket maps to. v4-mapped IPv6 addresses count as IPv4.
func choose(socks []listenSocket, preferred string, host func(netip.Addr) (string, bool)) []forward {
	hosts := map[int32]string{}
	for _, s := range socks {
		h, ok := host(s.addr.Unmap())
		if !ok || s.port == 0 {
			continue
		}
		p := int32(s.port)
		if cur, ok := hosts[p]; !ok || (cur != preferred && h == preferred) {
			hosts[p] = h
		}
	}
	out := make([]forward, 0, len(hosts))
	for p, h := range hosts {
		out = append(out, forward{port: p, host: h})
	}
	slices.SortFunc(out, func(a, b forward) int { return int(a.port - b.port) })
	return out
}

// portRescan is how often the listening sockets are read even though the
// sockets the pod's processes hold stayed the same (reading a /proc/net
// table walks the host's whole TCP hash, about 3ms; listing the processes'
// sockets takes well under 0.1ms): a socket that began to listen after the
// poll that saw it created shows within this.
const portRescan = 3 * time.Second

// portScan is the last reading of a pod's listening ports.
type portScan struct {
	pid    int
	inodes map[uint64]bool
	at     time.Time
	fws    []forward
}

// listeningForwards returns the forwards of the ports the pod's processes
// listen on now (none while its runtime is not running). The pod's
// processes are the descendants of the process holding its network
// namespace (sandboxd) or of its runtime's bubblewrap (python); their
// listening sockets are read again only when the sockets they hold changed,
// or portRescan passed. Only the watchPorts goroutine calls it.
func (r *runtime) listeningForwards() ([]forward, error) {
	pid := r.getPid()
	if r.sandboxd {
		pid = r.getNetns()
	}
	if pid == 0 {
		r.scan = portScan{}
		return nil, nil
	}
	inodes := socketInodes(pid)
	now := time.Now()
	if pid == r.scan.pid && maps.Equal(inodes, r.scan.inodes) && now.Sub(r.scan.at) < portRescan {
		return r.scan.fws, nil
	}
	socks, err := readListening(pid)
	if err != nil {
		return nil, err
	}
	var fws []forward
	if r.sandboxd {
		fws = sandboxdForwards(socks)
	} else {
		fws = pythonForwards(socks, inodes, r.pod.Status.PodIP)
	}
	r.scan = portScan{pid: pid, inodes: inodes, at: now, fws: fws}
	return fws, nil
}

// watchPorts keeps the ports of the pod's PortForward in step with those
// its processes listen on, until ctx ends.
func (r *runtime) watchPorts(ctx context.Context) {
	t := time.NewTicker(portPollInterval)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := r.syncPorts(ctx)
		if err != nil && ctx.Err() == nil && err.Error() != lastErr {
			klog.Errorf("pod %s: keeping its PortForward in step with its listening ports: %v", r.key(), err)
		}
		lastErr = ""
		if err != nil {
			lastErr = err.Error()
		}
	}
}

// syncPorts updates the pod's PortForward when the ports its processes
// listen on changed (creating it again when it is gone).
func (r *runtime) syncPorts(ctx context.Context) error {
	uid, applied := r.portForwardState()
	if uid == "" {
		return nil // not created yet (run creates it before each start)
	}
	fws, err := r.listeningForwards()
	if err != nil {
		// The process went away between two reads: try on the next tick.
		return nil
	}
	if slices.Equal(fws, applied) {
		return nil
	}
	return r.updatePortForward(ctx, uid, fws)
}

// updatePortForward writes the pod's PortForward (the one of UID uid) with
// the forwards fws besides the static ones, and records them. A PortForward
// that is gone is created again.
func (r *runtime) updatePortForward(ctx context.Context, uid types.UID, fws []forward) error {
	pfs := r.sup.dynamic.Resource(portForwardGVR).Namespace(r.pod.Namespace)
	want := r.portForwardWith(fws)
	gone := false
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		got, err := pfs.Get(ctx, want.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && got.GetUID() != uid) {
			gone = true
			return nil
		}
		if err != nil {
			return err
		}
		got.Object["spec"] = want.Object["spec"]
		_, err = pfs.Update(ctx, got, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	if gone {
		r.setPortForwardState("", fws)
		newUID, err := r.ensurePortForward(ctx)
		if err != nil {
			return err
		}
		r.setPortForwardState(newUID, fws)
		return nil
	}
	klog.Infof("pod %s: port-forward of ports %v", r.key(), forwardPorts(r.staticForwards(), fws))
	r.setPortForwardState(uid, fws)
	return nil
}

// forwardPorts lists the ports of static and then of extra, without repeats.
func forwardPorts(static, extra []forward) []int32 {
	var out []int32
	for _, f := range append(slices.Clone(static), extra...) {
		if !slices.Contains(out, f.port) {
			out = append(out, f.port)
		}
	}
	return out
}
