package router

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
)

// TestMain fails the package if a test leaves a goroutine running: a
// Gateway watch or a port-forward that outlives its test would.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, podforwardtest.LeakOptions()...)
}
