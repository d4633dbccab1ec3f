package claims

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	agentsfake "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned/fake"
	"sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

func sandbox(name, pod string) *sandboxv1beta1.Sandbox {
	s := &sandboxv1beta1.Sandbox{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("sandbox-" + name)}}
	if pod != "" {
		s.Annotations = map[string]string{PodNameAnnotation: pod}
	}
	return s
}

func pod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("pod-" + name)}}
}

func event(name, uid string) corev1.Event {
	return corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, InvolvedObject: corev1.ObjectReference{UID: types.UID(uid)}}
}

// describeClients serves objs from the fakes of each API group; events are
// listed by involvedObject.uid, which the core fake does not filter on.
// fakes are the clientsets behind kube.Clients, for reactors.
type fakes struct {
	core   *k8sfake.Clientset
	ext    *fake.Clientset
	agents *agentsfake.Clientset
}

func describeClients(t *testing.T, objs []runtime.Object, evs []corev1.Event) (*kube.Clients, fakes) {
	var ext, agents, core []runtime.Object
	for _, o := range objs {
		switch o.(type) {
		case *sandboxv1beta1.Sandbox:
			agents = append(agents, o)
		case *corev1.Pod:
			core = append(core, o)
		default:
			ext = append(ext, o)
		}
	}
	coreClient := k8sfake.NewSimpleClientset(core...)
	coreClient.PrependReactor("list", "events", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sel, err := fields.ParseSelector(a.(k8stesting.ListActionImpl).ListOptions.FieldSelector)
		if err != nil {
			return true, nil, err
		}
		uid, ok := sel.RequiresExactMatch("involvedObject.uid")
		if !ok || a.GetNamespace() != "default" {
			t.Errorf("events listed with selector %q in namespace %q", sel, a.GetNamespace())
		}
		list := &corev1.EventList{}
		for _, e := range evs {
			if string(e.InvolvedObject.UID) == uid {
				list.Items = append(list.Items, e)
			}
		}
		return true, list, nil
	})
	agentsClient := agentsfake.NewSimpleClientset()
	for _, o := range agents {
		// Added through Create: the tracker guesses the resource "sandboxs".
		if err := agentsClient.Tracker().Create(sandboxv1beta1.GroupVersion.WithResource("sandboxes"), o, "default"); err != nil {
			t.Fatal(err)
		}
	}
	f := fakes{core: coreClient, ext: fake.NewSimpleClientset(ext...), agents: agentsClient}
	return &kube.Clients{Core: coreClient.CoreV1(), Ext: f.ext, Agents: agentsClient}, f
}

// summary words Details by the names it holds.
func summary(d *Details) string {
	if d == nil {
		return "<nil>"
	}
	var sb, p []string
	if d.Sandbox != nil {
		sb = append(sb, d.Sandbox.Name)
	}
	if d.Pod != nil {
		p = append(p, d.Pod.Name)
	}
	var evs []string
	for _, e := range d.Events {
		evs = append(evs, e.Name)
	}
	return fmt.Sprintf("claim=%s template=%s sandbox=%v pod=%v events=%v", d.Claim.Name, d.Template, sb, p, strings.Join(evs, ","))
}

