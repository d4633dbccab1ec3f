package kube

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"go.uber.org/goleak"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube/kubetest"
)

func pod(name, rv string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", ResourceVersion: rv},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

// podsWatch is a fake holding objs whose every watch the test drives: each
// is handed over on the channel, with the resourceVersion it starts from.
type drivenWatch struct {
	*watch.FakeWatcher
	from string
}

func podsWatch(t *testing.T, objs ...runtime.Object) (*k8sfake.Clientset, <-chan drivenWatch) {
	t.Helper()
	client := k8sfake.NewClientset(objs...)
	watchers := make(chan drivenWatch, 8)
	client.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		if handled, w, err := kubetest.NoStreamingList(a); handled {
			return handled, w, err
		}
		w := watch.NewFake()
		watchers <- drivenWatch{w, a.(k8stesting.WatchActionImpl).ListOptions.ResourceVersion}
		return true, w, nil
	})
	relistEvery, relistCap = time.Millisecond, 2*time.Millisecond
	t.Cleanup(func() { relistEvery, relistCap = time.Second, 30*time.Second })
	return client, watchers
}

// phases records each event cond sees as TYPE:PHASE and holds when a pod
// has phase until.
type phases struct {
	seen  []string
	until corev1.PodPhase
}

func (p *phases) cond(ev watch.Event) (bool, error) {
	pod := ev.Object.(*corev1.Pod)
	p.seen = append(p.seen, string(ev.Type)+":"+string(pod.Status.Phase))
	return pod.Status.Phase == p.until, nil
}

func podWatch(client *k8sfake.Clientset, from string, retry bool, absent func() (bool, error)) Watch {
	pods := client.CoreV1().Pods("default")
	return Watch{LW: ByName("p", pods.List, pods.Watch), Name: "p", What: "pod p", From: from, Retry: retry, Absent: absent}
}

func untilAsync(ctx context.Context, w Watch, cond func(watch.Event) (bool, error)) <-chan error {
	done := make(chan error, 1)
	go func() { done <- w.Until(ctx, cond) }()
	return done
}

// TestWatchListsThenWatches: the listed state comes first, then the
// watch's events from the list's resourceVersion; events of other objects
// are passed over.
func TestWatchListsThenWatches(t *testing.T) {
	client, watchers := podsWatch(t, pod("p", "", corev1.PodPending))
	p := &phases{until: corev1.PodSucceeded}
	done := untilAsync(context.Background(), podWatch(client, "", false, nil), p.cond)
	w := <-watchers
	if w.from == "" || w.from == "0" {
		t.Errorf("watched from %q, want the list's resourceVersion", w.from)
	}
	w.Modify(pod("other", "5", corev1.PodSucceeded))
	w.Modify(pod("p", "6", corev1.PodRunning))
	w.Modify(pod("p", "7", corev1.PodSucceeded))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := []string{"ADDED:Pending", "MODIFIED:Running", "MODIFIED:Succeeded"}; !reflect.DeepEqual(p.seen, want) {
		t.Errorf("cond saw %v, want %v", p.seen, want)
	}
}

// TestWatchFromAVersion: given a resourceVersion, the watch starts there
// without a list.
func TestWatchFromAVersion(t *testing.T) {
	client, watchers := podsWatch(t, pod("p", "", corev1.PodPending))
	p := &phases{until: corev1.PodFailed}
	done := untilAsync(context.Background(), podWatch(client, "41", false, nil), p.cond)
	w := <-watchers
	if w.from != "41" {
		t.Errorf("watched from %q, want 41", w.from)
	}
	w.Modify(pod("p", "42", corev1.PodFailed))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := []string{"MODIFIED:Failed"}; !reflect.DeepEqual(p.seen, want) {
		t.Errorf("cond saw %v, want %v", p.seen, want)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() == "list" {
			t.Errorf("listed: %v", a)
		}
	}
}

// TestWatchRelistsWhenItCannotResume: a watch whose version is too old
// (410 Gone) lists again; an object seen before that the new list lacks
// comes as Deleted.
func TestWatchRelistsWhenItCannotResume(t *testing.T) {
	client, watchers := podsWatch(t, pod("p", "", corev1.PodPending))
	p := &phases{}
	var deleted bool
	done := untilAsync(context.Background(), podWatch(client, "", false, nil), func(ev watch.Event) (bool, error) {
		deleted = ev.Type == watch.Deleted
		_, _ = p.cond(ev)
		return deleted, nil
	})
	w := <-watchers
	w.Modify(pod("p", "6", corev1.PodRunning))
	if err := client.Tracker().Delete(corev1.SchemeGroupVersion.WithResource("pods"), "default", "p"); err != nil {
		t.Fatal(err)
	}
	w.Error(&apierrors.NewResourceExpired("too old").ErrStatus)
	if err := <-done; err != nil || !deleted {
		t.Fatalf("%v, deleted %t", err, deleted)
	}
	if want := []string{"ADDED:Pending", "MODIFIED:Running", "DELETED:Running"}; !reflect.DeepEqual(p.seen, want) {
		t.Errorf("cond saw %v, want %v", p.seen, want)
	}
}

