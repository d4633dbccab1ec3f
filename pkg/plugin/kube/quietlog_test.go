package kube

import (
	"errors"
	"reflect"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
)

// TestQuietErrors: errors become information at level 2, through named and
// valued loggers; below level 2 they are not written; info is unchanged.
func TestQuietErrors(t *testing.T) {
	var lines []string
	l := QuietErrors(funcr.New(func(prefix, args string) { lines = append(lines, prefix+" "+args) }, funcr.Options{Verbosity: 2}))
	l.WithName("pf").WithValues("k", "v").Error(errors.New("reset"), "copy failed")
	l.V(1).Info("still here")
	want := []string{`pf "level"=2 "msg"="copy failed" "k"="v" "err"="reset"`, ` "level"=1 "msg"="still here"`}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("logged %q, want %q", lines, want)
	}
	lines = nil
	QuietErrors(funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: 1})).Error(errors.New("reset"), "copy failed")
	if len(lines) != 0 {
		t.Errorf("below level 2: %q", lines)
	}
	if got := QuietErrors(logr.Discard()); got.GetSink() != nil {
		t.Errorf("a discarding logger became %v", got.GetSink())
	}
}
