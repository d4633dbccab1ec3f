package main

import (
	"context"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// procStartTime returns the start time of process pid (field 22 of
// /proc/PID/stat, in clock ticks since boot).
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Field 2, the command name in parentheses, may hold spaces and ')':
	// fields 3 and on follow its last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	if f[0] == "Z" {
		return 0, fmt.Errorf("process %d is a zombie", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// findNetnsHolder returns the first descendant of process root (root
// itself included, breadth first) whose network namespace is not this
// process's, or 0 when there is none (yet). For sandboxd under bubblewrap
// that is bubblewrap's child, the PID 1 of the sandbox's PID namespace,
// which lives as long as the sandbox does.
func findNetnsHolder(root int) (int, error) {
	own, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return 0, err
	}
	queue := []int{root}
	for len(queue) > 0 && len(queue) < 10000 {
		pid := queue[0]
		queue = queue[1:]
		if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && ns != own {
			return pid, nil
		}
		queue = append(queue, children(pid)...)
	}
	return 0, nil
}

// children returns the child processes of pid (those of all its threads).
func children(pid int) []int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// dialInNetns connects to addr (a literal IP and port) from inside the
// network namespace of process pid. The socket is made on an OS thread that
// enters that namespace and then returns to its own, so no other goroutine
// ever runs in the namespace; the socket itself stays in it and can be used
// from any thread.
//
// The thread must not end: a child process started with Pdeathsig (the
// runtimes) is killed when the thread that forked it ends, so a thread that
// cannot return to its namespace is parked forever instead of being
// dropped (see golang.org/issue/27505).
func dialInNetns(ctx context.Context, pid int, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			goruntime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("this thread's network namespace: %w", err)}
			return
		}
		defer func() { _ = own.Close() }()
		ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			goruntime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("the pod's network namespace: %w", err)}
			return
		}
		err = unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET)
		_ = ns.Close()
		if err != nil {
			goruntime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("entering the network namespace of PID %d: %w", pid, err)}
			return
		}
		var d net.Dialer
		// A literal address: no resolver, and the one socket is made on
		// this goroutine.
		c, err := d.DialContext(ctx, "tcp", addr)
		ch <- result{c, err}
		if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stuck in the pod's namespace: keep the thread (see above).
			select {}
		}
		goruntime.UnlockOSThread()
	}()
	res := <-ch
	return res.conn, res.err
}
