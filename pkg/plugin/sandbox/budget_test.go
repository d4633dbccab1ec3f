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
		// A byte that is not UTF-8 is a character of its own: a run of
		// them is cut at the budget, not dropped whole.
		{strings.Repeat("\x80", 10), 6, "\x80\x80\x80\n[... 4 bytes omitted ...]\n\x80\x80\x80", true},
		// A character left unfinished in the middle is bytes of their own.
		{"ab\xe6\x97xyz12345", 6, "ab\xe6\n[... 6 bytes omitted ...]\n345", true},
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

// TestHeadTailSplitWrites: however the writes split a character, the
// head and the tail never cut one, the head holds back only the start of
// an unfinished one, and the result is Trim's.
func TestHeadTailSplitWrites(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		budget int
		// early is what has gone out after each write, before Close.
		early []string
		want  string
	}{
		{"the head's last character split", []string{"ab\xc3", "\xa9xxxxxxxx"}, 6,
			[]string{"ab", "ab"}, "ab\n[... 7 bytes omitted ...]\nxxx"},
		{"a character held back, then completed within the head", []string{"ab\xc3", "\xa9cd"}, 10,
			[]string{"ab", "abéc"}, "abécd"},
		{"one byte at a time", []string{"a", "\xe6", "\x97", "\xa5", "b", "c", "d", "e"}, 8,
			[]string{"a", "a", "a", "a日", "a日", "a日", "a日", "a日"}, "a日bcde"},
		{"the tail's first character split", []string{"xxxxxxxx", "\xe6\x97", "\xa5", "yz"}, 6,
			[]string{"xxx", "xxx", "xxx", "xxx"}, "xxx\n[... 8 bytes omitted ...]\nyz"},
		{"a four-byte character split three ways at the tail", []string{"aabb", "\xf0\x9f", "\x98", "\x80"}, 4,
			[]string{"aa", "aa", "aa", "aa"}, "aa\n[... 6 bytes omitted ...]\n"},
		{"not UTF-8: a lone lead byte is a character of its own", []string{"ab\xc3", "xyz123"}, 6,
			[]string{"ab", "ab\xc3"}, "ab\xc3\n[... 3 bytes omitted ...]\n123"},
		{"not UTF-8: continuation bytes kept to the budget", []string{"\x80\x80", "\x80\x80\x80", "\x80\x80\x80"}, 4,
			[]string{"\x80\x80", "\x80\x80", "\x80\x80"}, "\x80\x80\n[... 4 bytes omitted ...]\n\x80\x80"},
		{"an unfinished character at the end", []string{"abc", "\xe6\x97"}, 10,
			[]string{"abc", "abc"}, "abc\xe6\x97"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			h := NewHeadTail(&out, tc.budget)
			for i, w := range tc.writes {
				if n, err := h.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
				if out.String() != tc.early[i] {
					t.Errorf("after Write(%q): %q; want %q", w, out.String(), tc.early[i])
				}
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			whole := strings.Join(tc.writes, "")
			want, cut := Trim(whole, tc.budget)
			if out.String() != tc.want || want != tc.want || h.Truncated() != cut {
				t.Errorf("got %q, truncated %v; want %q (Trim: %q, %v)", out.String(), h.Truncated(), tc.want, want, cut)
			}
		})
	}
}

// FuzzHeadTail: whatever the writes, all at once, byte by byte or in
// chunks the fuzzer picks (sizes from cuts), HeadTail writes exactly what
// Trim makes of the whole, says it truncated exactly when Trim does, and
// before Close has written a prefix of it that falls short of the head
// only by the start of a character it waits to see whole.
func FuzzHeadTail(f *testing.F) {
	f.Add([]byte("ab\xc3\xa9xxxxxxxx"), 6, []byte{3})
	f.Add([]byte(strings.Repeat("日本", 20)), 9, []byte{1, 2, 4})
	f.Fuzz(func(t *testing.T, in []byte, budget int, cuts []byte) {
		budget %= 1 << 10
		want, cut := Trim(string(in), budget)
		chunkings := [][]int{{len(in)}, nil, nil}
		for range in {
			chunkings[1] = append(chunkings[1], 1)
		}
		for i, left := 0, len(in); left > 0 && len(cuts) > 0; i++ {
			n := min(left, int(cuts[i%len(cuts)])%9) // 0: an empty write
			chunkings[2] = append(chunkings[2], n)
			left -= n
			if i > 4*len(in)+8 {
				break
			}
		}
		for _, sizes := range chunkings {
			var out bytes.Buffer
			h := NewHeadTail(&out, budget)
			rest := in
			for _, n := range sizes {
				n = min(n, len(rest))
				if k, err := h.Write(rest[:n]); k != n || err != nil {
					t.Fatalf("Write = %d, %v", k, err)
				}
				rest = rest[n:]
			}
			_, _ = h.Write(rest)
			early := out.String()
			if !strings.HasPrefix(want, early) || budget > 0 && len(early) < min(len(in), budget/2)-(utf8.UTFMax-1) {
				t.Fatalf("HeadTail(%q, %d) in writes of %v: %q before Close; the whole is %q", in, budget, sizes, early, want)
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			if out.String() != want || h.Truncated() != cut {
				t.Fatalf("HeadTail(%q, %d) in writes of %v = %q, %v; Trim = %q, %v", in, budget, sizes, out.String(), h.Truncated(), want, cut)
			}
			if utf8.Valid(in) && !utf8.Valid(out.Bytes()) {
				t.Fatalf("HeadTail(%q, %d) = %q: not UTF-8", in, budget, out.String())
			}
		}
	})
}

// FuzzTrim: what Trim keeps is a prefix and a suffix of the input, within
// the budget and short of each half by less than a character, and valid
// UTF-8 stays valid.
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
		if !strings.HasPrefix(s, head) || !strings.HasSuffix(s, tail) || len(head)+len(tail) > max ||
			len(head) < max/2-(utf8.UTFMax-1) || len(tail) < max-max/2-(utf8.UTFMax-1) {
			t.Fatalf("Trim(%q, %d) = %q", s, max, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Trim(%q, %d) = %q: not UTF-8", s, max, got)
		}
	})
}
