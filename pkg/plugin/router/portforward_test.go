package router

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
)

var routerLabels = map[string]string{"app": "sandbox-router"}

func routerService(ns string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: routerLabels, Ports: ports},
	}
}

// routerPod is a Running pod with the router's labels, Ready or not.
func routerPod(ns, name string, ready bool, ports ...corev1.ContainerPort) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: routerLabels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "router", Ports: ports}}},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		},
	}
}

func TestPodReady(t *testing.T) {
	deleting := routerPod("ns", "p", true)
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Unix(0, 0)}
	pending := routerPod("ns", "p", true)
	pending.Status.Phase = corev1.PodPending
	noCondition := routerPod("ns", "p", true)
	noCondition.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{"running and ready", routerPod("ns", "p", true), true},
		{"running, not ready", routerPod("ns", "p", false), false},
		{"being deleted", deleting, false},
		{"pending", pending, false},
		{"no Ready condition", noCondition, false},
	} {
		if got := podReady(tc.pod); got != tc.want {
			t.Errorf("%s: podReady = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestTargetPort(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "router-0"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "sidecar", Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9090}}},
			{Name: "router", Ports: []corev1.ContainerPort{{Name: "health", ContainerPort: 8081}, {Name: "http", ContainerPort: 8082}}},
		}},
	}
	svc := func(ports ...corev1.ServicePort) *corev1.Service {
		s := routerService("agent-sandbox-system", ports...)
		return s
	}
	for _, tc := range []struct {
		name string
		svc  *corev1.Service
		want int
		err  string
	}{
		{name: "no ports: the router's own", svc: svc(), want: 8080},
		{name: "a numeric target", svc: svc(corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(9000)}), want: 9000},
		{name: "no target: the service port", svc: svc(corev1.ServicePort{Port: 8080}), want: 8080},
		{name: "a named target in a later container", svc: svc(corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")}), want: 8082},
		{name: "only the first service port counts", svc: svc(corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("metrics")}, corev1.ServicePort{Port: 81, TargetPort: intstr.FromInt32(1)}), want: 9090},
		{
			name: "a named target the pod lacks",
			svc:  svc(corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("web")}),
			err:  `service agent-sandbox-system/sandbox-router-svc targets port "web", which router pod router-0 does not declare`,
		},
	} {
		got, err := targetPort(tc.svc, pod)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tc.want || gotErr != tc.err {
			t.Errorf("%s: got %d, %q; want %d, %q", tc.name, got, gotErr, tc.want, tc.err)
		}
	}
}

func coreClients(objs ...runtime.Object) (*kube.Clients, *fake.Clientset) {
	cs := fake.NewClientset(objs...)
	return &kube.Clients{Core: cs.CoreV1()}, cs
}

