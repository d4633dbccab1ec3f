package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestBackoffSchedule(t *testing.T) {
	var b backoff
	s := time.Second
	for i, step := range []struct {
		uptime, want time.Duration
	}{
		// Failing at once: 0.5s doubling up to 30s.
		{0, 500 * time.Millisecond}, {0, s}, {0, 2 * s}, {0, 4 * s}, {0, 8 * s},
		{0, 16 * s}, {0, 30 * s}, {0, 30 * s},
		// Up for less than backoffReset: the schedule goes on.
		{9 * s, 30 * s},
		// Up for backoffReset or more: it starts over.
		{backoffReset, 500 * time.Millisecond}, {2 * s, s}, {0, 2 * s},
		{time.Hour, 500 * time.Millisecond},
	} {
		if got := b.delay(step.uptime); got != step.want {
			t.Fatalf("failure %d (up %s): delay %s, want %s", i+1, step.uptime, got, step.want)
		}
	}
}

func TestLastLine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"nothing", nil, ""},
		{"lines in pieces", []string{"first li", "ne\nError: bad", " value\n"}, "Error: bad value"},
		{"blank lines after the last", []string{"one\ntwo  \n\n \n"}, "two"},
		{"an unfinished line", []string{"one\ntwo"}, "two"},
		{"a long line keeps its end", []string{strings.Repeat("x", 3*maxLineLen) + "END\n"}, strings.Repeat("x", maxLineLen-3) + "END"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l lastLine
			for _, w := range tc.writes {
				if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write: %d, %v", n, err)
				}
			}
			if got := l.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// fixture is one sandbox pod as kwok leaves it (Running with an IP, not
// Ready: it has a readiness probe), a fake API server holding it, and a
// runtime for it whose process, probe and clock the test controls.
type fixture struct {
	t      *testing.T
	client *fake.Clientset
	r      *runtime
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	now     time.Time
	delays  []time.Duration    // what the runtime waited between starts
	updates []corev1.PodStatus // every status the runtime wrote, in order
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func newFixture(t *testing.T) *fixture {
	kwokTime := metav1.NewTime(t0.Add(-time.Minute))
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sb", Namespace: "default", UID: "uid-1",
			Labels: map[string]string{sandboxPodLabel: "h"}},
		Spec: corev1.PodSpec{NodeName: "kwok-node-0", Containers: []corev1.Container{{
			Name: "python-runtime", Image: "python-runtime-sandbox:v0.5.6",
		}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: "127.0.1.7", PodIPs: []corev1.PodIP{{IP: "127.0.1.7"}},
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: kwokTime},
				{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: kwokTime},
				{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: kwokTime},
			},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "python-runtime", Image: "python-runtime-sandbox:v0.5.6", Started: ptrTrue(),
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: kwokTime}},
			}},
		},
	}
	f := &fixture{t: t, client: fake.NewClientset(pod), now: t0}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	t.Cleanup(f.cancel)
	f.client.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		if a.GetSubresource() != "status" {
			t.Errorf("the runtime updated a pod other than through its status: %#v", a)
		}
		f.mu.Lock()
		f.updates = append(f.updates, *a.(k8stesting.UpdateAction).GetObject().(*corev1.Pod).Status.DeepCopy())
		f.mu.Unlock()
		return false, nil, nil // on to the fake's object tracker
	})
	s := newSupervisor(f.client, config{node: "kwok-node-0"})
	s.now = func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	s.sleep = func(ctx context.Context, d time.Duration) bool {
		f.mu.Lock()
		f.delays = append(f.delays, d)
		f.now = f.now.Add(d)
		f.mu.Unlock()
		return ctx.Err() == nil
	}
	s.probe = func(context.Context, *runtime) bool { return false }
	f.r = &runtime{sup: s, pod: pod.DeepCopy(), cancel: f.cancel, done: make(chan struct{}),
		dir: filepath.Join(t.TempDir(), "default_sb_uid-1")}
	return f
}

func ptrTrue() *bool { b := true; return &b }

