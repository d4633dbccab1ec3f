package session

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sfake "k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// brokenRuntime fails every command with err, as a runtime whose container
// died under it does; it streams when asked to.
type brokenRuntime struct {
	sandbox.Runtime
	err error
}

func (r brokenRuntime) Execute(context.Context, sandbox.Command) (*sandbox.Result, error) {
	return nil, r.err
}

type brokenStreamer struct{ brokenRuntime }

func (r brokenStreamer) Stream(context.Context, sandbox.Command, sandbox.Streams) (int, error) {
	return 0, r.err
}

// oomPod is pod sb with a 64Mi limit, OOM-killed at killed (zero: never).
func oomPod(killed time.Time) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "sb", Namespace: ns}}
	p.Spec.Containers = []corev1.Container{{Name: "runtime", Resources: corev1.ResourceRequirements{
		Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}
	st := corev1.ContainerStatus{Name: "runtime"}
	if !killed.IsZero() {
		st.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137, FinishedAt: metav1.NewTime(killed)}
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{st}
	return p
}

// TestCommandsOfAnOOMKilledContainerSaySo: a command whose connection
// breaks as its container is OOM-killed fails with a *claims.OOMKilledError
// wrapping the connection's error, whether the runtime streams or not; an
// earlier kill, an interrupted command and a command that timed out keep
// their own errors.
func TestCommandsOfAnOOMKilledContainerSaySo(t *testing.T) {
	defer func(w time.Duration) { oomWait = w }(oomWait)
	oomWait = 100 * time.Millisecond
	lost := errors.New("the connection was lost")
	soon := time.Now().Add(time.Hour) // after any command's start, however slow the test runs
	for _, tc := range []struct {
		name   string
		killed time.Time
		err    error
		ctx    func() context.Context
		oom    bool
	}{
		{"killed while it ran", soon, lost, context.Background, true},
		{"killed long before", time.Now().Add(-time.Hour), lost, context.Background, false},
		{"never killed", time.Time{}, lost, context.Background, false},
		{"interrupted", soon, lost, func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, false},
		{"timed out", soon, &sandbox.CommandTimeoutError{}, context.Background, false},
	} {
		pods := k8sfake.NewClientset(oomPod(tc.killed)).CoreV1()
		for _, rt := range []sandbox.Runtime{brokenRuntime{err: tc.err}, brokenStreamer{brokenRuntime{err: tc.err}}} {
			w := explainOOM(rt, pods, ns, "sb")
			_, err := w.Execute(tc.ctx(), sandbox.Command{Argv: []string{"true"}})
			if st, ok := w.(sandbox.Streamer); ok {
				_, err = st.Stream(tc.ctx(), sandbox.Command{Argv: []string{"true"}}, sandbox.Streams{Stdout: io.Discard})
			}
			var oom *claims.OOMKilledError
			if got := errors.As(err, &oom); got != tc.oom || !errors.Is(err, tc.err) {
				t.Errorf("%s (%T): %v", tc.name, rt, err)
			}
		}
	}
}

// TestExplainOOMKeepsWhatTheRuntimeCan: the wrapped runtime streams, or
// refuses upload names, exactly when the runtime it wraps does.
func TestExplainOOMKeepsWhatTheRuntimeCan(t *testing.T) {
	pods := k8sfake.NewClientset().CoreV1()
	if _, ok := explainOOM(brokenRuntime{}, pods, ns, "sb").(sandbox.Streamer); ok {
		t.Error("a runtime that does not stream streams")
	}
	if _, ok := explainOOM(brokenStreamer{}, pods, ns, "sb").(sandbox.Streamer); !ok {
		t.Error("a runtime that streams does not")
	}
}
