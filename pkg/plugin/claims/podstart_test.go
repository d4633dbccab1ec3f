package claims

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned/fake"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// waitingPod is a pod of the sandbox name whose container python waits
// for reason (Running with no reason).
func waitingPod(name, rv, reason, message string) *corev1.Pod {
	p := runningPod(name, "uid-"+name, rv)
	p.Status.Phase = corev1.PodPending
	p.Spec.Containers = []corev1.Container{{Name: "python", Image: "local.test/missing:v1"}}
	st := corev1.ContainerStatus{Name: "python"}
	if reason != "" {
		st.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: message}
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{st}
	return p
}

func TestPodCannotStart(t *testing.T) {
	for _, tc := range []struct {
		reason string
		want   string
	}{
		{"", ""},
		{"ContainerCreating", ""},
		{"CrashLoopBackOff", ""},
		{"ErrImagePull", `pod default/s cannot start: container python (image local.test/missing:v1): ErrImagePull: failed to pull: not found`},
		{"ImagePullBackOff", `pod default/s cannot start: container python (image local.test/missing:v1): ImagePullBackOff: failed to pull: not found`},
		{"InvalidImageName", `pod default/s cannot start: container python (image local.test/missing:v1): InvalidImageName: failed to pull: not found`},
		{"CreateContainerConfigError", `pod default/s cannot start: container python (image local.test/missing:v1): CreateContainerConfigError: failed to pull: not found`},
	} {
		got := PodCannotStart(waitingPod("s", "1", tc.reason, "failed to pull: not found"))
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("%q: %v, want nothing", tc.reason, got)
		case tc.want != "" && (got == nil || got.Error() != tc.want):
			t.Errorf("%q: %v, want %s", tc.reason, got, tc.want)
		case got != nil && got.ImageProblem() != (tc.reason != "CreateContainerConfigError"):
			t.Errorf("%q: ImageProblem %v", tc.reason, got.ImageProblem())
		}
	}
	// An init container that cannot start is reported too.
	p := waitingPod("s", "1", "", "")
	p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull"}}}}
	if got := PodCannotStart(p); got == nil || got.Error() != "pod default/s cannot start: container init (image busybox): ErrImageNeverPull" {
		t.Errorf("init container: %v", got)
	}
}

// TestWaitPodCannotStart: the watch waits for a pod that does not exist
// yet, goes on while it is created and starts, and ends when its container
// cannot pull its image; another pod's failure does not end it.
func TestWaitPodCannotStart(t *testing.T) {
	client, opened := trackedPods(waitingPod("other", "3", "", ""))
	done := make(chan *PodCannotStartError, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { done <- WaitPodCannotStart(ctx, client.CoreV1(), "default", "s") }()
	<-opened
	tr := client.Tracker()
	for _, step := range []func() error{
		func() error { return tr.Create(podsGVR, waitingPod("s", "4", "ContainerCreating", ""), "default") },
		func() error { return tr.Update(podsGVR, waitingPod("other", "5", "ErrImagePull", "x"), "default") },
		func() error { return tr.Update(podsGVR, waitingPod("s", "6", "", ""), "default") },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	// Had the watch ended on any change above, it would not name the last
	// one's message.
	if err := tr.Update(podsGVR, waitingPod("s", "7", "ErrImagePull", "lookup local.test: no such host"), "default"); err != nil {
		t.Fatal(err)
	}
	why := <-done
	if why == nil || why.Pod != "s" || why.Reason != "ErrImagePull" || why.Message != "lookup local.test: no such host" {
		t.Fatalf("got %+v", why)
	}
}

// TestWaitPodCannotStartListsFirst: a pod that already cannot start when
// the watch begins is reported from the list; a watch that cannot be made
// (no right to list pods) ends with nil, leaving the caller to its wait.
func TestWaitPodCannotStartListsFirst(t *testing.T) {
	client := k8sfake.NewClientset(waitingPod("s", "4", "ImagePullBackOff", "Back-off pulling image"))
	if why := WaitPodCannotStart(context.Background(), client.CoreV1(), "default", "s"); why == nil || why.Reason != "ImagePullBackOff" {
		t.Fatalf("got %v", why)
	}
	client = k8sfake.NewClientset()
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New(`pods is forbidden: User "u" cannot list resource "pods"`)
	})
	if why := WaitPodCannotStart(context.Background(), client.CoreV1(), "default", "s"); why != nil {
		t.Fatalf("got %v", why)
	}
}

// TestCreateAndWaitPodCannotStart: with WaitHooks.Pods, a claim whose pod
// cannot pull its image ends the wait at once with the pod's reason, and
// the claim is deleted.
func TestCreateAndWaitPodCannotStart(t *testing.T) {
	ext := fake.NewSimpleClientset()
	pods, opened := trackedPods()
	claim := &extv1beta1.SandboxClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "default"}}
	// The controller's answer: the claim names its sandbox, not Ready.
	serverCreates(ext, func(c *extv1beta1.SandboxClaim) {
		c.ResourceVersion = "1"
		c.Status.SandboxStatus.Name = "c"
		c.Status.Conditions = []metav1.Condition{{Type: ConditionReady, Status: metav1.ConditionFalse, Reason: "DependenciesNotReady", Message: "Pod exists with phase: Pending"}}
	})
	go func() {
		<-opened
		_ = pods.Tracker().Create(podsGVR, waitingPod("c", "2", "ErrImagePull", "failed to resolve reference"), "default")
	}()
	_, err := CreateAndWait(context.Background(), ext, claim, 10*time.Second, WaitHooks{Pods: pods.CoreV1()})
	var why *PodCannotStartError
	var deleted *DeletedAfterError
	if !errors.As(err, &why) || !errors.As(err, &deleted) || !strings.Contains(err.Error(), "ErrImagePull: failed to resolve reference") {
		t.Fatalf("got %v", err)
	}
	if _, err := ext.ExtensionsV1beta1().SandboxClaims("default").Get(context.Background(), "c", metav1.GetOptions{}); err == nil {
		t.Error("the claim was not deleted")
	}
}
