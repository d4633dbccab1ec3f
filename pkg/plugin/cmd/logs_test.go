package cmd

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	k8stesting "k8s.io/client-go/testing"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
)

func TestLogsValidation(t *testing.T) {
	checkRefused(t, "logs", NewCmdLogs, []refusal{
		{[]string{"c1", "--since", "5m", "--since-time", "2026-01-02T15:04:05Z"}, "only one of --since and --since-time may be used"},
		{[]string{"c1", "--since", "-5m"}, "--since must be positive"},
		{[]string{"c1", "--tail", "-2"}, "--tail must be -1 (all lines) or more"},
		{[]string{"c1", "--limit-bytes", "-1"}, "--limit-bytes must not be negative"},
		{[]string{"c1", "--since-time", "yesterday"}, `invalid --since-time "yesterday": use RFC3339, as in 2026-01-02T15:04:05Z`},
		{[]string{"c1", "--since-time", "2026-01-02 15:04:05"}, `invalid --since-time "2026-01-02 15:04:05"`},
		{[]string{"Bad_Name"}, `invalid claim name "Bad_Name"`},
		{[]string{"c1", "c2"}, "accepts 1 arg(s), received 2"},
	})
}

// logOptions returns the options of each pods/log read (the fake records
// no pod name for them).
func logOptions(f *fakeFactory) []string {
	var got []string
	for _, a := range f.core.Actions() {
		if a.GetVerb() == "get" && a.GetSubresource() == "log" {
			g := a.(k8stesting.GenericActionImpl)
			o := g.Value.(*corev1.PodLogOptions)
			s := "container=" + o.Container
			if o.TailLines != nil {
				s += " tail=" + strconv.FormatInt(*o.TailLines, 10)
			}
			if o.SinceSeconds != nil {
				s += " since=" + strconv.FormatInt(*o.SinceSeconds, 10)
			}
			if o.SinceTime != nil {
				s += " since-time=" + o.SinceTime.UTC().Format(time.RFC3339)
			}
			if o.LimitBytes != nil {
				s += " limit=" + strconv.FormatInt(*o.LimitBytes, 10)
			}
			if o.Follow {
				s += " follow"
			}
			if o.Timestamps {
				s += " timestamps"
			}
			if o.Previous {
				s += " previous"
			}
			got = append(got, a.GetNamespace()+" "+s)
		}
	}
	return got
}

// podGets names the pods read (not their logs).
func podGets(f *fakeFactory) []string {
	var got []string
	for _, a := range f.core.Actions() {
		if g, ok := a.(k8stesting.GetActionImpl); ok && g.GetResource().Resource == "pods" && g.GetSubresource() == "" {
			got = append(got, g.GetName())
		}
	}
	return got
}

// podWatches lists the lists and watches of pods.
func podWatches(f *fakeFactory) []string {
	var got []string
	for _, a := range f.core.Actions() {
		if a.GetResource().Resource == "pods" && (a.GetVerb() == "watch" || a.GetVerb() == "list") {
			got = append(got, a.GetVerb())
		}
	}
	return got
}