func TestDescribe(t *testing.T) {
	bound := readyClaim("c1", "python-abcde")
	bound.UID = "uid-c1"
	bound.Spec.WarmPoolRef.Name = "warm"
	annotated := bound.DeepCopy()
	annotated.Status.SandboxStatus.Name = ""
	annotated.Annotations = map[string]string{SandboxNameAnnotation: "python-abcde"}
	unbound := claim("c1")
	unbound.UID = "uid-c1"
	unbound.Spec.WarmPoolRef.Name = "warm"
	evs := []corev1.Event{event("on-claim", "uid-c1"), event("on-sandbox", "sandbox-python-abcde"),
		event("on-pod", "pod-warm-pod-1"), event("on-own-pod", "pod-python-abcde"), event("elsewhere", "uid-other")}
	tests := []struct {
		name string
		objs []runtime.Object
		want string
	}{
		{"claim only", []runtime.Object{unbound, pool("warm", "python", 1)},
			"claim=c1 template=python sandbox=[] pod=[] events=on-claim"},
		{"claim -> pool -> sandbox -> adopted pod -> events",
			[]runtime.Object{bound, pool("warm", "python", 1), sandbox("python-abcde", "warm-pod-1"), pod("warm-pod-1"), pod("python-abcde")},
			"claim=c1 template=python sandbox=[python-abcde] pod=[warm-pod-1] events=on-claim,on-sandbox,on-pod"},
		{"a sandbox named by annotation, with a pod of its own name",
			[]runtime.Object{annotated, sandbox("python-abcde", ""), pod("python-abcde")},
			"claim=c1 template= sandbox=[python-abcde] pod=[python-abcde] events=on-claim,on-sandbox,on-own-pod"},
		{"the sandbox is gone", []runtime.Object{bound, pool("warm", "python", 1), pod("warm-pod-1")},
			"claim=c1 template=python sandbox=[] pod=[] events=on-claim"},
		{"the pod is gone", []runtime.Object{bound, sandbox("python-abcde", "warm-pod-1")},
			"claim=c1 template= sandbox=[python-abcde] pod=[] events=on-claim,on-sandbox"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := describeClients(t, tt.objs, evs)
			d, err := Describe(context.Background(), c, "default", "c1")
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(d); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestDescribeErrors(t *testing.T) {
	bound := readyClaim("c1", "python-abcde")
	bound.Spec.WarmPoolRef.Name = "warm"
	objs := []runtime.Object{bound, sandbox("python-abcde", "warm-pod-1"), pod("warm-pod-1")}
	forbidden := func(resource, name string) error {
		return apierrors.NewForbidden(schema.GroupResource{Resource: resource}, name, errors.New("no"))
	}
	tests := []struct {
		name  string
		setup func(fakes)
		objs  []runtime.Object
		want  string
	}{
		{name: "no claim", objs: []runtime.Object{pool("warm", "python", 1)},
			want: `sandboxclaim "c1" not found in namespace "default"`},
		{name: "the pool cannot be read", objs: append(objs, pool("warm", "python", 1)), want: "<nil>", // it only leaves the template out
			setup: func(f fakes) {
				failWithAny(&f.ext.Fake, "get", "sandboxwarmpools", forbidden("sandboxwarmpools", "warm"))
			}},
		{name: "the sandbox cannot be read", objs: objs,
			setup: func(f fakes) {
				failWithAny(&f.agents.Fake, "get", "sandboxes", forbidden("sandboxes", "python-abcde"))
			},
			want: `getting sandbox "python-abcde": sandboxes "python-abcde" is forbidden: no`},
		{name: "the pod cannot be read", objs: objs,
			setup: func(f fakes) {
				failWithAny(&f.core.Fake, "get", "pods", forbidden("pods", "warm-pod-1"))
			},
			want: `getting pod "warm-pod-1": pods "warm-pod-1" is forbidden: no`},
		{name: "events cannot be listed", objs: objs,
			setup: func(f fakes) {
				failWithAny(&f.core.Fake, "list", "events", forbidden("events", ""))
			},
			want: `listing events: events is forbidden: no`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := describeClients(t, tt.objs, nil)
			if tt.setup != nil {
				tt.setup(f)
			}
			d, err := Describe(context.Background(), c, "default", "c1")
			if errorString(err) != tt.want {
				t.Fatalf("error %v, want %s", err, tt.want)
			}
			if err == nil && summary(d) != "claim=c1 template= sandbox=[python-abcde] pod=[warm-pod-1] events=" {
				t.Errorf("got %s", summary(d))
			}
			if err != nil && d != nil {
				t.Errorf("details %s with an error", summary(d))
			}
		})
	}
}

// failWithAny makes verb on resource fail with err in any generated fake.
func failWithAny(f *k8stesting.Fake, verb, resource string, err error) {
	f.PrependReactor(verb, resource, func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, err
	})
}

func TestPodName(t *testing.T) {
	if got := PodName(sandbox("python-abcde", "warm-pod-1")); got != "warm-pod-1" {
		t.Errorf("an adopted pod: %q, want warm-pod-1", got)
	}
	if got := PodName(sandbox("python-abcde", "")); got != "python-abcde" {
		t.Errorf("a pod of its own: %q, want python-abcde", got)
	}
}
