package sandboxd

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podconn"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

func env(kv ...string) []corev1.EnvVar {
	var out []corev1.EnvVar
	for i := 0; i < len(kv); i += 2 {
		out = append(out, corev1.EnvVar{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func TestDetect(t *testing.T) {
	defaults := Ports{GRPC: DefaultGRPCPort, REST: DefaultRESTPort}
	for _, tc := range []struct {
		name  string
		spec  corev1.PodSpec
		ports Ports
		found bool
	}{
		{name: "an empty pod", ports: defaults},
		{name: "no sandboxd", spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: env("GRPC_ADDR", "x:1")}}}, ports: defaults},
		{name: "a container named sandboxd", spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: "sandboxd"}}}, ports: defaults, found: true},
		{
			name:  "both variables",
			spec:  corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: env(EnvGRPCAddr, "127.0.0.1:9191", EnvRESTAddr, "localhost:8181")}}},
			ports: Ports{GRPC: 9191, REST: 8181}, found: true,
		},
		{
			name:  "the REST address only",
			spec:  corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: env(EnvRESTAddr, ":8282")}}},
			ports: Ports{GRPC: DefaultGRPCPort, REST: 8282}, found: true,
		},
		{
			name:  "the gRPC address only, IPv6",
			spec:  corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: env(EnvGRPCAddr, "[::1]:9393")}}},
			ports: Ports{GRPC: 9393, REST: DefaultRESTPort}, found: true,
		},
		{
			name:  "bad values fall back to the defaults",
			spec:  corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: env(EnvGRPCAddr, "9191", EnvRESTAddr, "host:http")}}},
			ports: defaults, found: true,
		},
		{
			name:  "ports out of range fall back to the defaults",
			spec:  corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: env(EnvGRPCAddr, "h:0", EnvRESTAddr, "h:65536")}}},
			ports: defaults, found: true,
		},
		{
			name:  "a variable without a value (valueFrom)",
			spec:  corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Env: env(EnvGRPCAddr, "")}}},
			ports: defaults, found: true,
		},
		{
			name: "a sidecar init container",
			spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "sandboxd", Env: env(EnvGRPCAddr, "127.0.0.1:7000", EnvRESTAddr, "127.0.0.1:7001")}},
				Containers:     []corev1.Container{{Name: "app"}},
			},
			ports: Ports{GRPC: 7000, REST: 7001}, found: true,
		},
		{
			name:  "an init container's variable",
			spec:  corev1.PodSpec{InitContainers: []corev1.Container{{Name: "setup", Env: env(EnvRESTAddr, "0.0.0.0:7002")}}, Containers: []corev1.Container{{Name: "app"}}},
			ports: Ports{GRPC: DefaultGRPCPort, REST: 7002}, found: true,
		},
	} {
		ports, found := Detect(&tc.spec)
		if ports != tc.ports || found != tc.found {
			t.Errorf("%s: Detect = %+v, %v; want %+v, %v", tc.name, ports, found, tc.ports, tc.found)
		}
	}
}

// forwardTo is a pod whose ports are the listeners at addrs (pod port ->
// address); a port without one closes its streams at once.
func forwardTo(addrs map[string]string) func(port string, conn io.ReadWriter) {
	return func(port string, conn io.ReadWriter) {
		addr, ok := addrs[port]
		if !ok {
			return // nothing listens: the stream closes at once
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = io.Copy(conn, c)
		}()
		_, _ = io.Copy(c, conn)
		_ = c.Close()
		<-done
	}
}

// sandboxdPod is an API server whose pod runs procs and files on ports;
// a port in down closes every connection.
func sandboxdPod(t *testing.T, procs *fakeProcesses, files *fakeFiles, ports Ports, down ...int) *podforwardtest.APIServer {
	t.Helper()
	return podforwardtest.NewAPIServer(t, forwardTo(podListeners(t, procs, files, ports, down...)))
}