func TestLogsRun(t *testing.T) {
	objs := []runtime.Object{
		claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady"), sandboxObj("sb-a", "warm-pod-1"),
		sandboxPod("warm-pod-1", corev1.PodRunning), sandboxPod("sb-a", corev1.PodRunning),
	}
	for _, tc := range []struct {
		args []string
		opts string
	}{
		{[]string{"a"}, "container=runtime"},
		{[]string{"a", "-c", "sidecar", "--tail", "10", "--timestamps", "-f"}, "container=sidecar tail=10 follow timestamps"},
		{[]string{"a", "--since", "90s", "--limit-bytes", "100", "-p"}, "container=runtime since=90 limit=100 previous"},
		{[]string{"a", "--since-time", "2026-11-25T10:00:00+01:00", "--tail", "0"}, "container=runtime tail=0 since-time=2026-11-25T09:00:00Z"},
	} {
		f := newFakeFactory(objs...)
		res := runWith(t, f, NewCmdLogs, "", tc.args)
		if res.err != nil || res.out != "fake logs" {
			t.Errorf("%q: %+v", tc.args, res)
		}
		if got := logOptions(f); len(got) != 1 || got[0] != "default "+tc.opts {
			t.Errorf("%q: log reads %q, want one with %s", tc.args, got, tc.opts)
		}
		// The adopted pod the Sandbox names, not a pod of its own name.
		if got := podGets(f); len(got) != 1 || got[0] != "warm-pod-1" {
			t.Errorf("%q: pods read %q, want warm-pod-1", tc.args, got)
		}
		// Without -f, nothing watches the pod.
		if got := podWatches(f); !slices.Contains(tc.args, "-f") && len(got) != 0 {
			t.Errorf("%q: %v, want no pod watch without -f", tc.args, got)
		}
	}
	t.Run("an unknown container", func(t *testing.T) {
		f := newFakeFactory(objs...)
		res := runWith(t, f, NewCmdLogs, "", []string{"a", "-c", "nope"})
		if res.err == nil || res.err.Error() != `container "nope" is not in pod warm-pod-1 of sandboxclaim "a" (it has: runtime, sidecar)` {
			t.Errorf("%+v", res)
		}
		if got := logOptions(f); len(got) != 0 {
			t.Errorf("logs read: %q", got)
		}
	})
	t.Run("a suspended sandbox", func(t *testing.T) {
		suspended := sandboxObj("sb-a", "")
		suspended.Spec.OperatingMode = sandboxv1beta1.SandboxOperatingModeSuspended
		res, _ := run(t, NewCmdLogs, []string{"a"}, objs[0], suspended)
		var noPod *claims.NoPodError
		if !errors.As(res.err, &noPod) || !noPod.Suspended || res.err.Error() != `sandbox sb-a of sandboxclaim "a" is suspended: it has no pod` {
			t.Errorf("%+v", res)
		}
	})
	t.Run("the log read fails", func(t *testing.T) {
		f := newFakeFactory(objs...)
		f.core.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() == "log" {
				return true, nil, errors.New("container runtime is not running")
			}
			return false, nil, nil
		})
		res := runWith(t, f, NewCmdLogs, "", []string{"a"})
		// The fake wraps the error in a URL error.
		if res.err == nil || !strings.HasPrefix(res.err.Error(), "logs of pod warm-pod-1: ") ||
			!strings.HasSuffix(res.err.Error(), ": container runtime is not running") || res.out != "" {
			t.Errorf("%+v: %v", res, res.err)
		}
	})
	t.Run("an unknown claim", func(t *testing.T) {
		res, _ := run(t, NewCmdLogs, []string{"zz"}, objs...)
		var nf *claims.NotFoundError
		if !errors.As(res.err, &nf) {
			t.Errorf("%+v", res)
		}
	})
}

// pipeLogs opens log streams that the test writes through the writers sent
// on streams, and that end when their context does: the API server's
// stream, for a pod the server says still runs (kwok's stub always does).
func pipeLogs(streams chan<- *io.PipeWriter) func(context.Context, corev1client.PodsGetter, *corev1.Pod, *corev1.PodLogOptions) (io.ReadCloser, error) {
	return func(ctx context.Context, _ corev1client.PodsGetter, _ *corev1.Pod, _ *corev1.PodLogOptions) (io.ReadCloser, error) {
		r, w := io.Pipe()
		context.AfterFunc(ctx, func() { w.CloseWithError(context.Cause(ctx)) })
		streams <- w
		return r, nil
	}
}

// logsWith is the logs verb with open as its log streams and no drain time.
func logsWith(open func(context.Context, corev1client.PodsGetter, *corev1.Pod, *corev1.PodLogOptions) (io.ReadCloser, error)) verbCtor {
	return func(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
		o := newLogsOptions(f, streams)
		o.OpenLogs, o.Drain = open, 0
		return newLogsCommand(o)
	}
}

// livePod is a Running pod with containers runtime and sidecar, a UID and a
// resourceVersion (a watch from a resourceVersion needs one in each event).
func livePod(name, uid, rv string) *corev1.Pod {
	p := sandboxPod(name, corev1.PodRunning)
	p.UID, p.ResourceVersion = types.UID(uid), rv
	return p
}

