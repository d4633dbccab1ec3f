package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/client"
)

// portForward forwards a local loopback port, in process and through the
// API server, to a ready pod behind the router Service in the first of
// namespaces that has one.
func portForward(ctx context.Context, clients client.Factory, namespaces []string) (*Conn, error) {
	ns, pod, port, err := findRouterPod(ctx, clients, namespaces)
	if err != nil {
		return nil, err
	}
	cfg, err := clients.RESTConfig()
	if err != nil {
		return nil, err
	}
	core, err := clients.Core()
	if err != nil {
		return nil, err
	}
	rt, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	target := core.RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, target)
	stop, ready := make(chan struct{}), make(chan struct{})
	var errOut strings.Builder
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", port)}, stop, ready, io.Discard, &errOut)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	closeFn := func() { close(stop); <-done } //nolint:errcheck // after stop, ForwardPorts ends without an error worth reporting
	select {
	case <-ready:
	case err := <-done:
		return nil, fmt.Errorf("port-forward to router pod %s/%s: %w", ns, pod, err)
	case <-ctx.Done():
		closeFn()
		return nil, ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		closeFn()
		return nil, fmt.Errorf("port-forward to router pod %s/%s: no local port: %w", ns, pod, err)
	}
	base := &url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(int(ports[0].Local))}
	return &Conn{BaseURL: base, Via: fmt.Sprintf("port-forward to pod %s/%s", ns, pod), close: closeFn}, nil
}

// findRouterPod returns a Running and Ready pod selected by the router
// Service, and the pod port its first service port targets.
func findRouterPod(ctx context.Context, clients client.Factory, namespaces []string) (string, string, int, error) {
	core, err := clients.Core()
	if err != nil {
		return "", "", 0, err
	}
	var problems []string
	for _, ns := range namespaces {
		svc, err := core.Services(ns).Get(ctx, ServiceName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			problems = append(problems, fmt.Sprintf("no service %s in namespace %s", ServiceName, ns))
			continue
		}
		if err != nil {
			return "", "", 0, fmt.Errorf("looking up the router: %w", err)
		}
		pods, err := core.Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
		if err != nil {
			return "", "", 0, fmt.Errorf("looking up router pods: %w", err)
		}
		sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
		for i := range pods.Items {
			if p := &pods.Items[i]; podReady(p) {
				return ns, p.Name, targetPort(svc, p), nil
			}
		}
		problems = append(problems, fmt.Sprintf("no ready pod behind service %s/%s", ns, ServiceName))
	}
	return "", "", 0, errors.New("cannot port-forward to the sandbox router: " + strings.Join(problems, ", ") +
		" (deploy the router, set --router-namespace, or use --gateway or --router-url)")
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

// targetPort resolves the Service's first port to the pod's port (8080, the
// router's port, when the Service says nothing usable).
func targetPort(svc *corev1.Service, pod *corev1.Pod) int {
	if len(svc.Spec.Ports) == 0 {
		return 8080
	}
	tp := svc.Spec.Ports[0].TargetPort
	switch {
	case tp.Type == intstr.Int && tp.IntVal > 0:
		return int(tp.IntVal)
	case tp.Type == intstr.String && tp.StrVal != "":
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == tp.StrVal {
					return int(cp.ContainerPort)
				}
			}
		}
	}
	return int(svc.Spec.Ports[0].Port)
}
