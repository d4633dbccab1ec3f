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

// PodGoneError says that a pod is gone: the cause of the context that
// WhilePodLives ends.
type PodGoneError struct {
	Name string
	// Why is "deleted", "replaced" (by a new pod of the same name), or the
	// phase the pod ended in (Succeeded, Failed).
	Why string
}

func (e *PodGoneError) Error() string {
	switch e.Why {
	case "deleted", "replaced":
		return fmt.Sprintf("pod %s was %s", e.Name, e.Why)
	}
	return fmt.Sprintf("pod %s has %s", e.Name, e.Why)
}

// WaitPodGone waits until pod, the one with its name and UID, is gone:
// deleted, replaced by a new pod of the same name, or ended (phase Succeeded
// or Failed). It watches that pod by name from the pod's resourceVersion
// (listing it first when it has none, or when the version is too old), with
// a watch that survives dropped connections. It returns a *PodGoneError
// then; nil and the context's cause if ctx ends first; or the error of a
// watch that cannot go on (no right to list or watch pods, say).
func WaitPodGone(ctx context.Context, pods corev1client.PodsGetter, pod *corev1.Pod) (*PodGoneError, error) {
	if gone := goneBy(pod, pod, false); gone != nil {
		return gone, nil
	}
	var gone *PodGoneError
	client := pods.Pods(pod.Namespace)
	w := kube.Watch{
		LW: kube.ByName(pod.Name, client.List, client.Watch), Name: pod.Name, What: "pod " + pod.Name, From: pod.ResourceVersion,
		Absent: func() (bool, error) {
			gone = &PodGoneError{Name: pod.Name, Why: "deleted"}
			return true, nil
		},
	}
	err := w.Until(ctx, func(ev watch.Event) (bool, error) {
		if p, ok := ev.Object.(*corev1.Pod); ok {
			gone = goneBy(pod, p, ev.Type == watch.Deleted)
		}
		return gone != nil, nil
	})
	switch {
	case gone != nil:
		return gone, nil
	case ctx.Err() != nil:
		return nil, context.Cause(ctx)
	}
	return nil, err
}

// sleep waits for d, or until ctx ends (its cause).
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// WhilePodLives returns a context for a stream from pod (its logs) that the
// server may not end when the pod goes: it ends with ctx, or grace after the
// pod is gone (time for the last bytes to arrive), with a *PodGoneError as
// its cause. A watch that cannot go on leaves the context to ctx (logged at
// V(2)). stop ends the watch, waits for it and releases the context; call it
// once done with the stream.
func WhilePodLives(ctx context.Context, pods corev1client.PodsGetter, pod *corev1.Pod, grace time.Duration) (streamCtx context.Context, stop func()) {
	streamCtx, cancel := context.WithCancelCause(ctx)
	watchCtx, endWatch := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		gone, err := WaitPodGone(watchCtx, pods, pod)
		if gone == nil {
			if watchCtx.Err() == nil {
				klog.FromContext(ctx).V(2).Info("Cannot tell when the pod goes", "pod", pod.Name, "err", err)
			}
			return
		}
		if sleep(watchCtx, grace) == nil {
			cancel(gone)
		}
	}()
	return streamCtx, func() {
		endWatch()
		<-done
		cancel(context.Canceled)
	}
}

// goneBy says whether seen, a state of a pod by the name of pod (deleted
// says it is its last), shows pod gone.
func goneBy(pod, seen *corev1.Pod, deleted bool) *PodGoneError {
	switch {
	case seen.Name != pod.Name:
		return nil
	case seen.UID != pod.UID:
		return &PodGoneError{Name: pod.Name, Why: "replaced"}
	case deleted:
		return &PodGoneError{Name: pod.Name, Why: "deleted"}
	case seen.Status.Phase == corev1.PodSucceeded || seen.Status.Phase == corev1.PodFailed:
		return &PodGoneError{Name: pod.Name, Why: string(seen.Status.Phase)}
	}
	return nil
}