// advance moves the fake clock.
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// run runs the runtime until it returns (the test's hooks cancel it).
func (f *fixture) run() {
	f.t.Helper()
	done := make(chan struct{})
	go func() { f.r.run(f.ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		f.t.Fatal("the runtime did not stop")
	}
}

func (f *fixture) pod() *corev1.Pod {
	f.t.Helper()
	p, err := f.client.CoreV1().Pods("default").Get(context.Background(), "sb", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// cond returns the pod condition of type typ.
func cond(st corev1.PodStatus, typ corev1.PodConditionType) corev1.PodCondition {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return corev1.PodCondition{}
}

// summary is one line per status the runtime wrote: the container's state
// and restart count, and the Ready condition; ContainersReady must agree.
func summary(t *testing.T, updates []corev1.PodStatus) []string {
	t.Helper()
	var out []string
	for _, st := range updates {
		if len(st.ContainerStatuses) != 1 {
			t.Fatalf("container statuses %+v", st.ContainerStatuses)
		}
		if st.Phase != corev1.PodRunning || st.PodIP != "127.0.1.7" {
			t.Errorf("phase %s, pod IP %s changed", st.Phase, st.PodIP)
		}
		cs := st.ContainerStatuses[0]
		state := "running"
		switch {
		case cs.State.Waiting != nil:
			state = "waiting " + cs.State.Waiting.Reason + " (" + cs.State.Waiting.Message + ")"
		case cs.State.Running == nil:
			state = fmt.Sprintf("unexpected state %+v", cs.State)
		}
		ready, cr := cond(st, corev1.PodReady), cond(st, corev1.ContainersReady)
		if ready.Status != cr.Status || ready.Reason != cr.Reason || ready.Message != cr.Message {
			t.Errorf("Ready %+v and ContainersReady %+v differ", ready, cr)
		}
		if (ready.Status == corev1.ConditionTrue) != cs.Ready {
			t.Errorf("Ready %s but the container's ready=%v", ready.Status, cs.Ready)
		}
		line := fmt.Sprintf("%s, restarts %d; Ready=%s %s", state, cs.RestartCount, ready.Status, ready.Reason)
		if ready.Message != "" && (cs.State.Waiting == nil || ready.Message != cs.State.Waiting.Message) {
			line += " (" + ready.Message + ")"
		}
		out = append(out, line)
	}
	return out
}

func sh(script string) *exec.Cmd { return exec.Command("sh", "-c", script) }

// TestHealthyPathOnlyReportsReady: a runtime that starts and passes its
// probe causes exactly one status write, Ready, and only once the probe
// passed; kwok's container state stays.
func TestHealthyPathOnlyReportsReady(t *testing.T) {
	f := newFixture(t)
	f.r.sup.command = func(*runtime) *exec.Cmd { return sh("exec sleep 60") }
	probes := 0
	f.r.sup.probe = func(context.Context, *runtime) bool {
		probes++
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.updates) != 0 {
			t.Errorf("status written before the probe passed: %+v", f.updates)
		}
		return probes == 3
	}
	f.client.PrependReactor("update", "pods", func(k8stesting.Action) (bool, kruntime.Object, error) {
		f.cancel() // once Ready is written, the pod goes away
		return false, nil, nil
	})
	f.run()
	if got, want := summary(t, f.updates), []string{"running, restarts 0; Ready=True "}; !reflect.DeepEqual(got, want) {
		t.Fatalf("status writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st := f.pod().Status
	if cs := st.ContainerStatuses[0]; !cs.State.Running.StartedAt.Equal(ptrTime(t0.Add(-time.Minute))) || cs.LastTerminationState != (corev1.ContainerState{}) {
		t.Errorf("container status %+v", cs)
	}
	if c := cond(st, corev1.PodInitialized); c.Status != corev1.ConditionTrue {
		t.Errorf("Initialized %+v", c)
	}
	if len(f.delays) != 0 {
		t.Errorf("waited %v", f.delays)
	}
}

func ptrTime(tm time.Time) *metav1.Time { mt := metav1.NewTime(tm); return &mt }

// TestCrashLoopBacksOffAndReportsWhy: a runtime that keeps exiting is
// started again after 0.5s, 1s, 2s... (a run of backoffReset or more starts
// the schedule over), and the pod says why each time, as a kubelet would.
func TestCrashLoopBacksOffAndReportsWhy(t *testing.T) {
	f := newFixture(t)
	starts := 0
	var release io.WriteCloser
	f.r.sup.command = func(*runtime) *exec.Cmd {
		starts++
		if starts == 4 {
			// The 4th run stays up until its probe has passed and the
			// clock says it ran for 20s.
			cmd := sh(`read x; echo "lost the connection" >&2; exit 1`)
			var err error
			if release, err = cmd.StdinPipe(); err != nil {
				t.Fatal(err)
			}
			return cmd
		}
		return sh(`echo "Starting runtime" >&2; echo "Error: Invalid value for '--limit-concurrency': 'abc' is not a valid integer." >&2; exit 2`)
	}
	f.r.sup.probe = func(context.Context, *runtime) bool {
		if starts != 4 {
			return false
		}
		f.advance(20 * time.Second)
		release.Close()
		return true
	}
	wrapped := f.r.sup.sleep
	f.r.sup.sleep = func(ctx context.Context, d time.Duration) bool {
		wrapped(ctx, d)
		return len(f.delays) < 6
	}
	f.run()

	s := time.Second
	if want := []time.Duration{s / 2, s, 2 * s, s / 2, s, 2 * s}; !reflect.DeepEqual(f.delays, want) {
		t.Errorf("delays %v, want %v", f.delays, want)
	}
	crash := func(d string) string {
		return "waiting CrashLoopBackOff (back-off " + d + " restarting failed container=python-runtime pod=default/sb: " +
			"exit status 2: Error: Invalid value for '--limit-concurrency': 'abc' is not a valid integer.)"
	}
	const running = "Ready=False ContainersNotReady (containers with unready status: [python-runtime])"
	want := []string{
		crash("500ms") + ", restarts 0; Ready=False CrashLoopBackOff",
		"running, restarts 1; " + running,
		crash("1s") + ", restarts 1; Ready=False CrashLoopBackOff",
		"running, restarts 2; " + running,
		crash("2s") + ", restarts 2; Ready=False CrashLoopBackOff",
		"running, restarts 3; " + running,
		"running, restarts 3; Ready=True ",
		"waiting CrashLoopBackOff (back-off 500ms restarting failed container=python-runtime pod=default/sb: exit status 1: lost the connection), restarts 3; Ready=False CrashLoopBackOff",
		"running, restarts 4; " + running,
		crash("1s") + ", restarts 4; Ready=False CrashLoopBackOff",
		"running, restarts 5; " + running,
		crash("2s") + ", restarts 5; Ready=False CrashLoopBackOff",
	}
	if got := summary(t, f.updates); !reflect.DeepEqual(got, want) {
		t.Fatalf("status writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The last write in full: how the last run ended, and timestamps from
	// the runtime's clock.
	cs := f.pod().Status.ContainerStatuses[0]
	last := cs.LastTerminationState.Terminated
	if last == nil || last.ExitCode != 2 || last.Reason != "Error" || last.Signal != 0 ||
		last.Message != "Error: Invalid value for '--limit-concurrency': 'abc' is not a valid integer." {
		t.Fatalf("last state %+v", cs.LastTerminationState)
	}
	// The 6th run started after 0.5+1+2+0.5+1s of back-off and the 4th
	// run's 20s.
	if want := t0.Add(25 * time.Second); !last.StartedAt.Time.Equal(want) || !last.FinishedAt.Time.Equal(want) {
		t.Errorf("last run %s..%s, want %s", last.StartedAt, last.FinishedAt, want)
	}
	if cs.Ready || cs.Started == nil || *cs.Started {
		t.Errorf("ready %v started %v", cs.Ready, cs.Started)
	}
	ready := cond(f.pod().Status, corev1.PodReady)
	if !ready.LastTransitionTime.Time.Equal(t0.Add(23500 * time.Millisecond)) {
		t.Errorf("Ready last turned False at %s, want when the 4th run exited", ready.LastTransitionTime)
	}
}

// TestStartErrorReportsRunContainerError: a runtime that cannot be started
// at all is reported RunContainerError, retried with the same back-off, and
// reported running and Ready once it starts.
func TestStartErrorReportsRunContainerError(t *testing.T) {
	f := newFixture(t)
	f.r.sup.command = func(*runtime) *exec.Cmd {
		if len(f.delays) < 3 {
			return exec.Command("/nonexistent/bwrap")
		}
		return sh("exec sleep 60")
	}
	f.r.sup.probe = func(context.Context, *runtime) bool { return true }
	f.client.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, kruntime.Object, error) {
		if cond(a.(k8stesting.UpdateAction).GetObject().(*corev1.Pod).Status, corev1.PodReady).Status == corev1.ConditionTrue {
			f.cancel()
		}
		return false, nil, nil
	})
	f.run()
	s := time.Second
	if want := []time.Duration{s / 2, s, 2 * s}; !reflect.DeepEqual(f.delays, want) {
		t.Errorf("delays %v, want %v", f.delays, want)
	}
	failed := func(d string) string {
		return "waiting RunContainerError (back-off " + d + " restarting failed container=python-runtime pod=default/sb: " +
			"fork/exec /nonexistent/bwrap: no such file or directory), restarts 0; Ready=False RunContainerError"
	}
	want := []string{
		failed("500ms"), failed("1s"), failed("2s"),
		"running, restarts 0; Ready=False ContainersNotReady (containers with unready status: [python-runtime])",
		"running, restarts 0; Ready=True ",
	}
	if got := summary(t, f.updates); !reflect.DeepEqual(got, want) {
		t.Fatalf("status writes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if cs := f.pod().Status.ContainerStatuses[0]; cs.LastTerminationState != (corev1.ContainerState{}) {
		t.Errorf("a runtime that never ran has a last state: %+v", cs.LastTerminationState)
	}
}

// TestStatusOfAReplacedPodIsLeftAlone: a pod recreated under the same name
// (another UID) is not written to.
func TestStatusOfAReplacedPodIsLeftAlone(t *testing.T) {
	f := newFixture(t)
	f.r.pod.UID = "uid-0"
	f.r.sup.command = func(*runtime) *exec.Cmd { return sh("exit 3") }
	wrapped := f.r.sup.sleep
	f.r.sup.sleep = func(ctx context.Context, d time.Duration) bool { wrapped(ctx, d); return false }
	f.run()
	if len(f.updates) != 0 {
		t.Errorf("wrote %+v", f.updates)
	}
}
