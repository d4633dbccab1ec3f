package claims

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/klog/v2"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
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
	client := pods.Pods(ns)
	var why *PodCannotStartError
	w := kube.Watch{LW: kube.ByName(name, client.List, client.Watch), Name: name, What: "pod " + name}
	err := w.Until(ctx, func(ev watch.Event) (bool, error) {
		if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted {
			why = PodCannotStart(p)
		}
		return why != nil, nil
	})
	if why == nil && ctx.Err() == nil {
		klog.FromContext(ctx).V(2).Info("Cannot tell whether the pod starts", "pod", name, "err", err)
	}
	return why
}
