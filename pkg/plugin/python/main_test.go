package python

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running, and
// stops the python3 that splits commands with the real shlex.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(stopShlexAfter{m})
}

type stopShlexAfter struct{ m *testing.M }

func (s stopShlexAfter) Run() int {
	defer stopShlex()
	return s.m.Run()
}