// podListeners serves procs (gRPC) and files (REST) on loopback and maps
// the pod's ports to them (pod port -> address); a port in down has none.
func podListeners(t *testing.T, procs *fakeProcesses, files *fakeFiles, ports Ports, down ...int) map[string]string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveProcesses(t, procs, lis)
	rest := httptest.NewServer(files.handler())
	t.Cleanup(rest.Close)
	addrs := map[string]string{strconv.Itoa(ports.GRPC): lis.Addr().String(), strconv.Itoa(ports.REST): rest.Listener.Addr().String()}
	for _, p := range down {
		delete(addrs, strconv.Itoa(p))
	}
	return addrs
}

// clientsOf are clients of the API server at url; authz answers access
// reviews (nil: none).
func clientsOf(t *testing.T, url string, authz *fake.Clientset) *kube.Clients {
	t.Helper()
	cfg := &rest.Config{Host: url}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &kube.Clients{Config: cfg, Core: core}
	if authz != nil {
		c.Authz = authz.AuthorizationV1()
	}
	return c
}

var podPorts = Ports{GRPC: 7000, REST: 7001}

var boxPod = Pod{Namespace: "team", Name: "box-0", Container: "sandboxd"}

// TestDial: the forward reaches sandboxd's ports in the pod, its health is
// checked, commands and files work, and Close ends the forward.
func TestDial(t *testing.T) {
	procs := &fakeProcesses{run: func(p *fakeProc) error {
		p.stdout(strings.Join(p.req.GetConfig().GetCommand(), " "))
		return p.exit(0)
	}}
	files := newFakeFiles(t)
	srv := sandboxdPod(t, procs, files, podPorts)
	conn, err := Dial(context.Background(), clientsOf(t, srv.URL, nil), boxPod, podPorts, "box", podconn.PortForward)
	if err != nil {
		t.Fatal(err)
	}
	res, err := conn.Execute(context.Background(), sandbox.Command{Argv: []string{"echo", "hi"}})
	if err != nil || res.Stdout != "echo hi" || res.ExitCode != 0 {
		t.Errorf("Execute = %+v, %v", res, err)
	}
	if err := conn.Upload(context.Background(), "f", strings.NewReader("data")); err != nil {
		t.Error(err)
	}
	if got, _ := files.read(t, "f"); got != "data" {
		t.Errorf("uploaded %q", got)
	}
	if got := files.seen(); len(got) == 0 || got[0] != "GET /v1/health" {
		t.Errorf("sandboxd's requests %q, want the health check first", got)
	}
	conn.Close()
	recv(t, srv.Ended)
	if got := srv.Requests(); !slices.Contains(got, "POST /api/v1/namespaces/team/pods/box-0/portforward spdy/3.1") {
		t.Errorf("API requests %q", got)
	}
}

// TestDialNotReady: a sandboxd that answers 503 is not ready, and the
// forward is closed.
func TestDialNotReady(t *testing.T) {
	files := newFakeFiles(t)
	files.ready.Store(false)
	srv := sandboxdPod(t, &fakeProcesses{}, files, podPorts)
	conn, err := Dial(context.Background(), clientsOf(t, srv.URL, nil), boxPod, podPorts, "box", podconn.PortForward)
	var notReady *NotReadyError
	if !errors.As(err, &notReady) || notReady.Sandbox != "team/box" {
		t.Fatalf("Dial = %v, %v; want a *NotReadyError", conn, err)
	}
	var unreachable *UnreachableError
	if errors.As(err, &unreachable) {
		t.Errorf("Dial = %v, an *UnreachableError", err)
	}
	recv(t, srv.Ended)
}

// TestDialUnreachable: a pod whose port does not answer does not run
// sandboxd there.
func TestDialUnreachable(t *testing.T) {
	srv := sandboxdPod(t, &fakeProcesses{}, newFakeFiles(t), podPorts, podPorts.REST)
	conn, err := Dial(context.Background(), clientsOf(t, srv.URL, nil), boxPod, podPorts, "box", podconn.PortForward)
	var unreachable *UnreachableError
	if !errors.As(err, &unreachable) || unreachable.Namespace != "team" || unreachable.Pod != "box-0" || unreachable.Port != 7001 {
		t.Fatalf("Dial = %v, %v; want an *UnreachableError", conn, err)
	}
	if !strings.HasPrefix(err.Error(), "pod team/box-0 does not answer on sandboxd's port 7001: health: ") {
		t.Errorf("message %q", err)
	}
	recv(t, srv.Ended)
}

