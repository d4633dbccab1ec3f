package kube

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/klog/v2"
)

// ByName lists and watches the one object called name, through a typed
// client's List and Watch (a field selector on metadata.name).
func ByName[L runtime.Object](name string, list func(context.Context, metav1.ListOptions) (L, error), watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) *cache.ListWatch {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return list(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return watchFn(ctx, o)
		},
	}
}

// Watch is a wait on the states of one object.
type Watch struct {
	// LW lists and watches the object, and nothing else (see ByName).
	LW cache.ListerWatcherWithContext
	// Name is the object's name, and What names it in errors ("pod x").
	Name, What string
	// From, if set, is a resourceVersion of the object that the caller has
	// seen: the watch starts there, without a list.
	From string
	// Absent decides a list without the object before any state of it
	// was seen: done, or an error; nil waits for it to appear.
	Absent func() (bool, error)
	// Retry retries what an informer's reflector retries: a list that fails
	// and a watch that the server refuses (forbidden, say) are tried again
	// after a backoff, until the context ends. Without it they end the wait
	// with their error.
	Retry bool
}

// relistEvery is how often a Watch lists at most when watches cannot
// resume; a backoff after errors starts there and grows to relistCap
// (variables for tests).
var (
	relistEvery = time.Second
	relistCap   = 30 * time.Second
)

// Until waits until cond holds for an event of the object, or fails. The
// object a list finds comes to cond as an Added event. The watch survives
// dropped connections and API server restarts (a RetryWatcher); one that
// cannot resume (its resourceVersion is too old) lists again, and an
// object seen before (in a list or an event) that the new list lacks
// comes to cond as Deleted.
// When ctx ends first, Until returns ctx's error; every goroutine it
// started has ended by the time it returns.
func (w Watch) Until(ctx context.Context, cond watchtools.ConditionFunc) error {
	ctx = klog.NewContext(ctx, QuietErrors(klog.FromContext(ctx)))
	backoff := wait.Backoff{Duration: relistEvery, Factor: 2, Cap: relistCap, Steps: 1 << 30}
	rv, seen := w.From, runtime.Object(nil)
	if rv == "0" {
		rv = ""
	}
	var last time.Time
	for {
		if rv == "" {
			// Lists come at most once a relistEvery, later ones spaced
			// by the backoff after failures.
			if err := sleep(ctx, time.Until(last.Add(relistEvery))); err != nil {
				return err
			}
			last = time.Now()
			var done bool
			var err error
			if rv, seen, done, err = w.list(ctx, seen, cond); done || (err != nil && !w.Retry) {
				return err
			}
			if err != nil {
				klog.FromContext(ctx).V(2).Info("Listing failed; listing again", "name", w.Name, "err", err)
				if err := sleep(ctx, backoff.Step()); err != nil {
					return err
				}
				continue
			}
		}
		var done bool
		var err error
		if seen, done, err = w.watch(ctx, rv, seen, cond); done {
			return err
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errResume):
		case !w.Retry:
			return err
		default:
			klog.FromContext(ctx).V(2).Info("Watching failed; listing again", "name", w.Name, "err", err)
			if err := sleep(ctx, backoff.Step()); err != nil {
				return err
			}
		}
		rv = ""
	}
}

// errResume is a watch that cannot resume from its resourceVersion.
var errResume = errors.New("the watch cannot resume")

// list lists the object and hands its state to cond (its absence too,
// once it was seen; else to Absent); it returns the list's resourceVersion
// and the object as seen now.
func (w Watch) list(ctx context.Context, seen runtime.Object, cond watchtools.ConditionFunc) (string, runtime.Object, bool, error) {
	list, err := w.LW.ListWithContext(ctx, metav1.ListOptions{})
	if err != nil {
		return "", seen, false, fmt.Errorf("listing %s: %w", w.What, err)
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return "", seen, false, err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return "", seen, false, err
	}
	var found runtime.Object
	for _, item := range items {
		if m, err := meta.Accessor(item); err == nil && m.GetName() == w.Name {
			found = item
		}
	}
	var done bool
	switch {
	case found != nil:
		done, err = cond(watch.Event{Type: watch.Added, Object: found})
	case seen != nil:
		done, err = cond(watch.Event{Type: watch.Deleted, Object: seen})
	case w.Absent != nil:
		done, err = w.Absent()
	}
	return lm.GetResourceVersion(), found, done || err != nil, err
}

// watch watches the object from rv until cond holds or fails (done), or
// the watch ends: errResume when it cannot resume, the server's error when
// it refuses to watch, or ctx's.
func (w Watch) watch(ctx context.Context, rv string, seen runtime.Object, cond watchtools.ConditionFunc) (runtime.Object, bool, error) {
	rw, err := watchtools.NewRetryWatcherWithContext(ctx, rv, w.LW)
	if err != nil {
		return seen, false, err
	}
	// Stopped, and its goroutine ended, before returning.
	defer func() {
		rw.Stop()
		<-rw.Done()
	}()
	for {
		var ev watch.Event
		var ok bool
		select {
		case <-ctx.Done():
			return seen, false, ctx.Err()
		case ev, ok = <-rw.ResultChan():
		}
		switch {
		case !ok:
			return seen, false, errResume
		case ev.Type == watch.Error:
			err := apierrors.FromObject(ev.Object)
			if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
				return seen, false, errResume
			}
			return seen, false, fmt.Errorf("watching %s: %w", w.What, err)
		}
		if m, err := meta.Accessor(ev.Object); err != nil || m.GetName() != w.Name {
			continue
		}
		seen = ev.Object
		if ev.Type == watch.Deleted {
			seen = nil
		}
		if done, err := cond(ev); done || err != nil {
			return seen, true, err
		}
	}
}

// sleep waits for d, or until ctx ends (its error).
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
