package sandbox

import (
	"fmt"
	"path"
	"strings"
)

// Root is a runtime's root directory: its runtime paths are relative to
// it, and commands run in it.
type Root struct {
	Dir string
	// Runtime names the runtime in messages; "" for the first, default one.
	Runtime string
}

// Roots are the roots of the runtimes that a sandbox may run. An absolute
// sandbox path under any of them names the root of whichever runtime the
// sandbox runs.
type Roots []Root

// String lists the roots for messages: "/app, or /workspace on sandboxd".
func (rs Roots) String() string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Dir
		if r.Runtime != "" {
			parts[i] += " on " + r.Runtime
		}
	}
	return strings.Join(parts, ", or ")
}

// PathError reports a sandbox path that the runtime cannot serve.
type PathError struct {
	Path  string
	Roots Roots
}

func (e *PathError) Error() string {
	return fmt.Sprintf("sandbox path %q is outside the runtime's root (%s), the only directory the sandbox runtime serves", e.Path, e.Roots)
}

// RemotePath turns a user's sandbox path into a runtime path: relative
// paths are relative to the runtime's root (the command's working
// directory), absolute ones must lie under one of the roots, and none may
// climb out of it with "..". "" is the root itself.
func (rs Roots) RemotePath(p string) (string, error) {
	rel := p
	if strings.HasPrefix(p, "/") {
		clean := path.Clean(p)
		under := false
		for _, root := range rs {
			if clean == root.Dir || strings.HasPrefix(clean, root.Dir+"/") {
				rel, under = strings.TrimPrefix(strings.TrimPrefix(clean, root.Dir), "/"), true
				break
			}
		}
		if !under {
			return "", &PathError{Path: p, Roots: rs}
		}
	}
	rel = path.Clean(rel)
	switch {
	case rel == ".":
		return "", nil
	case rel == ".." || strings.HasPrefix(rel, "../"):
		return "", &PathError{Path: p, Roots: rs} // the path as the user wrote it
	}
	return rel, nil
}
