package doctor

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec/podexectest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
)

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
	execs := podexectest.NewAPIServer(t, podexectest.RelayTo(health.Listener.Addr().String(), nil), forwards)
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
