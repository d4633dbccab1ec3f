package claims

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
)

var podsGVR = corev1.SchemeGroupVersion.WithResource("pods")

// runningPod is a Running pod in default with a UID and a resourceVersion
// (a watch from a resourceVersion needs one in every event).
func runningPod(name, uid, rv string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(uid), ResourceVersion: rv},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

// trackedPods is a fake holding objs whose pod watches are the tracker's
// own (every change, in order), signalled on opened once registered, so
// that the test changes pods only once the watch sees the changes.
func trackedPods(objs ...runtime.Object) (*k8sfake.Clientset, <-chan struct{}) {
	client := k8sfake.NewClientset(objs...)
	opened := make(chan struct{}, 4)
	client.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		if handled, w, err := kubetest.NoStreamingList(a); handled {
			return handled, w, err
		}
		w, err := client.Tracker().Watch(podsGVR, a.GetNamespace(), a.(k8stesting.WatchActionImpl).ListOptions)
		opened <- struct{}{}
		return true, w, err
	})
	return client, opened
}

// podGoneAsync runs WaitPodGone in a goroutine. A wait that misses its end
// fails the test after a while (with the deadline's error) instead of
// hanging it.
func podGoneAsync(ctx context.Context, client *k8sfake.Clientset, pod *corev1.Pod) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		gone, err := WaitPodGone(ctx, client.CoreV1(), pod)
		if gone != nil {
			err = gone
		}
		done <- err
	}()
	return done
}

// TestWaitPodGone: the wait ends with the pod it was given (its name and
// UID), and says why; changes to another pod, and to the pod while it runs,
// do not end it. Each case ends with a change whose reason differs from the
// one a wrong end on an earlier change would give.
func TestWaitPodGone(t *testing.T) {
	ours, other := runningPod("warm-pod-1", "uid-1", "5"), runningPod("other", "uid-2", "6")
	for _, tc := range []struct {
		name   string
		change func(tr k8stesting.ObjectTracker) error
		want   string
	}{
		{"deleted, after another pod was", func(tr k8stesting.ObjectTracker) error {
			if err := tr.Delete(podsGVR, "default", "other"); err != nil {
				return err
			}
			return tr.Delete(podsGVR, "default", "warm-pod-1")
		}, "pod warm-pod-1 was deleted"},
		{"ended, after another pod was deleted and the pod changed", func(tr k8stesting.ObjectTracker) error {
			if err := tr.Delete(podsGVR, "default", "other"); err != nil {
				return err
			}
			changed := runningPod("warm-pod-1", "uid-1", "7")
			changed.Labels = map[string]string{"seen": "yes"}
			if err := tr.Update(podsGVR, changed, "default"); err != nil {
				return err
			}
			done := runningPod("warm-pod-1", "uid-1", "8")
			done.Status.Phase = corev1.PodSucceeded
			return tr.Update(podsGVR, done, "default")
		}, "pod warm-pod-1 has Succeeded"},
		{"replaced by a pod of the same name", func(tr k8stesting.ObjectTracker) error {
			return tr.Update(podsGVR, runningPod("warm-pod-1", "uid-9", "7"), "default")
		}, "pod warm-pod-1 was replaced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, opened := trackedPods(ours.DeepCopy(), other.DeepCopy())
			done := podGoneAsync(context.Background(), client, ours)
			select {
			case <-opened:
			case err := <-done:
				t.Fatalf("ended before its watch: %v", err)
			}
			if err := tc.change(client.Tracker()); err != nil {
				t.Fatal(err)
			}
			var gone *PodGoneError
			if err := <-done; !errors.As(err, &gone) || err.Error() != tc.want {
				t.Errorf("ended with %v, want %s", err, tc.want)
			}
			if got := podVerbs(client); !slices.Equal(got, []string{"watch"}) {
				t.Errorf("requests %v, want one watch from the pod's resourceVersion", got)
			}
		})
	}
}

// podVerbs lists the verbs sent for pods, in order.
func podVerbs(client *k8sfake.Clientset) []string {
	var out []string
	for _, a := range client.Actions() {
		if a.GetResource().Resource == "pods" {
			out = append(out, a.GetVerb())
		}
	}
	return out
}

