package sandbox

import (
	"errors"
	"testing"
)

// testRoots are the roots of the two runtimes of agent-sandbox v0.5.6.
var testRoots = Roots{{Dir: "/app"}, {Dir: "/workspace", Runtime: "sandboxd"}}

func TestRemotePath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"", ""},
		{".", ""},
		{"./x", "x"},
		{"a/b/", "a/b"},
		{"a/../b", "b"},
		{"a/..", ""},
		{"/app", ""},
		{"/app/", ""},
		{"//app//x", "x"},
		{"/app/x/../y", "y"},
		{"/app/ü b", "ü b"},
		{"..x", "..x"},
		{"/workspace", ""},
		{"/workspace/a/b", "a/b"},
	} {
		if got, err := testRoots.RemotePath(tc.in); err != nil || got != tc.want {
			t.Errorf("RemotePath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"..", "../etc", "a/../../x", "/etc", "/etc/passwd", "/app/../etc", "/appx", "/", "/workspacex", "/workspace/../etc"} {
		_, err := testRoots.RemotePath(in)
		var pe *PathError
		want := `sandbox path "` + in + `" is outside the runtime's root (/app, or /workspace on sandboxd), the only directory the sandbox runtime serves`
		if !errors.As(err, &pe) || err.Error() != want {
			t.Errorf("RemotePath(%q): %v\nwant %s", in, err, want)
		}
	}
}
