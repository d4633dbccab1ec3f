package podexec_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: a
// relay's stream that Close does not end would. client-go's WebSocket
// heartbeat is the exception: it stops on a Close frame from the server,
// else at its next ping (every 5s) after the connection has closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("k8s.io/client-go/tools/remotecommand.(*heartbeat).start"))
}
