package claims

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

// WarmPoolPodLabel marks the pod of a warm-pool sandbox that no claim has
// adopted yet (agents.x-k8s.io/warm-pool-sandbox). The sandbox controller
// removes it from the pod after the adoption, which a claim's Ready
// condition does not wait for.
const WarmPoolPodLabel = "agents.x-k8s.io/warm-pool-sandbox"

// RoutableByName says whether the Go sandbox router's cache finds pod by
// its namespace and name: the pod is Ready, has an IP, and is no longer an
// unadopted warm-pool pod (the cache leaves those out of its name index).
func RoutableByName(pod *corev1.Pod) bool {
	if _, warm := pod.Labels[WarmPoolPodLabel]; warm || pod.Status.PodIP == "" {
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
// yet) until RoutableByName holds for it, and returns nil then; or ctx's
// cause once ctx ends; or the error of a watch that cannot be made (no
// right to list pods, say).
func WaitRoutableByName(ctx context.Context, pods corev1client.PodsGetter, ns, name string) error {
	client := pods.Pods(ns)
	routable := false
	w := kube.Watch{LW: kube.ByName(name, client.List, client.Watch), Name: name, What: "pod " + name}
	err := w.Until(ctx, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		routable = ok && ev.Type != watch.Deleted && RoutableByName(p)
		return routable, nil
	})
	switch {
	case routable:
		return nil
	case ctx.Err() != nil:
		return context.Cause(ctx)
	}
	return err
}
