package podconn

import (
	"context"
	"errors"
	"testing"

	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

func class(name, handler string) *nodev1.RuntimeClass {
	return &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Handler: handler}
}

// TestIsolated: the handler of a class that can be read decides (its name
// too), else the class's name; no class is the node's default runtime;
// each class is read once.
func TestIsolated(t *testing.T) {
	cs := fake.NewClientset(class("gvisor", "runsc"), class("sandboxed", "runsc"), class("gke", "gvisor"),
		class("kata-qemu", "kata-qemu"), class("runc", "runc"), class("gvisor-named", "runc"))
	cs.PrependReactor("get", "runtimeclasses", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if name := a.(k8stesting.GetAction).GetName(); name == "secret-gvisor" || name == "secret" {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "node.k8s.io", Resource: "runtimeclasses"}, name, errors.New("no"))
		}
		return false, nil, nil
	})
	c := NewClasses(&kube.Clients{Node: cs.NodeV1()})
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		class *string
		want  string
	}{
		{nil, ""},
		{str(""), ""},
		{str("gvisor"), "RuntimeClass gvisor (handler runsc)"},
		{str("sandboxed"), "RuntimeClass sandboxed (handler runsc)"},
		{str("gke"), "RuntimeClass gke (handler gvisor)"},
		{str("kata-qemu"), "RuntimeClass kata-qemu (handler kata-qemu)"},
		{str("runc"), ""},
		{str("gvisor-named"), "RuntimeClass gvisor-named (handler runc)"},
		{str("secret-gvisor"), "RuntimeClass secret-gvisor"},
		{str("secret"), ""},
		{str("missing"), ""},
		{str("gvisor"), "RuntimeClass gvisor (handler runsc)"},
	} {
		if got := c.Isolated(context.Background(), tc.class); got != tc.want {
			t.Errorf("Isolated(%v) = %q, want %q", tc.class, got, tc.want)
		}
	}
	gets := 0
	for _, a := range cs.Actions() {
		if a.GetVerb() == "get" {
			gets++
		}
	}
	if gets != 9 {
		t.Errorf("%d reads of RuntimeClasses, want 9 (one per class)", gets)
	}
	if got := NewClasses(&kube.Clients{}).Isolated(context.Background(), str("gvisor")); got != "RuntimeClass gvisor" {
		t.Errorf("without a node client: %q", got)
	}
}

// TestValid: the transports' names, and nothing else.
func TestValid(t *testing.T) {
	for _, n := range []string{Auto, PortForward, Exec} {
		if !Valid(n) {
			t.Errorf("%q is not valid", n)
		}
	}
	for _, n := range []string{"", "portforward", "EXEC"} {
		if Valid(n) {
			t.Errorf("%q is valid", n)
		}
	}
}
