package session

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	agentsfake "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned/fake"
	extfake "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/python"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/router"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// sandboxObj is a Sandbox whose one container has env.
func sandboxObj(name string, env ...corev1.EnvVar) *sandboxv1beta1.Sandbox {
	sb := &sandboxv1beta1.Sandbox{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	sb.Spec.PodTemplate.Spec.Containers = []corev1.Container{{Name: "main", Env: env}}
	return sb
}

// runtimeSession is a session over a fake router URL, with the Sandboxes
// given, and an API server address that refuses connections.
func runtimeSession(t *testing.T, runtimeName string, sandboxes ...*sandboxv1beta1.Sandbox) (*Session, *agentsfake.Clientset) {
	t.Helper()
	srv := newRouterServer(t)
	agents := agentsfake.NewSimpleClientset()
	for _, sb := range sandboxes {
		// Created, not given to the constructor: given there, a v1beta1
		// Sandbox is not found by a v1beta1 Get of this fake.
		if _, err := agents.AgentsV1beta1().Sandboxes(ns).Create(context.Background(), sb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &rest.Config{Host: "http://127.0.0.1:1"}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := router.ParseURL(srv.URL)
	s := New(&kube.Clients{Config: cfg, Core: core, Ext: extfake.NewSimpleClientset(), Agents: agents}, ns, Options{
		Router: router.Options{URL: u}, ServerPort: 8888, Runtime: runtimeName,
	})
	t.Cleanup(s.Close)
	return s, agents
}

func TestRuntimeChoosesByThePodTemplate(t *testing.T) {
	ctx := context.Background()
	claim := readyClaim("c", "sb", "10.0.0.1")
	isPython := func(rt sandbox.Runtime, err error) bool {
		w, ok := rt.(oomAwareNames) // the python client keeps UploadsName
		if !ok {
			return false
		}
		_, ok = w.Runtime.(*python.Client)
		return err == nil && ok && w.pod == "sb" && w.ns == ns
	}
	// --runtime python reads no Sandbox.
	s, agents := runtimeSession(t, RuntimePython)
	if rt, err := s.Runtime(ctx, claim); !isPython(rt, err) || len(agents.Actions()) != 0 {
		t.Errorf("python: %T %v, actions %v", rt, err, agents.Actions())
	}
	// auto: a template that does not announce sandboxd, or a Sandbox that
	// cannot be read, is the python runtime.
	s, _ = runtimeSession(t, RuntimeAuto, sandboxObj("sb", corev1.EnvVar{Name: "OTHER", Value: "x"}))
	if rt, err := s.Runtime(ctx, claim); !isPython(rt, err) {
		t.Errorf("auto, python template: %T %v", rt, err)
	}
	s, _ = runtimeSession(t, "")
	if rt, err := s.Runtime(ctx, claim); !isPython(rt, err) {
		t.Errorf("auto, no Sandbox: %T %v", rt, err)
	}
	s, agents = runtimeSession(t, RuntimeAuto)
	agents.PrependReactor("get", "sandboxes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "agents.x-k8s.io", Resource: "sandboxes"}, "sb", errors.New("no"))
	})
	if rt, err := s.Runtime(ctx, claim); !isPython(rt, err) {
		t.Errorf("auto, forbidden: %T %v", rt, err)
	}
	// --runtime sandboxd needs the Sandbox.
	s, _ = runtimeSession(t, RuntimeSandboxd)
	if _, err := s.Runtime(ctx, claim); err == nil || !strings.HasPrefix(err.Error(), `getting sandbox "sb" of sandboxclaim "c": `) {
		t.Errorf("sandboxd, no Sandbox: %v", err)
	}
	// auto, a sandboxd template: a port-forward to the pod (which this API
	// server address refuses).
	sb := sandboxObj("sb", corev1.EnvVar{Name: "SANDBOXD_GRPC_ADDR", Value: "localhost:9999"})
	sb.Annotations = map[string]string{"agents.x-k8s.io/pod-name": "the-pod"}
	s, _ = runtimeSession(t, RuntimeAuto, sb)
	if _, err := s.Runtime(ctx, claim); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("auto, sandboxd template: %v", err)
	}
}

// TestRemotePath: an absolute path under either runtime's root names that
// root; one outside both is refused, naming both.
func TestRemotePath(t *testing.T) {
	for in, want := range map[string]string{"/app/a": "a", "/workspace/a/b": "a/b", "a": "a", "": ""} {
		if got, err := RemotePath(in); err != nil || got != want {
			t.Errorf("RemotePath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := RemotePath("/etc")
	if want := `sandbox path "/etc" is outside the runtime's root (/app, or /workspace on sandboxd), the only directory the sandbox runtime serves`; err == nil || err.Error() != want {
		t.Errorf("RemotePath(/etc) = %v, want %s", err, want)
	}
}