func TestFindRouterPod(t *testing.T) {
	const sys = DefaultNamespace
	http8081 := corev1.ContainerPort{Name: "http", ContainerPort: 8081}
	unlabelled := routerPod("team", "other-0", true)
	unlabelled.Labels = map[string]string{"app": "other"}
	for _, tc := range []struct {
		name         string
		objs         []runtime.Object
		ns, pod, err string
		port         int
	}{
		{
			name: "the first namespace with a ready pod",
			objs: []runtime.Object{routerService("team"), routerPod("team", "router-0", true), routerService(sys), routerPod(sys, "router-0", true)},
			ns:   "team", pod: "router-0", port: 8080,
		},
		{
			name: "the next namespace when the first has no service",
			objs: []runtime.Object{routerPod("team", "router-0", true), routerService(sys), routerPod(sys, "router-1", true)},
			ns:   sys, pod: "router-1", port: 8080,
		},
		{
			name: "the next namespace when the first has no ready pod",
			objs: []runtime.Object{routerService("team"), routerPod("team", "router-0", false), unlabelled, routerService(sys), routerPod(sys, "router-1", true)},
			ns:   sys, pod: "router-1", port: 8080,
		},
		{
			name: "the first ready pod by name",
			objs: []runtime.Object{
				routerService("team", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")}),
				routerPod("team", "router-c", true, http8081), routerPod("team", "router-a", false, http8081), routerPod("team", "router-b", true, http8081),
			},
			ns: "team", pod: "router-b", port: 8081,
		},
		{
			name: "a named target the ready pod lacks",
			objs: []runtime.Object{routerService("team", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("web")}), routerPod("team", "router-0", true, http8081)},
			ns:   "team", pod: "router-0",
			err: `service team/sandbox-router-svc targets port "web", which router pod router-0 does not declare`,
		},
		{
			name: "no router anywhere",
			objs: []runtime.Object{routerService("team"), routerPod("team", "router-0", false), unlabelled},
			err:  "cannot port-forward to the sandbox router: no ready pod behind service team/sandbox-router-svc, no service sandbox-router-svc in namespace agent-sandbox-system",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clients, _ := coreClients(tc.objs...)
			ns, pod, port, err := findRouterPod(context.Background(), clients, []string{"team", sys})
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if ns != tc.ns || pod != tc.pod || port != tc.port || gotErr != tc.err {
				t.Errorf("got %q %q %d %q; want %q %q %d %q", ns, pod, port, gotErr, tc.ns, tc.pod, tc.port, tc.err)
			}
		})
	}
}

func TestFindRouterPodAPIErrors(t *testing.T) {
	denied := errors.New("denied")
	for _, tc := range []struct {
		verb, resource string
		err            error
		want           string
	}{
		{"get", "services", apierrors.NewForbidden(schema.GroupResource{Resource: "services"}, ServiceName, denied), `looking up the router: services "sandbox-router-svc" is forbidden: denied`},
		{"list", "pods", apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", denied), `looking up router pods: pods is forbidden: denied`},
	} {
		clients, cs := coreClients(routerService("team"), routerPod("team", "router-0", true))
		cs.PrependReactor(tc.verb, tc.resource, func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, tc.err })
		_, _, _, err := findRouterPod(context.Background(), clients, []string{"team"})
		if err == nil || err.Error() != tc.want || !apierrors.IsForbidden(err) {
			t.Errorf("%s %s: error %v, want %q", tc.verb, tc.resource, err, tc.want)
		}
	}
}

// TestOpenSearchesTheRouterNamespaces: the sandbox namespace, then
// agent-sandbox-system (once), or only the namespace asked for.
func TestOpenSearchesTheRouterNamespaces(t *testing.T) {
	for _, tc := range []struct {
		name, sandboxNS, routerNS string
		problems                  []string
	}{
		{
			name: "sandbox namespace first", sandboxNS: "team",
			problems: []string{"no service sandbox-router-svc in namespace team", "no service sandbox-router-svc in namespace agent-sandbox-system"},
		},
		{
			name: "agent-sandbox-system once", sandboxNS: DefaultNamespace,
			problems: []string{"no service sandbox-router-svc in namespace agent-sandbox-system"},
		},
		{
			name: "only the router namespace given", sandboxNS: "team", routerNS: "routers",
			problems: []string{"no service sandbox-router-svc in namespace routers"},
		},
		{
			name: "the router namespace given, even the default one", sandboxNS: "team", routerNS: DefaultNamespace,
			problems: []string{"no service sandbox-router-svc in namespace agent-sandbox-system"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clients, _ := coreClients()
			_, err := Open(context.Background(), clients, Options{Namespace: tc.routerNS}, tc.sandboxNS)
			var nr *NoRouterError
			if !errors.As(err, &nr) {
				t.Fatalf("error %v is not a *NoRouterError", err)
			}
			if !reflect.DeepEqual(nr.Problems, tc.problems) {
				t.Errorf("problems %q, want %q", nr.Problems, tc.problems)
			}
		})
	}
}

