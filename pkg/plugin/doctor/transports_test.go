package doctor

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec/podexectest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
)

// relayTo runs relays to the listener at addr, as the pod's shell would.
func relayTo(addr string) podexectest.Run {
	return func(e *podexectest.Exec) (int, error) {
		if _, ok := podexec.RelayPort(e.Command); !ok {
			return 0, fmt.Errorf("not a relay")
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return podexec.ExitRefused, nil
		}
		defer c.Close()
		_, _ = io.WriteString(e.Stdout, podexec.Ready)
		ended := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(c, e.Stdin); ended <- struct{}{} }()
		go func() { _, _ = io.Copy(e.Stdout, c); ended <- struct{}{} }()
		select {
		case <-ended:
		case <-e.Context.Done():
		}
		return 0, nil
	}
}

// TestTransports: for a sandboxd pod under gVisor, the port-forward's
// connections die, the relay over pods/exec reaches sandboxd's health,
// the router does not apply, and the data plane uses pods/exec; with
// pods/exec refused as well, the check fails and says so.
func TestTransports(t *testing.T) {
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/health" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer health.Close()
	forwards := podforwardtest.NewAPIServer(t, func(string, io.ReadWriter) {}) // streams close at once
	execs := podexectest.NewAPIServer(t, relayTo(health.Listener.Addr().String()), forwards)
	f := healthy(t)
	cfg := &rest.Config{Host: execs.URL}
	real, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.clients.Config, f.clients.Core = cfg, coreWithREST{f.core.CoreV1(), real.RESTClient()}
	gvisor := "gvisor"
	sb := &sandboxv1beta1.Sandbox{ObjectMeta: metav1.ObjectMeta{Name: "sb-probe", Namespace: ns}}
	sb.Spec.PodTemplate.Spec = corev1.PodSpec{RuntimeClassName: &gvisor, Containers: []corev1.Container{{Name: "sandboxd"}}}
	f.sandbox(t, sb)
	ready := claimWith("probe")
	ready.Status.SandboxStatus.Name = "sb-probe"

	r := transports(context.Background(), f.clients, Options{Namespace: ns}, "sandboxd-gvisor", ready, tried{})
	want := regexp.MustCompile(`^pool sandboxd-gvisor \(sandboxd, RuntimeClass gvisor\): port-forward fails \(no HTTP answer from port 8080: .+\), ` +
		`pods/exec ok \([0-9.]+[µnm]?s\), router n/a \(sandboxd listens on the pod's loopback, which the router does not reach\); the data plane uses pods/exec$`)
	if r.Status != OK || !want.MatchString(r.Detail) {
		t.Errorf("got %+v", r)
	}

	execs.Forbidden.Store(true)
	f.denied["create pods/exec"] = true
	r = transports(context.Background(), f.clients, Options{Namespace: ns}, "sandboxd-gvisor", ready, tried{})
	want = regexp.MustCompile(`pods/exec fails \(exec into pod team/sb-probe is forbidden: you may not create pods/exec in namespace "team"\), .*; the data plane uses pods/exec$`)
	if r.Status != Fail || r.Problem != NoTransport || !want.MatchString(r.Detail) {
		t.Errorf("got %+v", r)
	}
}
