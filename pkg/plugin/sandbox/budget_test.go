package sandbox

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTrim(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
		cut  bool
	}{
		{"hello", 0, "hello", false},
		{"hello", 5, "hello", false},
		{"0123456789", 4, "01\n[... 6 bytes omitted ...]\n89", true},
		{"0123456789", 5, "01\n[... 5 bytes omitted ...]\n789", true},
		// The head ends and the tail starts on rune boundaries: é is 2 bytes.
		{"aé" + strings.Repeat("x", 10) + "éb", 6, "aé\n[... 10 bytes omitted ...]\néb", true},
		{"aaé" + strings.Repeat("x", 10) + "éé", 6, "aa\n[... 14 bytes omitted ...]\né", true},
	} {
		got, cut := Trim(tc.in, tc.max)
		if got != tc.want || cut != tc.cut {
			t.Errorf("Trim(%q, %d) = %q, %v; want %q, %v", tc.in, tc.max, got, cut, tc.want, tc.cut)
		}
	}
	r := (&Result{Stdout: "0123456789", Stderr: "ab", ExitCode: 2}).Trim(4)
	if r.Stdout != "01\n[... 6 bytes omitted ...]\n89" || r.Stderr != "ab" || !r.Truncated || r.ExitCode != 2 {
		t.Errorf("Result.Trim = %+v", r)
	}
}

func TestHeadTail(t *testing.T) {
	var out bytes.Buffer
	h := NewHeadTail(&out, 6)
	for _, s := range []string{"01", "2345", "678", "9"} {
		if n, err := h.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if out.String() != "012" {
		t.Errorf("before Close: %q (the head goes out at once)", out.String())
	}
	if err := h.Close(); err != nil || out.String() != "012\n[... 4 bytes omitted ...]\n789" || !h.Truncated() {
		t.Errorf("after Close: %q, %v", out.String(), err)
	}
	// Within the budget: everything, no marker.
	out.Reset()
	h = NewHeadTail(&out, 100)
	_, _ = h.Write([]byte("short"))
	_ = h.Close()
	if out.String() != "short" || h.Truncated() {
		t.Errorf("within budget: %q", out.String())
	}
	// No budget.
	out.Reset()
	h = NewHeadTail(&out, 0)
	_, _ = h.Write([]byte(strings.Repeat("z", 1000)))
	_ = h.Close()
	if out.Len() != 1000 {
		t.Errorf("no budget: %d bytes", out.Len())
	}
	// Runes are not split.
	out.Reset()
	h = NewHeadTail(&out, 5)
	_, _ = h.Write([]byte("ééééééé"))
	_ = h.Close()
	if !utf8.Valid(out.Bytes()) {
		t.Errorf("split a rune: %q", out.String())
	}
}

// FuzzTrim: what Trim keeps is a prefix and a suffix of the input, within
// the budget, and valid UTF-8 stays valid.
func FuzzTrim(f *testing.F) {
	f.Add("hello, wörld", 5)
	f.Add(strings.Repeat("日本", 50), 7)
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 1 << 16
		got, cut := Trim(s, max)
		if !cut {
			if got != s {
				t.Fatalf("not cut but changed: %q -> %q", s, got)
			}
			return
		}
		head, tail, ok := strings.Cut(got, "\n[... ")
		if !ok {
			t.Fatalf("no marker in %q", got)
		}
		tail = tail[strings.Index(tail, " bytes omitted ...]\n")+len(" bytes omitted ...]\n"):]
		if !strings.HasPrefix(s, head) || !strings.HasSuffix(s, tail) || len(head)+len(tail) > max {
			t.Fatalf("Trim(%q, %d) = %q", s, max, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Trim(%q, %d) = %q: not UTF-8", s, max, got)
		}
	})
}
