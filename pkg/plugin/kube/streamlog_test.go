package kube

import (
	"errors"
	"reflect"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
)

// TestStreamLogsStopAtLevel6: client-go's stream logs above level 6
// (which carry the tunnelled bytes, the router token among them) are
// dropped, also through named and valued loggers; the rest pass.
func TestStreamLogsStopAtLevel6(t *testing.T) {
	var lines []string
	base := funcr.New(func(prefix, args string) { lines = append(lines, prefix+" "+args) }, funcr.Options{Verbosity: 10})
	l := StreamLogger(base).WithName("client").WithValues("pod", "router-0")
	l.V(6).Info("negotiated")
	l.V(7).Info("data", "bytes", "Authorization: Bearer s3cret")
	l.GetSink().Info(7, "data", "bytes", "Authorization: Bearer s3cret")
	if l.V(7).Enabled() || !l.V(6).Enabled() {
		t.Errorf("enabled at 6: %v, at 7: %v; want true, false", l.V(6).Enabled(), l.V(7).Enabled())
	}
	if want := []string{`client "level"=6 "msg"="negotiated" "pod"="router-0"`}; !reflect.DeepEqual(lines, want) {
		t.Errorf("logged %q, want %q", lines, want)
	}
	// Errors of forwarded connections are information at level 2.
	lines = nil
	l.Error(errors.New("connection reset by peer"), "Error copying")
	if want := []string{`client "level"=2 "msg"="Error copying" "pod"="router-0" "err"="connection reset by peer"`}; !reflect.DeepEqual(lines, want) {
		t.Errorf("logged %q, want %q", lines, want)
	}
	lines = nil
	quiet := funcr.New(func(prefix, args string) { lines = append(lines, prefix+" "+args) }, funcr.Options{Verbosity: 1})
	StreamLogger(quiet).Error(errors.New("reset"), "Error copying")
	if len(lines) != 0 {
		t.Errorf("below level 2, an error was logged: %q", lines)
	}
	if got := StreamLogger(logr.Discard()); got.GetSink() != nil {
		t.Errorf("a discarding logger became %v", got.GetSink())
	}
}
