package claims

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	"k8s.io/klog/v2"
)

func TestQuietErrorsDemotesErrors(t *testing.T) {
	for _, v := range []int{0, 2} {
		var lines []string
		l := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: v})
		ctx := quietErrors(klog.NewContext(context.Background(), l))
		klog.FromContext(ctx).WithValues("k", "v").Error(errors.New("connection refused"), "Watch failed")
		switch {
		case v == 0 && len(lines) != 0:
			t.Errorf("at V(0) an error was written: %q", lines)
		case v == 2 && (len(lines) != 1 || !strings.Contains(lines[0], `"msg"="Watch failed"`) || !strings.Contains(lines[0], `"err"="connection refused"`) || strings.Contains(lines[0], `"error"`)):
			t.Errorf("at V(2): %q", lines)
		}
	}
}
