package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
)

// runtime is the upstream python runtime process of one pod.
type runtime struct {
	sup    *supervisor
	pod    *corev1.Pod
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
}

// run keeps the runtime process up until ctx ends, like a container with
// restartPolicy Always, and mirrors its readiness into the pod status.
func (r *runtime) run(ctx context.Context) {
	defer close(r.done)
	defer os.RemoveAll(r.dir)
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		klog.Errorf("pod %s: %v", r.key(), err)
		return
	}
	for ctx.Err() == nil {
		cmd := r.command()
		if err := cmd.Start(); err != nil {
			klog.Errorf("pod %s: starting runtime: %v", r.key(), err)
		} else {
			klog.Infof("pod %s: runtime pid %d on %s", r.key(), cmd.Process.Pid, r.pod.Status.PodIP)
			exited := make(chan struct{})
			go func() { _ = cmd.Wait(); close(exited) }()
			r.superviseProcess(ctx, cmd, exited)
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// superviseProcess reports the pod Ready once the probe answers, and NotReady
// if the process dies; it returns when the process is gone.
func (r *runtime) superviseProcess(ctx context.Context, cmd *exec.Cmd, exited <-chan struct{}) {
	probe := time.NewTicker(100 * time.Millisecond)
	defer probe.Stop()
	ready := false
	for {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			return
		case <-exited:
			klog.Warningf("pod %s: runtime exited", r.key())
			if ready {
				r.setReady(ctx, false)
			}
			return
		case <-probe.C:
			if !ready && r.probe(ctx) {
				ready = true
				r.setReady(ctx, true)
				probe.Stop()
			}
		}
	}
}

func (r *runtime) command() *exec.Cmd {
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
	args = append(args, "--chdir", runtimeMount, "--setenv", "HOME", "/app",
		c.python, "-m", "uvicorn", "main:app", "--host", r.pod.Status.PodIP,
		"--port", strconv.Itoa(r.port()), "--log-level", "warning")
	cmd := exec.Command("bwrap", args...)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// probeSpec returns the first container's HTTP readiness probe path and
// port, defaulting to the runtime's GET / on 8888.
func (r *runtime) probeSpec() (string, int) {
	c := r.pod.Spec.Containers[0]
	if p := c.ReadinessProbe; p != nil && p.HTTPGet != nil {
		return p.HTTPGet.Path, resolvePort(c, p.HTTPGet.Port)
	}
	return "/", 8888
}

func (r *runtime) port() int {
	c := r.pod.Spec.Containers[0]
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

func (r *runtime) probe(ctx context.Context) bool {
	path, port := r.probeSpec()
	url := "http://" + net.JoinHostPort(r.pod.Status.PodIP, strconv.Itoa(port)) + path
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// setReady sets the pod's Ready and ContainersReady conditions and its
// containers' ready flags, as a kubelet's prober would.
func (r *runtime) setReady(ctx context.Context, ready bool) {
	pods := r.sup.client.CoreV1().Pods(r.pod.Namespace)
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		pod, err := pods.Get(ctx, r.pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pod.UID != r.pod.UID {
			return nil
		}
		setPodReady(&pod.Status, ready, metav1.Now())
		_, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) {
		klog.Errorf("pod %s: reporting ready=%v: %v", r.key(), ready, err)
		return
	}
	klog.Infof("pod %s: ready=%v", r.key(), ready)
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
