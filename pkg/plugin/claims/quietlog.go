package claims

import (
	"context"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

// quietErrors returns ctx with a logger that writes errors at V(2), as
// information: a watch that retries through an API server restart logs each
// failed attempt as an error, which is noise on a terminal (the wait goes on,
// and its outcome is what the user sees).
func quietErrors(ctx context.Context) context.Context {
	l := klog.FromContext(ctx)
	if l.GetSink() == nil {
		return ctx
	}
	return klog.NewContext(ctx, logr.New(demoted{l.GetSink()}))
}

type demoted struct{ logr.LogSink }

// Init does nothing: the wrapped sink is initialised already.
func (demoted) Init(logr.RuntimeInfo) {}

func (d demoted) Error(err error, msg string, kv ...any) {
	if d.Enabled(2) {
		d.Info(2, msg, append(kv, "err", err)...)
	}
}

func (d demoted) WithValues(kv ...any) logr.LogSink { return demoted{d.LogSink.WithValues(kv...)} }
func (d demoted) WithName(name string) logr.LogSink { return demoted{d.LogSink.WithName(name)} }
