package claims

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/klog/v2"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

// OOMKilledError says that a sandbox's container was killed for using more
// memory than its limit while a command ran: the runtime (or the whole
// sandbox) went with it. Err is what the command's connection reported.
type OOMKilledError struct {
	Namespace, Pod, Container string
	// Limit is the container's memory limit ("" when it has none).
	Limit string
	Err   error
}

func (e *OOMKilledError) Error() string {
	limit := ""
	if e.Limit != "" {
		limit = " (memory limit " + e.Limit + ")"
	}
	return fmt.Sprintf("container %s of pod %s/%s was OOMKilled%s while the command ran: the command may have run", e.Container, e.Namespace, e.Pod, limit)
}

func (e *OOMKilledError) Unwrap() error { return e.Err }

// ExitCode is a shell's for a process killed by SIGKILL, as the kernel's
// OOM killer kills.
func (*OOMKilledError) ExitCode() int { return 128 + 9 }

// OOMKilledSince returns the first container of pod that was OOM-killed at
// or after since (to the second: the kubelet's time stamps), or nil.
func OOMKilledSince(pod *corev1.Pod, since time.Time) *OOMKilledError {
	limits := map[string]string{}
	for _, c := range pod.Spec.Containers {
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			limits[c.Name] = q.String()
		}
	}
	for _, s := range pod.Status.ContainerStatuses {
		for _, t := range []*corev1.ContainerStateTerminated{s.State.Terminated, s.LastTerminationState.Terminated} {
			if t != nil && t.Reason == "OOMKilled" && !t.FinishedAt.Time.Before(since.Truncate(time.Second)) {
				return &OOMKilledError{Namespace: pod.Namespace, Pod: pod.Name, Container: s.Name, Limit: limits[s.Name]}
			}
		}
	}
	return nil
}

// hasMemoryLimit says whether a container of pod has a memory limit.
func hasMemoryLimit(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			return true
		}
	}
	return false
}

// WaitOOMKilled says whether the pod named name lost a container to the
// OOM killer at or after since. A command's connection breaks as the
// kernel kills the runtime; the kubelet reports it a second or two later,
// so the pod is watched for up to within. A pod whose containers have no
// memory limit is not waited for (it is read once). nil when no such kill
// shows, or the pod cannot be read.
func WaitOOMKilled(ctx context.Context, pods corev1client.PodsGetter, ns, name string, since time.Time, within time.Duration) *OOMKilledError {
	client := pods.Pods(ns)
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var why *OOMKilledError
	w := kube.Watch{LW: kube.ByName(name, client.List, client.Watch), Name: name, What: "pod " + name,
		Absent: func() (bool, error) { return true, nil }}
	err := w.Until(wctx, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || ev.Type == watch.Deleted {
			return ok, nil
		}
		if why = OOMKilledSince(p, since); why != nil {
			return true, nil
		}
		return !hasMemoryLimit(p), nil
	})
	if why == nil && err != nil && wctx.Err() == nil {
		klog.FromContext(ctx).V(2).Info("Cannot tell whether the pod was OOM-killed", "pod", name, "err", err)
	}
	return why
}