// TestWatchAbsent: a first list without the object asks Absent; without
// Absent the watch waits for the object to appear.
func TestWatchAbsent(t *testing.T) {
	client, watchers := podsWatch(t)
	errAbsent := errors.New("absent")
	if err := podWatch(client, "", false, func() (bool, error) { return false, errAbsent }).Until(context.Background(), (&phases{}).cond); !errors.Is(err, errAbsent) {
		t.Errorf("with Absent: %v", err)
	}
	p := &phases{until: corev1.PodRunning}
	done := untilAsync(context.Background(), podWatch(client, "", false, nil), p.cond)
	(<-watchers).Add(pod("p", "3", corev1.PodRunning))
	if err := <-done; err != nil || !reflect.DeepEqual(p.seen, []string{"ADDED:Running"}) {
		t.Errorf("without Absent: %v, cond saw %v", err, p.seen)
	}
}

// TestWatchErrors: without Retry a failed list and a refused watch end the
// wait, naming the object; with Retry they are tried again.
func TestWatchErrors(t *testing.T) {
	podsGR := schema.GroupResource{Resource: "pods"}
	forbidden := apierrors.NewForbidden(podsGR, "", errors.New("no"))
	t.Run("list", func(t *testing.T) {
		client, _ := podsWatch(t, pod("p", "", corev1.PodRunning))
		fails := 1
		client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
			if fails > 0 {
				fails--
				return true, nil, forbidden
			}
			return false, nil, nil
		})
		err := podWatch(client, "", false, nil).Until(context.Background(), (&phases{}).cond)
		if want := "listing pod p: pods is forbidden: no"; err == nil || err.Error() != want {
			t.Errorf("without Retry: %v, want %s", err, want)
		}
		fails = 1
		p := &phases{until: corev1.PodRunning}
		if err := podWatch(client, "", true, nil).Until(context.Background(), p.cond); err != nil || !reflect.DeepEqual(p.seen, []string{"ADDED:Running"}) {
			t.Errorf("with Retry: %v, cond saw %v", err, p.seen)
		}
	})
	t.Run("watch", func(t *testing.T) {
		client, watchers := podsWatch(t, pod("p", "", corev1.PodPending))
		refuse := 1
		client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
			if refuse > 0 {
				refuse--
				return true, nil, forbidden
			}
			return false, nil, nil
		})
		err := podWatch(client, "", false, nil).Until(context.Background(), (&phases{}).cond)
		if want := "watching pod p: pods is forbidden: no"; err == nil || err.Error() != want {
			t.Errorf("without Retry: %v, want %s", err, want)
		}
		refuse = 1
		p := &phases{until: corev1.PodRunning}
		done := untilAsync(context.Background(), podWatch(client, "", true, nil), p.cond)
		(<-watchers).Modify(pod("p", "9", corev1.PodRunning)) // after a new list
		if err := <-done; err != nil || !reflect.DeepEqual(p.seen, []string{"ADDED:Pending", "ADDED:Pending", "MODIFIED:Running"}) {
			t.Errorf("with Retry: %v, cond saw %v", err, p.seen)
		}
	})
}

// TestWatchEndsWithTheContext: an ended context ends the wait, with its
// error, also while a retried list backs off.
func TestWatchEndsWithTheContext(t *testing.T) {
	client, watchers := podsWatch(t, pod("p", "", corev1.PodPending))
	ctx, cancel := context.WithCancel(context.Background())
	done := untilAsync(ctx, podWatch(client, "", false, nil), (&phases{}).cond)
	<-watchers
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while watching: %v", err)
	}
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		cancel()
		return true, nil, errors.New("boom")
	})
	relistCap = time.Hour
	if err := podWatch(client, "", true, nil).Until(ctx, (&phases{}).cond); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while backing off: %v", err)
	}
}

// TestManyWaitsLeaveNoGoroutineBehind: a long-running server (kubectl
// sandbox mcp) waits again and again under one context that outlives every
// wait: waits that end as their condition holds, and waits that their own
// deadline cuts short at any point (where client-go's informer-backed
// watches could leave a goroutine parked). Afterwards it runs as many
// goroutines as before.
func TestManyWaitsLeaveNoGoroutineBehind(t *testing.T) {
	client := k8sfake.NewClientset(pod("p", "", corev1.PodPending))
	client.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		if handled, w, err := kubetest.NoStreamingList(a); handled {
			return handled, w, err
		}
		w := watch.NewFakeWithChanSize(1, false)
		w.Modify(pod("p", "9", corev1.PodRunning))
		return true, w, nil
	})
	server := context.Background()
	before := goleak.IgnoreCurrent()
	const waits = 2000
	for i := range waits {
		if i%2 == 0 {
			if err := podWatch(client, "", true, nil).Until(server, (&phases{until: corev1.PodRunning}).cond); err != nil {
				t.Fatal(err)
			}
			continue
		}
		ctx, cancel := context.WithTimeout(server, time.Duration(i%7)*100*time.Microsecond)
		err := podWatch(client, "", true, nil).Until(ctx, (&phases{until: corev1.PodSucceeded}).cond)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a wait cut short: %v", err)
		}
	}
	if err := goleak.Find(before); err != nil {
		t.Errorf("after %d waits: %v", waits, err)
	}
}
