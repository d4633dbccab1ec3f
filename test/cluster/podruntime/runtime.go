package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
)

// runtime is the runtime process of one pod: the upstream python runtime,
// or sandboxd (see sandboxd.go for which).
type runtime struct {
	sup    *supervisor
	pod    *corev1.Pod
	dir    string
	cancel context.CancelFunc
	done   chan struct{}

	// sandboxd is set for a pod of the sandboxd kind; index is the
	// container the runtime stands for (0 for a python pod).
	sandboxd bool
	index    int

	mu    sync.Mutex
	netns int // sandboxd: the PID holding the pod's network namespace, once known
	pid   int // the runtime process (its bubblewrap), while it runs
	// The pod's PortForward, once created: its UID and the forwards of
	// listening ports last written to it (see watchPorts).
	pfUID   types.UID
	pfExtra []forward

	scan portScan // of watchPorts only
}

// run keeps the runtime process up until ctx ends, like a container with
// restartPolicy Always, and mirrors its readiness into the pod status. When
// the runtime cannot start or exits, it reports why on the pod (as a
// kubelet would: RunContainerError or CrashLoopBackOff) and starts it again
// after an exponential back-off (see backoff).
func (r *runtime) run(ctx context.Context) {
	defer close(r.done)
	defer os.RemoveAll(r.dir)
	var (
		b        backoff
		restarts int32
		first    = true  // no start was tried yet
		ran      = false // a process was started before
		pfUID    types.UID
		logsUID  types.UID
	)
	if r.sandboxd {
		defer os.Remove(r.netnsFile())
	}
	if r.sup.dynamic != nil {
		// The pod's PortForward follows the ports its processes listen
		// on; it goes (with its Logs) once the watch has stopped.
		wctx, stopWatch := context.WithCancel(ctx)
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			r.watchPorts(wctx)
		}()
		defer func() {
			stopWatch()
			<-watched
			if uid, _ := r.portForwardState(); uid != "" {
				pfUID = uid // created again by the watch
			}
			r.deletePortForward(pfUID)
			r.deleteLogs(logsUID)
		}()
	}
	for ctx.Err() == nil {
		var delay time.Duration
		// Both tried again before each start until they worked.
		if pfUID == "" {
			var err error
			if pfUID, err = r.ensurePortForward(ctx); err != nil && ctx.Err() == nil {
				klog.Errorf("pod %s: creating its PortForward: %v", r.key(), err)
			}
		}
		if logsUID == "" {
			var err error
			if logsUID, err = r.ensureLogs(ctx); err != nil && ctx.Err() == nil {
				klog.Errorf("pod %s: creating its Logs: %v", r.key(), err)
			}
		}
		p, err := r.start()
		if err != nil {
			delay = b.delay(0)
			klog.Errorf("pod %s: starting runtime: %v; next try in %s", r.key(), err, delay)
			msg := backoffMessage(delay, r.container().Name, r.key(), err.Error())
			r.updateStatus(ctx, reasonRunContainerError, func(st *corev1.PodStatus, now metav1.Time) {
				setWaiting(st, r.container(), reasonRunContainerError, msg, nil, now)
			})
		} else {
			startedAt := r.sup.now()
			if ran {
				restarts++
			}
			if r.sandboxd {
				klog.Infof("pod %s: runtime pid %d (sandboxd, own network namespace)", r.key(), p.cmd.Process.Pid)
			} else {
				klog.Infof("pod %s: runtime pid %d on %s", r.key(), p.cmd.Process.Pid, r.pod.Status.PodIP)
			}
			if !first {
				// Not on the first start: kwok reported the container
				// running, and the pod turns Ready once the probe passes.
				r.updateStatus(ctx, "running", func(st *corev1.PodStatus, now metav1.Time) {
					setRunning(st, r.container(), metav1.NewTime(startedAt), restarts, now)
				})
			}
			ran = true
			r.superviseProcess(ctx, p)
			if ctx.Err() != nil {
				return
			}
			finishedAt := r.sup.now()
			delay = b.delay(finishedAt.Sub(startedAt))
			last := p.terminated(startedAt, finishedAt)
			cause := p.cmd.ProcessState.String()
			if last.Message != "" {
				cause += ": " + last.Message
			}
			klog.Warningf("pod %s: runtime exited (%s); restarting in %s", r.key(), cause, delay)
			msg := backoffMessage(delay, r.container().Name, r.key(), cause)
			r.updateStatus(ctx, reasonCrashLoopBackOff, func(st *corev1.PodStatus, now metav1.Time) {
				setWaiting(st, r.container(), reasonCrashLoopBackOff, msg, last, now)
			})
		}
		first = false
		if !r.sup.sleep(ctx, delay) {
			return
		}
	}
}

