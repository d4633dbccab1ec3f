package podexec

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// FuzzReadReady: whatever a relay writes first, the Ready line is accepted
// only when its output begins with it exactly, and no byte after it is
// taken from the connection (also when the output arrives a byte at a
// time).
func FuzzReadReady(f *testing.F) {
	f.Add([]byte(Ready), []byte("HTTP/1.1 200 OK\r\n"))
	f.Add([]byte("kubectl-sandbox relay read"), []byte("y\n"))
	f.Add([]byte("motd\n"), []byte{})
	f.Add([]byte{}, []byte{0, 0xff})
	f.Fuzz(func(t *testing.T, first, rest []byte) {
		for _, slow := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(append(append([]byte(nil), first...), rest...))
			if slow {
				r = iotest.OneByteReader(r)
			}
			err := readReady(r)
			all := append(append([]byte(nil), first...), rest...)
			wantOK := bytes.HasPrefix(all, []byte(Ready))
			switch {
			case wantOK && err != nil:
				t.Fatalf("output %q refused: %v", all, err)
			case !wantOK && err == nil:
				t.Fatalf("output %q accepted", all)
			case !wantOK && len(all) >= len(Ready) && !errors.Is(err, errNotReady):
				t.Fatalf("output %q: %v, want errNotReady", all, err)
			}
			if wantOK {
				left, _ := io.ReadAll(r)
				if !bytes.Equal(left, all[len(Ready):]) {
					t.Fatalf("after Ready the connection has %q, want %q", left, all[len(Ready):])
				}
			}
		}
	})
}
