package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Root is the runtime's base directory (hard-coded in the v0.5.6 runtime):
// every runtime path is relative to it, and commands run in it.
const Root = "/app"

// RemotePath turns a user's sandbox path into a runtime path: relative paths
// are relative to Root (the command's working directory), absolute ones
// must lie under Root. "" is Root itself.
func RemotePath(p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		clean := path.Clean(p)
		if clean != Root && !strings.HasPrefix(clean, Root+"/") {
			return "", fmt.Errorf("sandbox path %q is outside %s, the only directory the sandbox runtime serves", p, Root)
		}
		p = strings.TrimPrefix(strings.TrimPrefix(clean, Root), "/")
	}
	p = path.Clean(p)
	if p == "." {
		return "", nil
	}
	return p, nil
}

// MkdirAll creates directories (runtime paths) in the sandbox; the runtime's
// upload does not create parents.
func (c *Client) MkdirAll(ctx context.Context, dirs ...string) error {
	if len(dirs) == 0 {
		return nil
	}
	cmd, err := JoinArgv(append([]string{"mkdir", "-p", "--"}, dirs...))
	if err != nil {
		return err
	}
	res, err := c.Execute(ctx, cmd)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("creating directories in the sandbox: %s", strings.TrimSpace(res.Stderr))
	}
	return nil
}

// UploadTree copies a local file or directory tree to remote (a runtime
// path), creating remote directories first. It returns the files copied.
func (c *Client) UploadTree(ctx context.Context, local, remote string, progress func(name string, r io.Reader) io.Reader) (int, error) {
	info, err := os.Stat(local)
	if err != nil {
		return 0, err
	}
	if !info.IsDir() {
		if dir := path.Dir(remote); dir != "." {
			if err := c.MkdirAll(ctx, dir); err != nil {
				return 0, err
			}
		}
		return 1, c.uploadFile(ctx, local, remote, progress)
	}
	var dirs, files []string
	err = filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(local, p)
		switch {
		case d.IsDir():
			dirs = append(dirs, path.Join(remote, filepath.ToSlash(rel)))
		case d.Type().IsRegular():
			files = append(files, rel)
		default:
			return fmt.Errorf("%s: only regular files and directories can be copied", p)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if remote == "" {
		dirs = dirs[1:] // the root exists
	}
	if err := c.MkdirAll(ctx, dirs...); err != nil {
		return 0, err
	}
	for _, rel := range files {
		if err := c.uploadFile(ctx, filepath.Join(local, rel), path.Join(remote, filepath.ToSlash(rel)), progress); err != nil {
			return 0, err
		}
	}
	return len(files), nil
}

func (c *Client) uploadFile(ctx context.Context, local, remote string, progress func(string, io.Reader) io.Reader) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose
	var r io.Reader = f
	if progress != nil {
		r = progress(remote, f)
	}
	return c.Upload(ctx, remote, r)
}

// DownloadFile copies a sandbox file to the local path dst. It writes a
// temporary file beside dst and renames it only once the whole body (and
// the announced length) arrived, so a failed copy never leaves a truncated
// file that looks complete.
func (c *Client) DownloadFile(ctx context.Context, remote, dst string, progress func(string, io.Reader) io.Reader) error {
	body, size, err := c.Download(ctx, remote)
	if err != nil {
		return err
	}
	defer body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".partial-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	var r io.Reader = body
	if progress != nil {
		r = progress(remote, body)
	}
	n, err := io.CopyBuffer(tmp, r, make([]byte, copyBufferSize))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("got %d of %d bytes", n, size)
	}
	if err != nil {
		return fmt.Errorf("downloading %s: %w", remote, err)
	}
	return os.Rename(tmp.Name(), dst)
}

// DownloadTree copies a sandbox file to fileDst, or a sandbox directory
// tree into dirDst. A file is tried first (one request, the common case); a
// path that is no file is listed as a directory. It returns the files copied.
func (c *Client) DownloadTree(ctx context.Context, remote, fileDst, dirDst string, progress func(string, io.Reader) io.Reader) (int, error) {
	if remote == "" {
		return c.downloadDir(ctx, remote, dirDst, progress)
	}
	fileErr := c.DownloadFile(ctx, remote, fileDst, progress)
	var he *HTTPError
	if !errors.As(fileErr, &he) || he.Status != 404 {
		return 1, fileErr
	}
	n, err := c.downloadDir(ctx, remote, dirDst, progress)
	if errors.As(err, &he) && he.Status == 404 && n == 0 {
		return 0, fileErr // neither a file nor a directory: "no such file"
	}
	return n, err
}

// downloadDir copies the directory remote into local, recursively.
func (c *Client) downloadDir(ctx context.Context, remote, local string, progress func(string, io.Reader) io.Reader) (int, error) {
	entries, err := c.List(ctx, remote)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(local, 0o755); err != nil {
		return 0, err
	}
	count := 0
	for _, e := range entries {
		if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsAny(e.Name, `/\`) {
			return count, fmt.Errorf("the sandbox listed an unsafe name %q in %s", e.Name, remote)
		}
		r, l := path.Join(remote, e.Name), filepath.Join(local, e.Name)
		if e.IsDir() {
			n, err := c.downloadDir(ctx, r, l, progress)
			count += n
			if err != nil {
				return count, err
			}
			continue
		}
		if err := c.DownloadFile(ctx, r, l, progress); err != nil {
			return count, err
		}
		count++
	}
	return count, nil
}
