package podexec

import "fmt"

// NoRelayError is a container that cannot run the relay.
type NoRelayError struct {
	Target Target
	// Why is the relay's own word (no interpreter) or the runtime's.
	Why string
}

func (e *NoRelayError) Error() string {
	c := e.Target.Container
	if c == "" {
		c = "its default container"
	} else {
		c = "container " + c
	}
	return fmt.Sprintf("cannot start a relay in pod %s through pods/exec: %s: %s", e.Target, c, e.Why)
}

// NoListenerError is a port on which nothing accepts connections in the
// pod.
type NoListenerError struct {
	Target Target
	Port   int
}

func (e *NoListenerError) Error() string {
	return fmt.Sprintf("nothing accepts connections on port %d in pod %s (its loopback, reached through pods/exec)", e.Port, e.Target)
}

// RelayError is a relay that failed otherwise: the exec was refused, the
// pod or container is not running.
type RelayError struct {
	Target Target
	Port   int
	Err    error
}

func (e *RelayError) Error() string {
	return fmt.Sprintf("relay to port %d of pod %s through pods/exec: %v", e.Port, e.Target, e.Err)
}

func (e *RelayError) Unwrap() error { return e.Err }