// routerServer is an API server whose pod port runs a router that answers
// one HTTP request with the port and the request line.
func routerServer(t *testing.T) *podforwardtest.APIServer {
	return podforwardtest.NewAPIServer(t, func(port string, conn io.ReadWriter) {
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			return
		}
		body := fmt.Sprintf("pod port %s: %s %s", port, req.Method, req.URL.Path)
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	})
}

// coreWithREST is a fake core client whose RESTClient is real: the
// port-forward URL is built from it.
type coreWithREST struct {
	corev1client.CoreV1Interface
	rest rest.Interface
}

func (c coreWithREST) RESTClient() rest.Interface { return c.rest }

// portForwardClients are fake clients holding objs, whose port-forwards go
// to the API server at url.
func portForwardClients(t *testing.T, url string, objs ...runtime.Object) *kube.Clients {
	t.Helper()
	cfg := &rest.Config{Host: url}
	real, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &kube.Clients{Config: cfg, Core: coreWithREST{fake.NewClientset(objs...).CoreV1(), real.RESTClient()}}
}

// TestOpenPortForwardsToTheRouterPod: with neither URL nor Gateway, Open
// forwards a loopback port to the router pod's target port; Close ends it.
func TestOpenPortForwardsToTheRouterPod(t *testing.T) {
	srv := routerServer(t)
	clients := portForwardClients(t, srv.URL,
		routerService(DefaultNamespace, corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")}),
		routerPod(DefaultNamespace, "router-0", true, corev1.ContainerPort{Name: "http", ContainerPort: 8081}))
	conn, err := Open(context.Background(), clients, Options{Token: "t"}, "team")
	if err != nil {
		t.Fatal(err)
	}
	if got, path := srv.Requests(), "/api/v1/namespaces/agent-sandbox-system/pods/router-0/portforward"; len(got) != 2 || got[1] != "POST "+path+" spdy/3.1" {
		t.Errorf("port-forward requests %q, want the WebSocket try and SPDY to %s", got, path)
	}
	if conn.BaseURL.Scheme != "http" || conn.BaseURL.Hostname() != "127.0.0.1" || conn.BaseURL.Port() == "0" {
		t.Errorf("base URL %q", conn.BaseURL)
	}
	if conn.Via != "port-forward to pod agent-sandbox-system/router-0" {
		t.Errorf("via %q", conn.Via)
	}
	resp, err := (&http.Client{Transport: conn.Transport}).Get(conn.BaseURL.String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "pod port 8081: GET /healthz" {
		t.Errorf("router answered %q, %v", body, err)
	}
	conn.Close()
	<-srv.Ended
}

// TestOpenPortForwardFailures: a refused port-forward is reported, and a
// forward already open is torn down when a later step fails.
func TestOpenPortForwardFailures(t *testing.T) {
	objs := []runtime.Object{routerService(DefaultNamespace), routerPod(DefaultNamespace, "router-0", true)}
	t.Run("the API server refuses", func(t *testing.T) {
		forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "forbidden", http.StatusForbidden)
		}))
		defer forbidden.Close()
		_, err := Open(context.Background(), portForwardClients(t, forbidden.URL, objs...), Options{}, "team")
		want := "reaching the sandbox router: port-forward to pod agent-sandbox-system/router-0: error upgrading connection: unable to upgrade connection: forbidden"
		if err == nil || err.Error() != want {
			t.Fatalf("error %v, want %q", err, want)
		}
	})
	t.Run("a bad CA bundle after the forward is up", func(t *testing.T) {
		srv := routerServer(t)
		_, err := Open(context.Background(), portForwardClients(t, srv.URL, objs...), Options{CAData: []byte("not PEM")}, "team")
		if want := "the router CA bundle holds no PEM certificate"; err == nil || err.Error() != want {
			t.Fatalf("error %v, want %q", err, want)
		}
		<-srv.Ended // the forward was closed
	})
}
