package doctor

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
)

// TestMain fails the package if a test leaves a goroutine running: the
// router check's port-forward and the probe's waits start them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, podforwardtest.LeakOptions()...)
}
