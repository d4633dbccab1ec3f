// Package kubetest holds watch reactors for the generated fake clientsets,
// shared by the unit tests of the engine and the front-end.
package kubetest

import (
	"errors"
	"strconv"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/meta"
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
// answers every watch with a FakeWatcher (Versioned), and a channel on
// which it hands the first of them to the test, which then drives every
// event itself: no sleeps, no lost events. Later watches are not driven.
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
		return true, Versioned(w), nil
	}, watchers
}

// versions numbers the objects that Versioned stamps.
var versions atomic.Int64

// Versioned passes w's events on, giving an object that has no
// resourceVersion one (on a copy): the fakes' trackers keep none, and a
// watch that resumes where it left off (client-go's RetryWatcher) needs
// one, as every object from an API server has.
func Versioned(w watch.Interface) watch.Interface {
	return watch.Filter(w, func(ev watch.Event) (watch.Event, bool) {
		if m, err := meta.Accessor(ev.Object); err == nil && m.GetResourceVersion() == "" {
			ev.Object = ev.Object.DeepCopyObject()
			m, _ = meta.Accessor(ev.Object)
			m.SetResourceVersion(strconv.FormatInt(1000+versions.Add(1), 10))
		}
		return ev, true
	})
}
