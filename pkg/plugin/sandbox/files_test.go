package sandbox_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

func TestMkdirAll(t *testing.T) {
	rt, c := newRuntime(t)
	ctx := context.Background()
	if err := sandbox.MkdirAll(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := sandbox.MkdirAll(ctx, c, "a/b", "c d", "-p"); err != nil {
		t.Fatal(err)
	}
	if got, want := sandbox.Tree(t, rt.Root), map[string]string{"a/": "", "a/b/": "", "c d/": "", "-p/": ""}; !reflect.DeepEqual(got, want) {
		t.Errorf("tree %v, want %v", got, want)
	}
	rt.Write("file", "x")
	err := sandbox.MkdirAll(ctx, c, "file/sub")
	if want := "creating directories in the sandbox: exit code 1: mkdir: cannot create directory 'file/sub': not a directory"; err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
	want := []string{"execute: mkdir -p -- a/b 'c d' -p", "execute: mkdir -p -- file/sub"}
	if got := rt.Requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests %q\nwant %q", got, want)
	}
}

// TestRemoveRefusesTheRoot: the root is refused before the runtime is
// asked; another path is the runtime's to remove.
func TestRemoveRefusesTheRoot(t *testing.T) {
	rt, c := newRuntime(t)
	rt.Write("f", "x")
	if err := sandbox.Remove(context.Background(), c, "", true); !errors.Is(err, sandbox.ErrRemoveRoot) || err.Error() != "refusing to remove the sandbox's root directory" {
		t.Errorf("removing the root: %v", err)
	}
	if err := sandbox.Remove(context.Background(), c, "f", false); err != nil {
		t.Errorf("removing f: %v", err)
	}
	if got, want := rt.Requests(), []string{"execute: rm -- f"}; !reflect.DeepEqual(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
}

func TestSafeName(t *testing.T) {
	for name, want := range map[string]bool{
		"a": true, "..a": true, "a b": true, `back\slash`: true, "ü": true,
		"": false, ".": false, "..": false, "a/b": false, "/": false, "a\x00": false,
	} {
		if got := sandbox.SafeName(name); got != want {
			t.Errorf("SafeName(%q) = %t, want %t", name, got, want)
		}
	}
}
