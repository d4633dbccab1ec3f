package sandbox

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// omitted is the marker put where a budget cut output.
func omitted(n int64) string {
	return fmt.Sprintf("\n[... %d bytes omitted ...]\n", n)
}

// Trim keeps at most max bytes of s (the marker not counted): its head and
// its tail, halves of max, with a marker saying how much was left out.
// max <= 0 keeps everything. The cuts fall on the boundaries that decoding
// s as UTF-8 from its start finds: a character is kept whole or not at
// all, and a byte that is not UTF-8 counts as a character of its own, so
// at most utf8.UTFMax-1 bytes of each half go unused.
func Trim(s string, max int) (string, bool) {
	if max <= 0 || len(s) <= max {
		return s, false
	}
	head := lastBoundary(s, max/2)
	tail := nextBoundary(s, len(s)-(max-max/2), true)
	return s[:head] + omitted(int64(tail-head)) + s[tail:], true
}

// unit is the length of the character p starts with (1 for a byte that
// is not UTF-8). Unless eof, ok is false while p holds only the start of
// one: more bytes may complete it.
func unit[T string | []byte](p T, eof bool) (n int, ok bool) {
	var b [utf8.UTFMax]byte
	k := copy(b[:], p)
	if !eof && !utf8.FullRune(b[:k]) {
		return 0, false
	}
	_, n = utf8.DecodeRune(b[:k])
	return n, true
}

// nextBoundary is the first character boundary of p at or after i, p
// starting on one (UTF-8 resynchronises: decoding from utf8.UTFMax-1
// bytes before i meets the boundaries decoding from the start does).
// Unless eof it stops early, at the start of a character p does not yet
// hold whole. It is at most len(p).
func nextBoundary[T string | []byte](p T, i int, eof bool) int {
	j := max(0, i-(utf8.UTFMax-1))
	for j < i && j < len(p) {
		n, ok := unit(p[j:], eof)
		if !ok {
			break
		}
		j += n
	}
	return j
}

// lastBoundary is the last character boundary of s at or before i, s
// starting on one and i <= len(s).
func lastBoundary(s string, i int) int {
	j := max(0, i-(utf8.UTFMax-1))
	for j < i {
		n, _ := unit(s[j:], true)
		if j+n > i {
			break
		}
		j += n
	}
	return j
}

// HeadTail is a writer that passes the first half of a budget of bytes on
// as it comes, keeps the last half back, and on Close writes a marker of
// what was left out and that tail: output that streams and yet does not
// flood. What it writes is what Trim makes of all the bytes written,
// however they were split into writes: it holds back the start of a
// character until the rest arrives. A budget <= 0 passes everything on.
type HeadTail struct {
	w       io.Writer
	budget  int
	headMax int
	// head counts the bytes passed on; inHead while the head takes more.
	head    int
	inHead  bool
	pending []byte // the start of a character the head waits to see whole
	tail    []byte // from the end of the head, on a character boundary
	total   int64  // bytes written
	dropped int64  // bytes the tail let go
}

// NewHeadTail returns a HeadTail writing to w within budget bytes.
func NewHeadTail(w io.Writer, budget int) *HeadTail {
	return &HeadTail{w: w, budget: budget, headMax: budget / 2, inHead: true}
}

func (h *HeadTail) Write(p []byte) (int, error) {
	if h.budget <= 0 {
		return h.w.Write(p)
	}
	h.total += int64(len(p))
	if err := h.add(p, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// add takes p into the head, then the tail, then drops what the tail
// cannot keep; eof says no more bytes follow.
func (h *HeadTail) add(p []byte, eof bool) error {
	if h.inHead {
		buf := p
		if len(h.pending) > 0 {
			buf = append(h.pending, p...)
			h.pending = nil
		}
		j := 0
		for j < len(buf) {
			n, ok := unit(buf[j:], eof)
			if !ok {
				h.pending = append([]byte(nil), buf[j:]...)
				break
			}
			if h.head+j+n > h.headMax {
				h.inHead = false
				break
			}
			j += n
		}
		h.head += j
		if j > 0 {
			if _, err := h.w.Write(buf[:j]); err != nil {
				return err
			}
		}
		if h.inHead {
			return nil
		}
		p = buf[j:]
	}
	h.tail = append(h.tail, p...)
	// Once the whole is over budget, the tail keeps its half only.
	if tailMax := h.budget - h.headMax; h.Truncated() && len(h.tail) > tailMax {
		cut := nextBoundary(h.tail, len(h.tail)-tailMax, eof)
		h.dropped += int64(cut)
		h.tail = append(h.tail[:0], h.tail[cut:]...)
	}
	return nil
}

// Close writes the marker, if anything was left out, and the tail.
func (h *HeadTail) Close() error {
	if h.budget <= 0 {
		return nil
	}
	if err := h.add(nil, true); err != nil {
		return err
	}
	if h.Truncated() {
		if _, err := io.WriteString(h.w, omitted(h.dropped)); err != nil {
			return err
		}
	}
	_, err := h.w.Write(h.tail)
	h.tail = nil
	return err
}

// Truncated says whether more than the budget was written, so that Close
// leaves bytes out.
func (h *HeadTail) Truncated() bool { return h.budget > 0 && h.total > int64(h.budget) }
