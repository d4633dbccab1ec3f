package sandboxd

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/podforward/podforwardtest"
)

// TestMain fails the package if a test leaves a goroutine running: a
// command's control goroutine, a gRPC connection or a port-forward that
// is not torn down would.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, podforwardtest.LeakOptions()...)
}
