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

// maxStreamLogLevel caps client-go's logging of streams (port-forwards and
// exec relays): from level 7 on, its WebSocket tunnel logs every byte it
// carries, which includes the router's bearer token.
const maxStreamLogLevel = 6

// StreamLogger is l for client-go's streams: without its levels above 6,
// and with its errors as information (QuietErrors). Errors about single
// forwarded connections (a reset after a stream we cancel, as at exec
// --timeout) are information too: what matters reaches the caller as its
// own error.
func StreamLogger(l logr.Logger) logr.Logger {
	if l.GetSink() == nil {
		return l
	}
	return logr.New(cappedSink{QuietErrors(l).GetSink()})
}

type cappedSink struct{ logr.LogSink }

// Init does nothing: the wrapped sink was initialised when its logger was
// made (initialising it again would change klog's global call depth, racing
// with streams that log).
func (s cappedSink) Init(logr.RuntimeInfo) {}

func (s cappedSink) Enabled(level int) bool {
	return level <= maxStreamLogLevel && s.LogSink.Enabled(level)
}

func (s cappedSink) Info(level int, msg string, kv ...any) {
	if level <= maxStreamLogLevel {
		s.LogSink.Info(level, msg, kv...)
	}
}

func (s cappedSink) WithValues(kv ...any) logr.LogSink {
	return cappedSink{s.LogSink.WithValues(kv...)}
}
func (s cappedSink) WithName(name string) logr.LogSink { return cappedSink{s.LogSink.WithName(name)} }
