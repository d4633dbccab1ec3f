package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// WriteFile writes content to the file remote, creating its parents.
func WriteFile(ctx context.Context, rt Runtime, remote string, content io.Reader) error {
	if remote == "" || strings.HasSuffix(remote, "/") {
		return errors.New("writing needs a file name in the sandbox, not a directory")
	}
	if dir := path.Dir(remote); dir != "." {
		if err := MkdirAll(ctx, rt, dir); err != nil {
			return err
		}
	}
	return rt.Upload(ctx, remote, content)
}

// CopyTo copies a local file or tree to remote, as cp does: a file copied
// to a directory (remote ends in "/" or is an existing directory) lands in
// it under its own name. It returns the files copied.
func CopyTo(ctx context.Context, rt Runtime, local, remote string, progress Progress) (int, error) {
	return CopyToBy(ctx, rt, local, remote, progress, MethodAuto)
}

// CopyToBy is CopyTo copying a tree by method.
func CopyToBy(ctx context.Context, rt Runtime, local, remote string, progress Progress, method Method) (int, error) {
	info, err := os.Stat(local)
	if err != nil {
		return 0, fmt.Errorf("cannot read %s: %w", local, errors.Unwrap(err))
	}
	dirTarget := strings.HasSuffix(remote, "/") || remote == ""
	remote = strings.TrimSuffix(remote, "/")
	if !info.IsDir() && !dirTarget {
		// An existing remote directory receives the file under its own name.
		if _, err := rt.List(ctx, remote); err == nil {
			dirTarget = true
		}
	}
	if !info.IsDir() && dirTarget {
		remote = path.Join(remote, filepath.Base(local))
	}
	return UploadTreeBy(ctx, rt, local, remote, progress, method)
}

// CopyFrom copies a remote file or tree to local, as cp does: a file lands
// in an existing local directory under its own name, and a directory's
// contents go into local. It returns the files copied.
func CopyFrom(ctx context.Context, rt Runtime, remote, local string, progress Progress) (int, error) {
	return CopyFromBy(ctx, rt, remote, local, progress, MethodAuto)
}

// CopyFromBy is CopyFrom copying a tree by method.
func CopyFromBy(ctx context.Context, rt Runtime, remote, local string, progress Progress, method Method) (int, error) {
	fileDst := local
	if info, err := os.Stat(local); err == nil && info.IsDir() && remote != "" {
		fileDst = filepath.Join(local, path.Base(remote))
	}
	return DownloadTreeBy(ctx, rt, remote, fileDst, local, progress, method)
}
