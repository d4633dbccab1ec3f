package kube

import "github.com/go-logr/logr"

// QuietErrors returns l with its errors written at V(2), as information.
// client-go reports as errors what it retries or gives up on by itself (a
// watch retried through an API server restart, a forwarded connection
// reset when its stream is cancelled); on a terminal that is noise beside
// the command's own outcome, which is what the user sees.
func QuietErrors(l logr.Logger) logr.Logger {
	if l.GetSink() == nil {
		return l
	}
	return logr.New(demoted{l.GetSink()})
}

type demoted struct{ logr.LogSink }

// Init does nothing: the wrapped sink is initialised already (initialising
// it again would change klog's global call depth, racing with loggers in
// use).
func (demoted) Init(logr.RuntimeInfo) {}

func (d demoted) Error(err error, msg string, kv ...any) {
	if d.Enabled(2) {
		d.Info(2, msg, append(kv, "err", err)...)
	}
}

func (d demoted) WithValues(kv ...any) logr.LogSink { return demoted{d.LogSink.WithValues(kv...)} }
func (d demoted) WithName(name string) logr.LogSink { return demoted{d.LogSink.WithName(name)} }
