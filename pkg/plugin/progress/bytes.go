package progress

import (
	"fmt"
	"io"
)

// CountingReader counts one file, and the bytes read through r, into the
// spinner's status: the files and bytes so far, and the file being copied.
func (s *Spinner) CountingReader(name string, r io.Reader) io.Reader {
	if s.stop == nil {
		return r // not a terminal: no accounting needed
	}
	s.files.Add(1)
	return &countingReader{r: r, s: s, name: name}
}

type countingReader struct {
	r    io.Reader
	s    *Spinner
	name string
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	total := c.s.bytes.Add(int64(n))
	files, unit := c.s.files.Load(), "files"
	if files == 1 {
		unit = "file"
	}
	c.s.Set(fmt.Sprintf("%d %s, %s: %s", files, unit, HumanBytes(total), c.name))
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
