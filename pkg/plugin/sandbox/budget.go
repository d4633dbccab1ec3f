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
// its tail, halves of max, cut at UTF-8 boundaries, with a marker saying
// how much was left out. max <= 0 keeps everything.
func Trim(s string, max int) (string, bool) {
	if max <= 0 || len(s) <= max {
		return s, false
	}
	head := s[:runeStart(s, max/2)]
	tailFrom := len(s) - (max - max/2)
	tail := s[runeEnd(s, tailFrom):]
	return head + omitted(int64(len(s)-len(head)-len(tail))) + tail, true
}

// runeStart moves i back to the start of the rune it falls in.
func runeStart(s string, i int) int {
	for i > 0 && i < len(s) && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
}

// runeEnd moves i forward to the start of the next rune.
func runeEnd(s string, i int) int {
	for i < len(s) && !utf8.RuneStart(s[i]) {
		i++
	}
	return i
}

// HeadTail is a writer that passes the first half of a budget of bytes on
// at once, keeps the last half back, and on Close writes a marker of what
// was left out and that tail: output that streams and yet does not flood.
// A budget <= 0 passes everything on.
type HeadTail struct {
	w         io.Writer
	headLeft  int
	tailMax   int
	tail      []byte
	dropped   int64
	truncated bool
}

// NewHeadTail returns a HeadTail writing to w within budget bytes.
func NewHeadTail(w io.Writer, budget int) *HeadTail {
	if budget <= 0 {
		return &HeadTail{w: w, headLeft: -1}
	}
	return &HeadTail{w: w, headLeft: budget / 2, tailMax: budget - budget/2}
}

func (h *HeadTail) Write(p []byte) (int, error) {
	n := len(p)
	if h.headLeft < 0 {
		return h.w.Write(p)
	}
	if h.headLeft > 0 {
		k := min(h.headLeft, len(p))
		if k < len(p) {
			// End the head on a rune boundary.
			for k > 0 && !utf8.RuneStart(p[k]) {
				k--
			}
			h.headLeft = 0
		} else {
			h.headLeft -= k
		}
		if _, err := h.w.Write(p[:k]); err != nil {
			return 0, err
		}
		p = p[k:]
	}
	if len(p) == 0 {
		return n, nil
	}
	h.tail = append(h.tail, p...)
	if over := len(h.tail) - h.tailMax; over > 0 {
		cut := over
		for cut < len(h.tail) && !utf8.RuneStart(h.tail[cut]) {
			cut++
		}
		h.dropped += int64(cut)
		h.truncated = true
		h.tail = append(h.tail[:0], h.tail[cut:]...)
	}
	return n, nil
}

// Close writes the marker, if anything was left out, and the tail.
func (h *HeadTail) Close() error {
	if h.truncated {
		if _, err := io.WriteString(h.w, omitted(h.dropped)); err != nil {
			return err
		}
	}
	_, err := h.w.Write(h.tail)
	h.tail = nil
	return err
}

// Truncated says whether anything was left out.
func (h *HeadTail) Truncated() bool { return h.truncated }
