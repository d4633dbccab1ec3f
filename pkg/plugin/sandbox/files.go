package sandbox

import (
	"context"
	"errors"
	"strings"
)

// The guards and helpers of file operations, shared by every runtime.

// ErrRemoveRoot is a removal of the runtime's root directory, which
// Remove refuses.
var ErrRemoveRoot = errors.New("refusing to remove the sandbox's root directory")

// Remove removes path from rt, a file or with recursive a tree; it refuses
// the root itself ("").
func Remove(ctx context.Context, rt Runtime, path string, recursive bool) error {
	if path == "" {
		return ErrRemoveRoot
	}
	return rt.Remove(ctx, path, recursive)
}

// MkdirAll creates directories (runtime paths) and their parents with an
// exact-argv mkdir -p: no runtime's file API creates a directory alone.
func MkdirAll(ctx context.Context, rt Runtime, dirs ...string) error {
	if len(dirs) == 0 {
		return nil
	}
	return Check(ctx, rt, "creating directories", append([]string{"mkdir", "-p", "--"}, dirs...)...)
}

// SafeName says whether a runtime may list name as an entry of a
// directory: a name of its own, not "", "." or "..", without "/" or NUL.
func SafeName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}
