package kube

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: every
// Watch must end its watches before it returns.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
