package session

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	processv1 "sigs.k8s.io/agent-sandbox/packages/sandboxd/spec/process/v1"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	agentsfake "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned/fake"
	extfake "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podconn"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec/podexectest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandboxd"
)

// TestRuntimeTransport: sandboxd is reached by the transport asked for;
// auto relays over pods/exec at once, in sandboxd's container, for a pod
// whose RuntimeClass runs gVisor, and port-forwards first otherwise. (The
// fake pod runs nothing: what counts is which requests were made.)
func TestRuntimeTransport(t *testing.T) {
	for _, tc := range []struct {
		name, transport, class string
		forwards, execs        bool
	}{
		{"auto, gVisor", podconn.Auto, "gvisor", false, true},
		{"auto, runc", "", "", true, true}, // the forward's connections die: exec next
		{"port-forward, gVisor", podconn.PortForward, "gvisor", true, false},
		{"exec, runc", podconn.Exec, "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The forward's streams close at once, as under gVisor.
			forwards := podforwardtest.NewAPIServer(t, func(string, io.ReadWriter) {})
			var mu sync.Mutex
			var containers []string
			execs := podexectest.NewAPIServer(t, func(e *podexectest.Exec) (int, error) {
				mu.Lock()
				defer mu.Unlock()
				containers = append(containers, e.Container)
				return 97, nil
			}, forwards)
			sb := sandboxObj("sb", corev1.EnvVar{Name: sandboxd.EnvGRPCAddr, Value: "127.0.0.1:9090"})
			sb.Spec.PodTemplate.Spec.Containers = append(sb.Spec.PodTemplate.Spec.Containers, corev1.Container{Name: "sandboxd"})
			if tc.class != "" {
				sb.Spec.PodTemplate.Spec.RuntimeClassName = &tc.class
			}
			agents := agentsfake.NewSimpleClientset()
			if _, err := agents.AgentsV1beta1().Sandboxes(ns).Create(context.Background(), sb, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			cfg := &rest.Config{Host: execs.URL}
			core, err := corev1client.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			node := fake.NewClientset(&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "gvisor"}, Handler: "runsc"}).NodeV1()
			s := New(&kube.Clients{Config: cfg, Core: core, Ext: extfake.NewSimpleClientset(), Agents: agents, Node: node}, ns,
				Options{Runtime: RuntimeAuto, Transport: tc.transport})
			defer s.Close()
			_, err = s.Runtime(context.Background(), readyClaim("c", "sb", "10.0.0.1"))
			if _, ok := errors.AsType[*sandboxd.UnreachableError](err); !ok {
				t.Errorf("Runtime = %v, want an *UnreachableError", err)
			}
			mu.Lock()
			defer mu.Unlock()
			pf := false
			for _, r := range forwards.Requests() {
				pf = pf || strings.Contains(r, "/pods/sb/portforward")
			}
			if pf != tc.forwards || (len(containers) > 0) != tc.execs {
				t.Errorf("port-forward %v, execs in %q", pf, containers)
			}
			for _, c := range containers {
				if c != "sandboxd" {
					t.Errorf("a relay ran in container %q", c)
				}
			}
		})
	}
}

// TestRuntimeOverExec: a sandboxd that answers, reached over pods/exec,
// is the claim's runtime; Close ends its relays.
func TestRuntimeOverExec(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	processv1.RegisterProcessServiceServer(srv, processv1.UnimplementedProcessServiceServer{})
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"status":"ok"}`) }))
	defer health.Close()
	addrs := map[int]string{9090: lis.Addr().String(), 8080: health.Listener.Addr().String()}
	execs := podexectest.NewAPIServer(t, func(e *podexectest.Exec) (int, error) {
		port, _ := podexec.RelayPort(e.Command)
		c, err := net.Dial("tcp", addrs[port])
		if err != nil {
			return podexec.ExitRefused, nil
		}
		defer c.Close()
		_, _ = io.WriteString(e.Stdout, podexec.Ready)
		ended := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(c, e.Stdin); ended <- struct{}{} }()
		go func() { _, _ = io.Copy(e.Stdout, c); ended <- struct{}{} }()
		<-ended
		return 0, nil
	}, nil)
	sb := sandboxObj("sb", corev1.EnvVar{Name: sandboxd.EnvGRPCAddr, Value: "127.0.0.1:9090"})
	agents := agentsfake.NewSimpleClientset()
	if _, err := agents.AgentsV1beta1().Sandboxes(ns).Create(context.Background(), sb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := &rest.Config{Host: execs.URL}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := New(&kube.Clients{Config: cfg, Core: core, Ext: extfake.NewSimpleClientset(), Agents: agents}, ns, Options{Transport: podconn.Exec})
	rt, err := s.Runtime(context.Background(), readyClaim("c", "sb", "10.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rt.(sandbox.Streamer); !ok {
		t.Errorf("runtime %T does not stream", rt)
	}
	s.Close()
	for range 2 {
		select {
		case <-execs.Ended:
		case <-time.After(5 * time.Second):
			t.Fatal("a relay's stream did not end after Close")
		}
	}
}
