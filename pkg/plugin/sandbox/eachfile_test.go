package sandbox

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestEachFileIsBoundedAndStopsAtTheFirstError: per-file copies run a few
// at a time: every copy waits until transferParallel of them run at once,
// which they reach and never pass. The first error stops the ones not
// started and is returned with the count of those that completed.
func TestEachFileIsBoundedAndStopsAtTheFirstError(t *testing.T) {
	// The deadline only ends a test that would hang: copies that never run
	// transferParallel at once.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var inFlight, most atomic.Int64
	full := make(chan struct{})
	var fill sync.Once
	n, err := eachFile(ctx, 40, func(ctx context.Context, i int) error {
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		if now == transferParallel {
			fill.Do(func() { close(full) })
		}
		select {
		case <-full:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil || n != 40 {
		t.Fatalf("eachFile = %d, %v (never %d copies at once?)", n, err, transferParallel)
	}
	if m := most.Load(); m != transferParallel {
		t.Errorf("%d copies at once, want %d", m, transferParallel)
	}
	boom := errors.New("boom")
	var started atomic.Int64
	n, err = eachFile(ctx, 40, func(ctx context.Context, i int) error {
		started.Add(1)
		if i == 3 {
			return boom
		}
		<-ctx.Done() // until the failure stops the others
		return ctx.Err()
	})
	if !errors.Is(err, boom) || n != 0 || started.Load() > transferParallel+1 {
		t.Errorf("after a failure: %d done, %d started, error %v", n, started.Load(), err)
	}
}
