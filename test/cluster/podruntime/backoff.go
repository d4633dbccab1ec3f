package main

import "time"

// The restart back-off of a runtime that keeps failing, like a kubelet's
// CrashLoopBackOff (which runs 10s doubling to 5m; shorter here, since a
// test cluster wants a fixed runtime back soon).
const (
	initialBackoff = 500 * time.Millisecond
	maxBackoff     = 30 * time.Second
	// A runtime that stayed up this long starts over at initialBackoff
	// when it exits.
	backoffReset = 10 * time.Second
)

// backoff is the restart schedule of one runtime: initialBackoff, doubling
// after each failure up to maxBackoff.
type backoff struct {
	next time.Duration // the delay after the next failure; 0 before the first
}

// delay returns how long to wait before starting again a runtime that
// failed after running for uptime (0 if it could not start), and advances
// the schedule.
func (b *backoff) delay(uptime time.Duration) time.Duration {
	if b.next == 0 || uptime >= backoffReset {
		b.next = initialBackoff
	}
	d := b.next
	b.next = min(2*b.next, maxBackoff)
	return d
}
