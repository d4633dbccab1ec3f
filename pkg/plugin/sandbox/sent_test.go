package sandbox

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
)

// said is an error that says whether it was sent.
type said bool

func (s said) Error() string { return "said" }
func (s said) NotSent() bool { return bool(s) }

func TestNotSent(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	read := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{dial, true},
		{fmt.Errorf("list: %w", dial), true},
		{read, false},
		{io.ErrUnexpectedEOF, false},
		{errors.New("plain"), false},
		{nil, false},
		{said(true), true},
		{fmt.Errorf("x: %w", said(false)), false},
		// The backend's word comes first: a dial error inside an error that
		// says it was sent is sent.
		{fmt.Errorf("%w: %w", said(false), dial), false},
	} {
		if got := NotSent(tc.err); got != tc.want {
			t.Errorf("NotSent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
