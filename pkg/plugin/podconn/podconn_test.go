package podconn

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podexec"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
)

func clientsOf(t *testing.T, url string, allowed *bool) *kube.Clients {
	t.Helper()
	cfg := &rest.Config{Host: url}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &kube.Clients{Config: cfg, Core: core}
	if allowed != nil {
		cs, _ := kubetest.Reviewer(*allowed, nil)
		c.Authz = cs.AuthorizationV1()
	}
	return c
}

// TestForward: each forwarded port is dialled through its own local
// port; another port is an error; a refused forward is a
// *kube.ForbiddenError when a review confirms it.
func TestForward(t *testing.T) {
	srv := podforwardtest.NewAPIServer(t, func(port string, conn io.ReadWriter) {
		_, _ = io.WriteString(conn, "port "+port)
	})
	fw, err := Forward(context.Background(), clientsOf(t, srv.URL, nil), "team", "box-0", 7000, 7001)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"7000", "7001"} {
		c, err := fw.DialPort(context.Background(), map[string]int{"7000": 7000, "7001": 7001}[p])
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(c)
		_ = c.Close()
		if string(got) != "port "+p {
			t.Errorf("read %q through port %s", got, p)
		}
	}
	if _, err := fw.DialPort(context.Background(), 8080); err == nil || err.Error() != "port 8080 is not forwarded" {
		t.Errorf("DialPort(8080) = %v", err)
	}
	if fw.Transport() != PortForward {
		t.Errorf("transport %s", fw.Transport())
	}
	fw.Close()

	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403}`, http.StatusForbidden)
	}))
	defer refusing.Close()
	no := false
	_, err = Forward(context.Background(), clientsOf(t, refusing.URL, &no), "team", "box-0", 7000)
	if f, ok := errors.AsType[*kube.ForbiddenError](err); !ok || f.Subresource != kube.PortForward {
		t.Errorf("Forward refused = %v, want a *kube.ForbiddenError", err)
	}
}

// TestRelay: a relay dialer holds nothing and says it is Exec.
func TestRelay(t *testing.T) {
	r := Relay(&kube.Clients{}, podexec.Target{Namespace: "team", Pod: "box-0"})
	r.Close()
	if r.Transport() != Exec || r.Target().String() != "team/box-0" {
		t.Errorf("transport %s, target %s", r.Transport(), r.Target())
	}
}