// proc is one started runtime process.
type proc struct {
	cmd    *exec.Cmd
	stderr *lastLine
	exited chan struct{} // closed once the process is gone and reaped
}

// start starts the runtime process of the pod, its output going to the
// supervisor's own and, with --logs-dir, to the pod's log file there too,
// in the CRI log format (see criLog; the last line of its stderr is kept
// for the pod status).
func (r *runtime) start() (*proc, error) {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, err
	}
	r.setNetns(0)
	cmd := r.sup.command(r)
	p := &proc{cmd: cmd, stderr: &lastLine{}, exited: make(chan struct{})}
	var stdout, stderr io.Writer = os.Stdout, os.Stderr
	var logFile *os.File
	var logStreams []*criStream
	if r.sup.cfg.logsDir != "" {
		f, err := os.OpenFile(r.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		logFile = f
		l := &criLog{w: f, now: time.Now}
		logStreams = []*criStream{l.stream("stdout"), l.stream("stderr")}
		stdout, stderr = io.MultiWriter(os.Stdout, logStreams[0]), io.MultiWriter(os.Stderr, logStreams[1])
	}
	closeLog := func() {
		for _, s := range logStreams {
			_ = s.Flush()
		}
		if logFile != nil {
			_ = logFile.Close()
		}
	}
	cmd.Stdout = stdout
	cmd.Stderr = io.MultiWriter(stderr, p.stderr)
	// A process left behind holding stderr open must not keep Wait waiting.
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		closeLog()
		return nil, err
	}
	go func() {
		_ = cmd.Wait() // after the copies of its output are done
		closeLog()
		close(p.exited)
	}()
	return p, nil
}

// logFile is the pod's log file in --logs-dir: the output of each of its
// runtime's runs, kept after the pod is gone.
func (r *runtime) logFile() string {
	return filepath.Join(r.sup.cfg.logsDir, fmt.Sprintf("%s_%s_%s.log", r.pod.Namespace, r.pod.Name, r.pod.UID))
}

// terminated describes how the exited process ended, as a container's
// lastState.terminated.
func (p *proc) terminated(startedAt, finishedAt time.Time) *corev1.ContainerStateTerminated {
	ps := p.cmd.ProcessState
	t := &corev1.ContainerStateTerminated{
		ExitCode: int32(ps.ExitCode()), Reason: "Error", Message: p.stderr.String(),
		StartedAt: metav1.NewTime(startedAt), FinishedAt: metav1.NewTime(finishedAt),
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Signal = int32(ws.Signal())
		t.ExitCode = 128 + t.Signal
	}
	if t.ExitCode == 0 {
		t.Reason = "Completed"
	}
	return t
}

// superviseProcess reports the pod Ready once the probe answers; it returns
// when the process is gone (killing it first when ctx ends). For sandboxd,
// it first finds the process holding the pod's network namespace and
// records it for the probe and `podruntime relay`; the record goes when the
// process does.
func (r *runtime) superviseProcess(ctx context.Context, p *proc) {
	probe := time.NewTicker(100 * time.Millisecond)
	defer probe.Stop()
	r.setPid(p.cmd.Process.Pid)
	defer r.setPid(0)
	if !r.sandboxd {
		if err := writeNetns(r.pidFile(), p.cmd.Process.Pid); err != nil {
			klog.Errorf("pod %s: recording its runtime process: %v", r.key(), err)
		}
		defer func() { _ = os.Remove(r.pidFile()) }()
	}
	if r.sandboxd {
		defer func() {
			r.setNetns(0)
			_ = os.Remove(r.netnsFile())
		}()
	}
	ready := false
	for {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
			return
		case <-p.exited:
			return
		case <-probe.C:
			if r.sandboxd && r.getNetns() == 0 {
				r.recordNetns(p.cmd.Process.Pid)
			}
			if !ready && r.sup.probe(ctx, r) {
				if r.setReady(ctx, true) {
					ready = true
					probe.Stop()
				} else {
					// Not written (the API server is away): probe and
					// report again, every second until it is.
					probe.Reset(time.Second)
				}
			}
		}
	}
}

