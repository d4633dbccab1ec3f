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

// PodCannotStartError says that a sandbox's pod cannot start: one of its
// containers waits for a reason that no wait outlasts (its image cannot be
// pulled, or its configuration is invalid). The kubelet keeps retrying;
// the claim's Ready condition only says the pod is Pending.
type PodCannotStartError struct {
	Namespace, Pod, Container, Image string
	// Reason is the kubelet's (ErrImagePull, ImagePullBackOff, ...);
	// Message its words, with the runtime's error.
	Reason, Message string
}

func (e *PodCannotStartError) Error() string {
	msg := fmt.Sprintf("pod %s/%s cannot start: container %s", e.Namespace, e.Pod, e.Container)
	if e.Image != "" {
		msg += fmt.Sprintf(" (image %s)", e.Image)
	}
	msg += ": " + e.Reason
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// ImageProblem reports whether the pod cannot start because of its image.
func (e *PodCannotStartError) ImageProblem() bool {
	return e.Reason != "CreateContainerConfigError"
}

// cannotStartReasons are the kubelet's waiting reasons of a container that
// will not start however long one waits (the kubelet retries with a
// back-off, but the cause is in the pod's spec or the registry).
var cannotStartReasons = map[string]bool{
	"ErrImagePull":               true,
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"ErrImageNeverPull":          true,
	"CreateContainerConfigError": true,
}

// PodCannotStart returns why pod cannot start, or nil when nothing says so.
func PodCannotStart(pod *corev1.Pod) *PodCannotStartError {
	images := map[string]string{}
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		images[c.Name] = c.Image
	}
	for _, s := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if w := s.State.Waiting; w != nil && cannotStartReasons[w.Reason] {
			return &PodCannotStartError{Namespace: pod.Namespace, Pod: pod.Name, Container: s.Name,
				Image: images[s.Name], Reason: w.Reason, Message: w.Message}
		}
	}
	return nil
}

// WaitPodCannotStart watches the pod named name in ns (it need not exist
// yet) until it cannot start, and returns why; or nil once ctx ends, or
// when the pod cannot be watched (no right to, say: logged at V(2)).
func WaitPodCannotStart(ctx context.Context, pods corev1client.PodsGetter, ns, name string) *PodCannotStartError {
	w := startWatch{pods: pods.Pods(ns), name: name, sel: fields.OneTermEqualSelector("metadata.name", name).String()}
	var listed time.Time
	rv := ""
	for ctx.Err() == nil {
		if rv == "" {
			if sleep(ctx, time.Until(listed.Add(relistEvery))) != nil {
				return nil
			}
			listed = time.Now()
			var why *PodCannotStartError
			var err error
			if rv, why, err = w.list(ctx); why != nil || err != nil {
				if err != nil && ctx.Err() == nil {
					klog.FromContext(ctx).V(2).Info("Cannot tell whether the pod starts", "pod", name, "err", err)
				}
				return why
			}
		}
		why, err := w.watchFrom(ctx, rv)
		switch {
		case why != nil:
			return why
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errWatchFrom):
			rv = ""
		default:
			klog.FromContext(ctx).V(2).Info("Cannot tell whether the pod starts", "pod", name, "err", err)
			return nil
		}
	}
	return nil
}

// startWatch is one watch of a pod that may not start.
type startWatch struct {
	pods      corev1client.PodInterface
	name, sel string
}

func (w startWatch) list(ctx context.Context) (string, *PodCannotStartError, error) {
	list, err := w.pods.List(ctx, metav1.ListOptions{FieldSelector: w.sel})
	if err != nil {
		return "", nil, fmt.Errorf("listing pod %s: %w", w.name, err)
	}
	for i := range list.Items {
		if list.Items[i].Name == w.name {
			return list.ResourceVersion, PodCannotStart(&list.Items[i]), nil
		}
	}
	return list.ResourceVersion, nil, nil
}

func (w startWatch) watchFrom(ctx context.Context, rv string) (*PodCannotStartError, error) {
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
	defer func() {
		rw.Stop()
		<-rw.Done()
	}()
	var why *PodCannotStartError
	_, err = watchtools.UntilWithoutRetry(ctx, rw, func(ev watch.Event) (bool, error) {
		switch ev.Type {
		case watch.Error:
			err := apierrors.FromObject(ev.Object)
			if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
				return false, errWatchFrom
			}
			return false, fmt.Errorf("watching pod %s: %w", w.name, err)
		case watch.Added, watch.Modified:
			if p, ok := ev.Object.(*corev1.Pod); ok && p.Name == w.name {
				why = PodCannotStart(p)
			}
		}
		return why != nil, nil
	})
	if why != nil {
		return why, nil
	}
	return nil, err
}
