package router

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward"
)

// NoRouterError reports that no namespace searched has a ready router pod.
type NoRouterError struct {
	// Problems says, per namespace, what is missing.
	Problems []string
}

func (e *NoRouterError) Error() string {
	return "cannot port-forward to the sandbox router: " + strings.Join(e.Problems, ", ")
}

// portForward forwards a local loopback port, in process and through the
// API server, to a ready pod behind the router Service in the first of
// namespaces that has one.
func portForward(ctx context.Context, clients *kube.Clients, namespaces []string) (*Conn, error) {
	ns, pod, port, err := findRouterPod(ctx, clients, namespaces)
	if err != nil {
		return nil, err
	}
	fw, err := podforward.Open(ctx, clients.Config, clients.Core, ns, pod, nil, []string{fmt.Sprintf("0:%d", port)})
	if err != nil {
		return nil, fmt.Errorf("reaching the sandbox router: %w", err)
	}
	base := &url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(fw.Local[0])}
	return &Conn{BaseURL: base, Via: fmt.Sprintf("port-forward to pod %s/%s", ns, pod), close: fw.Close}, nil
}

// findRouterPod returns a Running and Ready pod selected by the router
// Service, and the pod port its first service port targets.
func findRouterPod(ctx context.Context, clients *kube.Clients, namespaces []string) (string, string, int, error) {
	var problems []string
	for _, ns := range namespaces {
		svc, err := clients.Core.Services(ns).Get(ctx, ServiceName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			problems = append(problems, fmt.Sprintf("no service %s in namespace %s", ServiceName, ns))
			continue
		}
		if err != nil {
			return "", "", 0, fmt.Errorf("looking up the router: %w", err)
		}
		pods, err := clients.Core.Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
		if err != nil {
			return "", "", 0, fmt.Errorf("looking up router pods: %w", err)
		}
		sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
		for i := range pods.Items {
			if p := &pods.Items[i]; podReady(p) {
				port, err := targetPort(svc, p)
				return ns, p.Name, port, err
			}
		}
		problems = append(problems, fmt.Sprintf("no ready pod behind service %s/%s", ns, ServiceName))
	}
	return "", "", 0, &NoRouterError{Problems: problems}
}

func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// routerPort is the router's own port, for a Service that names none.
const routerPort = 8080

// targetPort resolves the Service's first port to the pod's port. A named
// target port that the pod does not declare is an error: guessing would
// send traffic to the wrong port.
func targetPort(svc *corev1.Service, pod *corev1.Pod) (int, error) {
	if len(svc.Spec.Ports) == 0 {
		return routerPort, nil
	}
	sp := svc.Spec.Ports[0]
	tp := sp.TargetPort
	switch {
	case tp.Type == intstr.Int && tp.IntVal > 0:
		return int(tp.IntVal), nil
	case tp.Type == intstr.String && tp.StrVal != "":
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == tp.StrVal {
					return int(cp.ContainerPort), nil
				}
			}
		}
		return 0, fmt.Errorf("service %s/%s targets port %q, which router pod %s does not declare", svc.Namespace, svc.Name, tp.StrVal, pod.Name)
	}
	return int(sp.Port), nil
}