// recordNetns looks for the process holding the network namespace of the
// runtime started as root, and records it (in r and in the pod's netns file)
// once found.
func (r *runtime) recordNetns(root int) {
	pid, err := findNetnsHolder(root)
	if err != nil || pid == 0 {
		return
	}
	if err := writeNetns(r.netnsFile(), pid); err != nil {
		klog.Errorf("pod %s: recording its network namespace: %v", r.key(), err)
		return
	}
	r.setNetns(pid)
}

func (r *runtime) setNetns(pid int) {
	r.mu.Lock()
	r.netns = pid
	r.mu.Unlock()
}

func (r *runtime) getNetns() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.netns
}

func (r *runtime) setPid(pid int) {
	r.mu.Lock()
	r.pid = pid
	r.mu.Unlock()
}

func (r *runtime) getPid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pid
}

func (r *runtime) setPortForwardState(uid types.UID, extra []forward) {
	r.mu.Lock()
	r.pfUID, r.pfExtra = uid, extra
	r.mu.Unlock()
}

func (r *runtime) portForwardState() (types.UID, []forward) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pfUID, r.pfExtra
}

// command is the runtime process of the pod: for a sandboxd pod, see
// sandboxdCommand; else the upstream python runtime under bubblewrap,
// listening on the pod's IP.
func (r *runtime) command() *exec.Cmd {
	if r.sandboxd {
		return r.sandboxdCommand()
	}
	c := r.sup.cfg
	// The runtime's folder is bound under the private /tmp, so that it is
	// found even when it lives below the host's /tmp.
	const runtimeMount = "/tmp/.sandbox-runtime"
	args := []string{
		"--ro-bind", "/", "/",
		"--tmpfs", "/tmp",
		"--ro-bind", c.runtimeDir, runtimeMount,
		"--bind", r.dir, "/app",
		"--proc", "/proc", "--dev", "/dev",
		"--unshare-pid", "--die-with-parent",
	}
	if c.resolvConf != "" {
		args = append(args, "--ro-bind", c.resolvConf, "/etc/resolv.conf")
	}
	// Literal env values of the container reach the runtime and so the
	// commands it runs, as a container runtime would give them.
	for _, e := range r.pod.Spec.Containers[0].Env {
		if e.ValueFrom == nil {
			args = append(args, "--setenv", e.Name, e.Value)
		}
	}
	// Log level info: uvicorn's access log ("POST /execute HTTP/1.1" 200)
	// is the pod's log (`kubectl logs`); -u, so that each line reaches it
	// at once (without PYTHONUNBUFFERED, which the commands would inherit).
	args = append(args, "--chdir", runtimeMount, "--setenv", "HOME", "/app",
		c.python, "-u", "-m", "uvicorn", "main:app", "--host", r.pod.Status.PodIP,
		"--port", strconv.Itoa(r.port()), "--log-level", "info")
	return exec.Command("bwrap", args...)
}

// probeSpec returns the runtime container's HTTP readiness probe path and
// port, defaulting to the runtime's GET / on 8888 (for sandboxd, GET
// /v1/health on its REST port).
func (r *runtime) probeSpec() (string, int) {
	c := r.container()
	if p := c.ReadinessProbe; p != nil && p.HTTPGet != nil {
		return p.HTTPGet.Path, resolvePort(c, p.HTTPGet.Port)
	}
	if r.sandboxd {
		_, rest := sandboxdPorts(r.pod, r.index)
		return "/v1/health", rest
	}
	return "/", 8888
}

func (r *runtime) port() int {
	c := r.container()
	if len(c.Ports) > 0 {
		return int(c.Ports[0].ContainerPort)
	}
	_, port := r.probeSpec()
	return port
}

