package claims

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sfake "k8s.io/client-go/kubernetes/fake"
)

// limitedPod is a running pod whose container python has a memory limit
// (or none, for limit ""), and terminated, if set, as its last state.
func limitedPod(rv, limit string, last *corev1.ContainerStateTerminated) *corev1.Pod {
	p := runningPod("sb", "uid-sb", rv)
	c := corev1.Container{Name: "python"}
	if limit != "" {
		c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(limit)}
	}
	p.Spec.Containers = []corev1.Container{c}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "python", LastTerminationState: corev1.ContainerState{Terminated: last}}}
	return p
}

func oomAt(t time.Time) *corev1.ContainerStateTerminated {
	return &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137, FinishedAt: metav1.NewTime(t)}
}

func TestOOMKilledSince(t *testing.T) {
	start := time.Date(2026, 12, 7, 8, 0, 0, 400e6, time.UTC)
	for _, tc := range []struct {
		name string
		last *corev1.ContainerStateTerminated
		want string
	}{
		{"never killed", nil, ""},
		{"killed before the command", oomAt(start.Add(-2 * time.Second)), ""},
		{"killed in the command's second (stamps have whole seconds)", oomAt(start.Truncate(time.Second)), "container python of pod default/sb was OOMKilled (memory limit 128Mi) while the command ran: the command may have run"},
		{"killed after", oomAt(start.Add(time.Second)), "container python of pod default/sb was OOMKilled (memory limit 128Mi) while the command ran: the command may have run"},
		{"ended otherwise", &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 137, FinishedAt: metav1.NewTime(start.Add(time.Second))}, ""},
	} {
		got := OOMKilledSince(limitedPod("1", "128Mi", tc.last), start)
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("%s: %v", tc.name, got)
		case tc.want != "" && (got == nil || got.Error() != tc.want || got.ExitCode() != 137):
			t.Errorf("%s: %v, want %s", tc.name, got, tc.want)
		}
	}
	// The current state counts too, and a container without a limit says so.
	p := limitedPod("1", "", nil)
	p.Status.ContainerStatuses[0].State.Terminated = oomAt(start.Add(time.Second))
	if got := OOMKilledSince(p, start); got == nil || got.Error() != "container python of pod default/sb was OOMKilled while the command ran: the command may have run" {
		t.Errorf("no limit, killed now: %v", got)
	}
}

// TestWaitOOMKilled: the kubelet reports the kill a little after the
// command's connection broke: the wait sees it come. A pod without a memory
// limit is read once, and one with a limit that reports no kill is waited
// for no longer than asked.
func TestWaitOOMKilled(t *testing.T) {
	start := time.Now()
	client, opened := trackedPods(limitedPod("5", "128Mi", nil))
	go func() {
		<-opened
		_ = client.Tracker().Update(podsGVR, limitedPod("6", "128Mi", oomAt(start.Add(time.Second))), "default")
	}()
	got := WaitOOMKilled(context.Background(), client.CoreV1(), "default", "sb", start, 10*time.Second)
	if got == nil || got.Container != "python" || got.Limit != "128Mi" {
		t.Fatalf("got %v", got)
	}

	unlimited := k8sfake.NewClientset(limitedPod("5", "", nil))
	t0 := time.Now()
	if got := WaitOOMKilled(context.Background(), unlimited.CoreV1(), "default", "sb", start, time.Minute); got != nil || time.Since(t0) > 5*time.Second {
		t.Errorf("no limit: %v after %s", got, time.Since(t0))
	}
	limited := k8sfake.NewClientset(limitedPod("5", "128Mi", nil))
	t0 = time.Now()
	if got := WaitOOMKilled(context.Background(), limited.CoreV1(), "default", "sb", start, 200*time.Millisecond); got != nil || time.Since(t0) > 5*time.Second {
		t.Errorf("a limit, no kill: %v after %s", got, time.Since(t0))
	}
	gone := k8sfake.NewClientset()
	if got := WaitOOMKilled(context.Background(), gone.CoreV1(), "default", "sb", start, time.Minute); got != nil {
		t.Errorf("no pod: %v", got)
	}
	var wrapped *OOMKilledError
	if !errors.As(error(&OOMKilledError{Err: context.DeadlineExceeded}), &wrapped) || !errors.Is(wrapped, context.DeadlineExceeded) {
		t.Error("Unwrap")
	}
}
