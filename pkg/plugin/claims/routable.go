package claims

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

// RoutableByName says whether the Go sandbox router's cache finds pod by
// its namespace and name: the pod is Ready, has an IP, and is no longer an
// unadopted warm-pool pod (the cache leaves pods labelled
// sandboxv1beta1.SandboxWarmPoolLabel out of its name index; the sandbox
// controller takes the label off after the adoption, which a claim's Ready
// condition does not wait for).
func RoutableByName(pod *corev1.Pod) bool {
	if _, warm := pod.Labels[sandboxv1beta1.SandboxWarmPoolLabel]; warm || pod.Status.PodIP == "" {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitRoutableByName watches the pod named name in ns (it need not exist
// yet) until RoutableByName holds for it, and returns nil then, with
// waited true if the pod was seen not routable first (the router's cache,
// a watch of its own, may then be a moment behind); or ctx's cause once
// ctx ends; or the error of a watch that cannot be made (no right to list
// pods, say).
func WaitRoutableByName(ctx context.Context, pods corev1client.PodsGetter, ns, name string) (waited bool, err error) {
	client := pods.Pods(ns)
	routable := false
	w := kube.Watch{LW: kube.ByName(name, client.List, client.Watch), Name: name, What: "pod " + name}
	err = w.Until(ctx, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		routable = ok && ev.Type != watch.Deleted && RoutableByName(p)
		waited = waited || !routable
		return routable, nil
	})
	switch {
	case routable:
		return waited, nil
	case ctx.Err() != nil:
		return waited, context.Cause(ctx)
	}
	return waited, err
}