// TestWaitPodGoneLists: a pod with no resourceVersion, or a watch whose
// resourceVersion is too old, is listed (by name) to learn where to watch
// from; the list alone may show the pod gone.
func TestWaitPodGoneLists(t *testing.T) {
	ours := runningPod("warm-pod-1", "uid-1", "")
	for _, tc := range []struct {
		name    string
		cluster []runtime.Object
		want    string
	}{
		{"already deleted", nil, "pod warm-pod-1 was deleted"},
		{"already replaced", []runtime.Object{runningPod("warm-pod-1", "uid-9", "3")}, "pod warm-pod-1 was replaced"},
	} {
		client := k8sfake.NewClientset(tc.cluster...)
		if err := <-podGoneAsync(context.Background(), client, ours); err == nil || err.Error() != tc.want {
			t.Errorf("%s: ended with %v, want %s", tc.name, err, tc.want)
		}
		if got := podVerbs(client); !slices.Equal(got, []string{"list"}) {
			t.Errorf("%s: requests %v, want a list", tc.name, got)
		}
	}

	// Too old: the watch ends; a list finds the pod gone.
	client := k8sfake.NewClientset(runningPod("warm-pod-1", "uid-1", "5"))
	reactor, watchers := kubetest.DrivenWatches()
	client.PrependWatchReactor("pods", reactor)
	done := podGoneAsync(context.Background(), client, runningPod("warm-pod-1", "uid-1", "5"))
	w := <-watchers
	if err := client.Tracker().Delete(podsGVR, "default", "warm-pod-1"); err != nil {
		t.Fatal(err)
	}
	w.Error(&metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old resource version"})
	if err := <-done; err == nil || err.Error() != "pod warm-pod-1 was deleted" {
		t.Errorf("ended with %v", err)
	}
	if got := podVerbs(client); !slices.Equal(got, []string{"watch", "list"}) {
		t.Errorf("requests %v, want a watch, then a list", got)
	}
}

// TestWaitPodGoneStops: the caller's context ends the wait with its cause,
// and a watch that is refused ends it with the error.
func TestWaitPodGoneStops(t *testing.T) {
	client, opened := trackedPods(runningPod("warm-pod-1", "uid-1", "5"))
	ctx, cancel := context.WithCancelCause(context.Background())
	done := podGoneAsync(ctx, client, runningPod("warm-pod-1", "uid-1", "5"))
	<-opened
	stopped := errors.New("stopped by the test")
	cancel(stopped)
	if err := <-done; !errors.Is(err, stopped) {
		t.Errorf("ended with %v, want the context's cause", err)
	}

	client = k8sfake.NewClientset()
	client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, nil, forbiddenErr("pods", "")
	})
	if err := <-podGoneAsync(context.Background(), client, runningPod("warm-pod-1", "uid-1", "5")); err == nil || err.Error() != "watching pod warm-pod-1: pods is forbidden: no" {
		t.Errorf("ended with %v", err)
	}
}

// TestWhilePodLives: the context ends, with the pod's going as its cause,
// once the pod goes; stop ends the watch (goleak checks), and leaves the
// cause alone.
func TestWhilePodLives(t *testing.T) {
	client, opened := trackedPods(runningPod("warm-pod-1", "uid-1", "5"))
	ctx, stop := WhilePodLives(context.Background(), client.CoreV1(), runningPod("warm-pod-1", "uid-1", "5"), 0)
	<-opened
	if err := client.Tracker().Delete(podsGVR, "default", "warm-pod-1"); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	stop()
	var gone *PodGoneError
	if cause := context.Cause(ctx); !errors.As(cause, &gone) || gone.Why != "deleted" {
		t.Errorf("cause %v, want the pod deleted", cause)
	}

	// Stopped while the pod lives: the context ends, not by the pod.
	client, opened = trackedPods(runningPod("warm-pod-1", "uid-1", "5"))
	ctx, stop = WhilePodLives(context.Background(), client.CoreV1(), runningPod("warm-pod-1", "uid-1", "5"), 0)
	<-opened
	stop()
	if cause := context.Cause(ctx); !errors.Is(cause, context.Canceled) {
		t.Errorf("cause %v, want context.Canceled", cause)
	}
}