// TestDialGRPCUnreachable: sandboxd's REST port answers but nothing answers
// on the gRPC port given (a wrong --sandboxd-grpc-port): one error naming
// that port, before any command.
func TestDialGRPCUnreachable(t *testing.T) {
	srv := sandboxdPod(t, &fakeProcesses{}, newFakeFiles(t), podPorts, podPorts.GRPC)
	conn, err := Dial(context.Background(), clientsOf(t, srv.URL, nil), boxPod, podPorts, "box", podconn.PortForward)
	var unreachable *UnreachableError
	if !errors.As(err, &unreachable) || unreachable.Port != 7000 {
		t.Fatalf("Dial = %v, %v; want an *UnreachableError for port 7000", conn, err)
	}
	if want := "pod team/box-0 does not answer on sandboxd's port 7000: no gRPC server answered"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	recv(t, srv.Ended)
}

// refusingAPIServer answers every request 403, as an API server does to
// a port-forward that RBAC refuses.
func refusingAPIServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,`+
			`"message":"pods \"box-0\" is forbidden: User \"dev\" cannot create resource \"pods/portforward\" in API group \"\" in the namespace \"team\""}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestDialForbidden: a refused port-forward that an access review
// confirms is a *kube.ForbiddenError; otherwise the error is the
// forward's.
func TestDialForbidden(t *testing.T) {
	srv := refusingAPIServer(t)
	want := authzv1.ResourceAttributes{Namespace: "team", Verb: "create", Resource: "pods", Subresource: "portforward", Name: "box-0"}

	authz, asked := kubetest.Reviewer(false, nil)
	_, err := Dial(context.Background(), clientsOf(t, srv.URL, authz), boxPod, podPorts, "box", podconn.PortForward)
	var forbidden *kube.ForbiddenError
	if !errors.As(err, &forbidden) || forbidden.Namespace != "team" || forbidden.Pod != "box-0" || forbidden.Subresource != kube.PortForward || forbidden.Err == nil {
		t.Fatalf("Dial = %v, want a *kube.ForbiddenError", err)
	}
	if want := `port-forward to pod team/box-0 is forbidden: you may not create pods/portforward in namespace "team"`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	if len(*asked) != 1 || (*asked)[0] != want {
		t.Errorf("access reviews %+v, want %+v", *asked, want)
	}

	authz, asked = kubetest.Reviewer(true, nil)
	_, err = Dial(context.Background(), clientsOf(t, srv.URL, authz), boxPod, podPorts, "box", podconn.PortForward)
	if err == nil || errors.As(err, &forbidden) || len(*asked) != 1 {
		t.Errorf("Dial when allowed = %v after %d reviews, want the forward's error", err, len(*asked))
	}

	_, err = Dial(context.Background(), clientsOf(t, srv.URL, nil), boxPod, podPorts, "box", podconn.PortForward)
	if err == nil || errors.As(err, &forbidden) {
		t.Errorf("Dial without access reviews = %v, want the forward's error", err)
	}

	authz, asked = kubetest.Reviewer(false, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Dial(ctx, clientsOf(t, srv.URL, authz), boxPod, podPorts, "box", podconn.PortForward)
	if err == nil || errors.As(err, &forbidden) || len(*asked) != 0 {
		t.Errorf("Dial with a cancelled context = %v after %d reviews, want no review", err, len(*asked))
	}
	// Open leaves the refused forward to end on its own; let it, so that
	// it does not overlap the next test's.
	waitForNoGoroutineIn(t, "portforward.(*PortForwarder).ForwardPorts(")
}
