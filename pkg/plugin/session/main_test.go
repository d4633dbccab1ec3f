package session

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: Each
// and the router's connections start them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
