package progress

import (
	"fmt"
	"io"
	"sync/atomic"
)

// CountingReader reports the bytes read through it to the spinner.
func (s *Spinner) CountingReader(name string, r io.Reader) io.Reader {
	if s.stop == nil {
		return r // not a terminal: no accounting needed
	}
	return &countingReader{r: r, s: s, name: name}
}

type countingReader struct {
	r    io.Reader
	s    *Spinner
	name string
	n    atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	total := c.n.Add(int64(n))
	c.s.Set(fmt.Sprintf("%s: %s", c.name, HumanBytes(total)))
	return n, err
}

// HumanBytes formats a byte count with binary units.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
