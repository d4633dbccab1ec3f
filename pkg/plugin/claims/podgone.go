package claims

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/klog/v2"
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
	w := podWatch{pods: pods.Pods(pod.Namespace), pod: pod, sel: fields.OneTermEqualSelector("metadata.name", pod.Name).String()}
	if gone := w.gone(pod, false); gone != nil {
		return gone, nil
	}
	rv := pod.ResourceVersion
	var listed time.Time
	for {
		if rv == "" || rv == "0" {
			// A watch that ended at once is not listed again at once.
			if err := sleep(ctx, time.Until(listed.Add(relistEvery))); err != nil {
				return nil, err
			}
			listed = time.Now()
			var gone *PodGoneError
			var err error
			if rv, gone, err = w.list(ctx); gone != nil || err != nil {
				return gone, err
			}
		}
		gone, err := w.watchFrom(ctx, rv)
		switch {
		case gone != nil:
			return gone, nil
		case ctx.Err() != nil:
			return nil, context.Cause(ctx)
		case errors.Is(err, errWatchFrom):
			rv = ""
		default:
			return nil, err
		}
	}
}

// relistEvery is how often WaitPodGone lists the pod at most.
const relistEvery = time.Second

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

// podWatch is one wait for one pod to go.
type podWatch struct {
	pods corev1client.PodInterface
	pod  *corev1.Pod
	sel  string
}

// gone says whether seen, a state of a pod by the name watched (deleted
// says it is its last), shows the watched pod gone.
func (w podWatch) gone(seen *corev1.Pod, deleted bool) *PodGoneError {
	switch {
	case seen.Name != w.pod.Name:
		return nil
	case seen.UID != w.pod.UID:
		return &PodGoneError{Name: w.pod.Name, Why: "replaced"}
	case deleted:
		return &PodGoneError{Name: w.pod.Name, Why: "deleted"}
	case seen.Status.Phase == corev1.PodSucceeded || seen.Status.Phase == corev1.PodFailed:
		return &PodGoneError{Name: w.pod.Name, Why: string(seen.Status.Phase)}
	}
	return nil
}

// list reads the pod by name: gone, or the resourceVersion to watch from.
func (w podWatch) list(ctx context.Context) (string, *PodGoneError, error) {
	list, err := w.pods.List(ctx, metav1.ListOptions{FieldSelector: w.sel})
	if err != nil {
		return "", nil, fmt.Errorf("listing pod %s: %w", w.pod.Name, err)
	}
	for i := range list.Items {
		if list.Items[i].Name == w.pod.Name {
			return list.ResourceVersion, w.gone(&list.Items[i], false), nil
		}
	}
	return "", &PodGoneError{Name: w.pod.Name, Why: "deleted"}, nil
}

// watchFrom watches the pod from rv, retrying dropped watches, until it is
// gone. A watch that cannot go on from rv (too old) is errWatchFrom.
func (w podWatch) watchFrom(ctx context.Context, rv string) (*PodGoneError, error) {
	lw := &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = w.sel
			return w.pods.Watch(ctx, o)
		},
	}
	rw, err := watchtools.NewRetryWatcherWithContext(quietErrors(ctx), rv, lw)
	if err != nil {
		return nil, err
	}
	// Stopped, and its goroutine ended, before returning.
	defer func() {
		rw.Stop()
		<-rw.Done()
	}()
	var gone *PodGoneError
	_, err = watchtools.UntilWithoutRetry(ctx, rw, func(ev watch.Event) (bool, error) {
		switch ev.Type {
		case watch.Error:
			err := apierrors.FromObject(ev.Object)
			if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
				return false, errWatchFrom
			}
			return false, fmt.Errorf("watching pod %s: %w", w.pod.Name, err)
		case watch.Added, watch.Modified, watch.Deleted:
			if p, ok := ev.Object.(*corev1.Pod); ok {
				gone = w.gone(p, ev.Type == watch.Deleted)
			}
		}
		return gone != nil, nil
	})
	switch {
	case gone != nil:
		return gone, nil
	case errors.Is(err, watchtools.ErrWatchClosed):
		return nil, errWatchFrom
	}
	return nil, err
}
