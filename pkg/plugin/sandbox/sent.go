package sandbox

import (
	"errors"
	"net"
)

// NotSent says whether the failure of a request shows that the request
// never reached the runtime, so that sending it again cannot carry it out
// twice: a backend's error says so with a method NotSent() bool (the first
// such error in the chain decides), and a failure to dial says so by
// itself. Anything else may have been sent.
func NotSent(err error) bool {
	var ns interface{ NotSent() bool }
	if errors.As(err, &ns) {
		return ns.NotSent()
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
