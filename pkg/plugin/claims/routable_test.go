package claims

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
)

// routablePod is pod name, Running and Ready with an IP; warm adds the
// label of an unadopted warm-pool pod.
func routablePod(name, rv string, warm bool) *corev1.Pod {
	p := runningPod(name, "uid-"+name, rv)
	p.Status.PodIP = "10.0.0.7"
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if warm {
		p.Labels = map[string]string{sandboxv1beta1.SandboxWarmPoolLabel: "0fceff97"}
	}
	return p
}

func TestRoutableByName(t *testing.T) {
	noIP := routablePod("s", "1", false)
	noIP.Status.PodIP = ""
	notReady := routablePod("s", "1", false)
	notReady.Status.Conditions[0].Status = corev1.ConditionFalse
	noCondition := routablePod("s", "1", false)
	noCondition.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{"adopted, Ready, with an IP", routablePod("s", "1", false), true},
		{"still labelled a warm-pool pod", routablePod("s", "1", true), false},
		{"no IP", noIP, false},
		{"not Ready", notReady, false},
		{"no Ready condition", noCondition, false},
	} {
		if got := RoutableByName(tc.pod); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestWaitRoutableByName: the wait goes on while the pod does not exist,
// and while it is a warm-pool pod (another pod's adoption does not end
// it); it ends when the controller takes the label off.
func TestWaitRoutableByName(t *testing.T) {
	client, opened := trackedPods(routablePod("other", "3", true))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type result struct {
		waited bool
		err    error
	}
	done := make(chan result, 1)
	go func() {
		waited, err := WaitRoutableByName(ctx, client.CoreV1(), "default", "s")
		done <- result{waited, err}
	}()
	<-opened
	tr := client.Tracker()
	for _, step := range []func() error{
		func() error { return tr.Create(podsGVR, routablePod("s", "4", true), "default") },
		func() error { return tr.Update(podsGVR, routablePod("other", "5", false), "default") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-done:
			t.Fatalf("the wait ended early: %v", r.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := tr.Update(podsGVR, routablePod("s", "6", false), "default"); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.err != nil || !r.waited {
		t.Fatalf("got %v, waited %v", r.err, r.waited)
	}
}

// TestWaitRoutableByNameEnds: a pod routable at once ends the wait from
// the list, and was not waited for; one that stays a warm-pool pod ends it with the context's
// cause; a list that is refused ends it with the refusal.
func TestWaitRoutableByNameEnds(t *testing.T) {
	client := k8sfake.NewClientset(routablePod("s", "4", false))
	if waited, err := WaitRoutableByName(context.Background(), client.CoreV1(), "default", "s"); err != nil || waited {
		t.Fatalf("routable: %v, waited %v", err, waited)
	}
	client = k8sfake.NewClientset(routablePod("s", "4", true))
	stop := errors.New("stop")
	ctx, cancel := context.WithTimeoutCause(context.Background(), 100*time.Millisecond, stop)
	defer cancel()
	if _, err := WaitRoutableByName(ctx, client.CoreV1(), "default", "s"); !errors.Is(err, stop) {
		t.Fatalf("warm: %v, want %v", err, stop)
	}
	client = k8sfake.NewClientset()
	forbidden := errors.New(`pods is forbidden: User "u" cannot list resource "pods"`)
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden
	})
	if _, err := WaitRoutableByName(context.Background(), client.CoreV1(), "default", "s"); err == nil {
		t.Fatal("a refused list: no error")
	}
}