func resolvePort(c corev1.Container, port intstr.IntOrString) int {
	if port.Type == intstr.Int {
		return port.IntValue()
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort)
		}
	}
	return 8888
}

// probe runs the readiness probe once: an HTTP GET of the pod's IP, or for
// sandboxd, of 127.0.0.1 inside the pod's network namespace.
func (r *runtime) probe(ctx context.Context) bool {
	path, port := r.probeSpec()
	host, client := r.pod.Status.PodIP, http.DefaultClient
	if r.sandboxd {
		pid := r.getNetns()
		if pid == 0 {
			return false
		}
		host = "127.0.0.1"
		client = &http.Client{Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
				return dialInNetns(ctx, pid, addr)
			},
		}}
	}
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + path
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// setReady sets the pod's Ready and ContainersReady conditions and its
// containers' ready flags, as a kubelet's prober would; it returns false when
// that could not be written (see updateStatus).
func (r *runtime) setReady(ctx context.Context, ready bool) bool {
	return r.updateStatus(ctx, fmt.Sprintf("ready=%v", ready), func(st *corev1.PodStatus, now metav1.Time) {
		setPodReady(st, ready, now)
	})
}

// updateStatus applies change to the pod's status through the status
// subresource (what the change is for goes to the log), retrying on
// conflicts. A pod that is gone or was replaced is left alone. It returns
// false when the change could not be written (the API server did not answer,
// for one), true when it was or needs not be.
func (r *runtime) updateStatus(ctx context.Context, what string, change func(*corev1.PodStatus, metav1.Time)) bool {
	pods := r.sup.client.CoreV1().Pods(r.pod.Namespace)
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		pod, err := pods.Get(ctx, r.pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pod.UID != r.pod.UID {
			return nil
		}
		change(&pod.Status, metav1.NewTime(r.sup.now()))
		_, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) {
		klog.Errorf("pod %s: reporting %s: %v", r.key(), what, err)
		return false
	}
	klog.Infof("pod %s: %s", r.key(), what)
	return true
}

func setPodReady(st *corev1.PodStatus, ready bool, now metav1.Time) {
	status, reason := corev1.ConditionTrue, ""
	if !ready {
		status, reason = corev1.ConditionFalse, "ContainersNotReady"
	}
	for _, t := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
		found := false
		for i := range st.Conditions {
			if c := &st.Conditions[i]; c.Type == t {
				found = true
				if c.Status != status {
					c.Status, c.Reason, c.Message, c.LastTransitionTime = status, reason, "", now
				}
			}
		}
		if !found {
			st.Conditions = append(st.Conditions, corev1.PodCondition{Type: t, Status: status, Reason: reason, LastTransitionTime: now})
		}
	}
	for i := range st.ContainerStatuses {
		st.ContainerStatuses[i].Ready = ready
	}
}

func (r *runtime) key() string { return fmt.Sprintf("%s/%s", r.pod.Namespace, r.pod.Name) }

// container is the container the runtime stands for: the pod's first one,
// or for a sandboxd pod the sandboxd one.
func (r *runtime) container() corev1.Container { return r.pod.Spec.Containers[r.index] }

// lastLine is an io.Writer that keeps the last non-empty line written to it
// (at most maxLineLen bytes of it, the end of a longer one).
type lastLine struct {
	mu         sync.Mutex
	last, line []byte
}

const maxLineLen = 512

func (l *lastLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		l.line = append(l.line, chunk...)
		if len(l.line) > 2*maxLineLen {
			l.line = append(l.line[:0], tail(l.line)...)
		}
		if i < 0 {
			break
		}
		if len(bytes.TrimSpace(l.line)) > 0 {
			l.last = append(l.last[:0], tail(l.line)...)
		}
		l.line = l.line[:0]
		p = p[i+1:]
	}
	return n, nil
}

// String returns the last non-empty line, trimmed: an unfinished one if
// there is one.
func (l *lastLine) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := bytes.TrimSpace(tail(l.line))
	if len(s) == 0 {
		s = bytes.TrimSpace(l.last)
	}
	return strings.ToValidUTF8(string(s), "\uFFFD")
}

func tail(b []byte) []byte {
	if len(b) > maxLineLen {
		return b[len(b)-maxLineLen:]
	}
	return b
}
