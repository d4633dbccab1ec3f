// Package kubetest holds watch reactors for the generated fake clientsets,
// shared by the unit tests of the engine and the front-end.
package kubetest

import (
	"errors"

	"go.uber.org/goleak"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"
)

// NoStreamingList refuses a streaming list, which the fakes cannot serve,
// so that reflectors fall back to LIST and WATCH, as they do against
// servers without it. Other watches go on to the next reactor.
func NoStreamingList(a k8stesting.Action) (bool, watch.Interface, error) {
	if wa, ok := a.(k8stesting.WatchActionImpl); ok && wa.ListOptions.SendInitialEvents != nil {
		return true, nil, errors.New("this fake does not stream lists")
	}
	return false, nil, nil
}

// DrivenWatches returns a watch reactor that refuses streaming lists and
// answers every watch with a FakeWatcher, and a channel on which it hands
// the first of them to the test, which then drives every event itself: no
// sleeps, no lost events. Later watches are not driven.
func DrivenWatches() (k8stesting.WatchReactionFunc, <-chan *watch.FakeWatcher) {
	watchers := make(chan *watch.FakeWatcher, 1)
	return func(a k8stesting.Action) (bool, watch.Interface, error) {
		if handled, w, err := NoStreamingList(a); handled {
			return handled, w, err
		}
		w := watch.NewFake()
		select {
		case watchers <- w:
		default: // a later watch the test does not drive
		}
		return true, w, nil
	}, watchers
}

// InformerWatcherRace is a goleak option for the one goroutine that
// client-go's informer-backed watches (watchtools.UntilWithSync) can leave
// behind: its event processor's stop signals a sync.Cond without holding
// the lock, so a processor between its check and its Wait misses the
// signal and stays parked (client-go v0.37.2, tools/watch/informerwatcher.go).
// It is client-go's, it holds no resources of ours, and nothing else is
// ignored.
var InformerWatcherRace = goleak.IgnoreAnyFunction("k8s.io/client-go/tools/watch.(*eventProcessor).run")