// following starts `logs a -f` against a claim whose sandbox's pod is
// warm-pod-1 (uid-1), next to another pod, with the log stream and the pod
// watch in the test's hands.
func following(t *testing.T, ctx context.Context, cancel context.CancelFunc) (*started, *io.PipeWriter, *watch.FakeWatcher) {
	t.Helper()
	f := newFakeFactory(claimObj("a", "python", "sb-a", testNow, metav1.ConditionTrue, "DependenciesReady"), sandboxObj("sb-a", "warm-pod-1"),
		livePod("warm-pod-1", "uid-1", "5"), livePod("other", "uid-2", "6"))
	reactor, watchers := kubetest.DrivenWatches()
	f.core.PrependWatchReactor("pods", reactor)
	streams := make(chan *io.PipeWriter, 1)
	v := startCtx(t, ctx, cancel, f, logsWith(pipeLogs(streams)), []string{"a", "-f"})
	var stream *io.PipeWriter
	var w *watch.FakeWatcher
	for stream == nil || w == nil {
		select {
		case stream = <-streams:
		case w = <-watchers:
		case err := <-v.done:
			t.Fatalf("the follow ended before it began: %v", err)
		case <-time.After(hang):
			t.Fatalf("no log stream (%v) or no pod watch (%v) after %s", stream != nil, w != nil, hang)
		}
	}
	writeLine(t, v, stream, "line 1\n")
	return v, stream, w
}

// writeLine writes a line to the log stream and checks the verb prints it.
func writeLine(t *testing.T, v *started, stream *io.PipeWriter, line string) {
	t.Helper()
	if _, err := io.WriteString(stream, line); err != nil {
		t.Fatalf("the log stream ended before %q: %v", line, err)
	}
	if got := v.line(t); got != line {
		t.Fatalf("printed %q, want %q", got, line)
	}
}

// sendEvents sends evs to the pod watch; the follow ending before the last
// is received fails the test. The watch passes one event on at a time, so
// once the last is received the ones before it were looked at, and did not
// end the follow. (A follow that ends stops the watch: a send then panics,
// recovered here.)
func sendEvents(t *testing.T, v *started, w *watch.FakeWatcher, evs ...watch.Event) {
	t.Helper()
	sent := make(chan struct{})
	go func() {
		defer func() { _ = recover() }()
		for _, ev := range evs {
			w.Action(ev.Type, ev.Object)
		}
		close(sent)
	}()
	select {
	case <-sent:
	case err := <-v.done:
		v.done <- err
		t.Fatalf("the follow ended (%v) on a change that is not its pod's going", err)
	case <-time.After(hang):
		t.Fatalf("the pod watch took no events within %s", hang)
	}
}

// TestLogsFollowEndsWhenThePodGoes: `logs -f` ends, printing what arrived
// and with no error, when its pod is deleted, replaced by a new pod of the
// same name, or ends; not when another pod is deleted or its pod changes.
func TestLogsFollowEndsWhenThePodGoes(t *testing.T) {
	succeeded := livePod("warm-pod-1", "uid-1", "10")
	succeeded.Status.Phase = corev1.PodSucceeded
	for _, tc := range []struct {
		name string
		end  watch.Event
	}{
		{"deleted", watch.Event{Type: watch.Deleted, Object: livePod("warm-pod-1", "uid-1", "10")}},
		{"replaced", watch.Event{Type: watch.Added, Object: livePod("warm-pod-1", "uid-9", "10")}},
		{"succeeded", watch.Event{Type: watch.Modified, Object: succeeded}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			v, stream, w := following(t, ctx, cancel)
			changed := livePod("warm-pod-1", "uid-1", "8")
			changed.Labels = map[string]string{"seen": "yes"}
			sendEvents(t, v, w,
				watch.Event{Type: watch.Deleted, Object: livePod("other", "uid-2", "7")},
				watch.Event{Type: watch.Modified, Object: changed},
				watch.Event{Type: watch.Modified, Object: livePod("warm-pod-1", "uid-1", "9")})
			writeLine(t, v, stream, "line 2\n")
			w.Action(tc.end.Type, tc.end.Object)
			if err := v.ended(t); err != nil {
				t.Errorf("the follow ended with %v, want none", err)
			}
			select {
			case l := <-v.out:
				t.Errorf("printed %q after the end", l)
			default:
			}
			if _, err := io.WriteString(stream, "line 3\n"); err == nil {
				t.Error("the log stream is still open")
			}
		})
	}
}

// TestLogsFollowInterrupted: Ctrl-C ends a follow with the interruption (the
// exit code is 130 from it), not as the pod's going.
func TestLogsFollowInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	v, _, _ := following(t, ctx, func() { cancel(nil) })
	cancel(&Interrupt{Signal: syscall.SIGINT})
	var sig *Interrupt
	if err := v.ended(t); !errors.As(err, &sig) || sig.Signal != syscall.SIGINT {
		t.Errorf("the follow ended with %v, want the interruption", err)
	}
}
