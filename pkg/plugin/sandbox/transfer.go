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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// copyBufferSize is the chunk of streamed copies: large enough for
// throughput on par with curl, small enough that memory stays flat.
const copyBufferSize = 1 << 20

// copyBuffers keeps the buffers of streamed copies for reuse: a tree copies
// thousands of files, and a fresh megabyte for each (zeroed, then
// collected) cost more CPU than the copy itself (pprof: memclr at 27% of a
// 2,000-file archive upload).
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

// CopyBuffered is io.Copy through a pooled buffer, for the streamed copies
// of files.
func CopyBuffered(dst io.Writer, src io.Reader) (int64, error) {
	b := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(b)
	return io.CopyBuffer(dst, src, *b)
}

// UnrepresentableError lists paths that a copy file by file cannot carry
// to this runtime; nothing was sent.
type UnrepresentableError struct{ Paths []string }

func (e *UnrepresentableError) Error() string {
	q := make([]string, len(e.Paths))
	for i, p := range e.Paths {
		q[i] = strconv.Quote(p)
	}
	return fmt.Sprintf("nothing was copied: the runtime's upload cannot carry these names file by file: %s", strings.Join(q, ", "))
}

// Progress wraps the reader of one file's bytes (to count them); nil means
// no progress.
type Progress func(name string, r io.Reader) io.Reader

func (p Progress) Wrap(name string, r io.Reader) io.Reader {
	if p == nil {
		return r
	}
	return p(name, r)
}

// UploadTree copies a local file or directory tree to remote (a runtime
// path) by MethodAuto. It returns the files copied.
func UploadTree(ctx context.Context, rt Runtime, local, remote string, progress Progress) (int, error) {
	return UploadTreeBy(ctx, rt, local, remote, progress, MethodAuto)
}

// UploadTreeBy copies a local file or directory tree to remote (a runtime
// path): a directory by method (see Method), creating remote directories.
func UploadTreeBy(ctx context.Context, rt Runtime, local, remote string, progress Progress, method Method) (int, error) {
	info, err := os.Stat(local)
	if err != nil {
		return 0, err
	}
	if !info.IsDir() {
		if dir := path.Dir(remote); dir != "." {
			if err := MkdirAll(ctx, rt, dir); err != nil {
				return 0, err
			}
		}
		return 1, uploadFile(ctx, rt, local, remote, progress)
	}
	if method != MethodFiles {
		n, err := uploadArchive(ctx, rt, local, remote, progress)
		if !errors.Is(err, ErrNoTar) || method == MethodArchive {
			return n, err
		}
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
	if un, ok := rt.(UploadNames); ok {
		// Checked on the names as they are here, before anything is sent.
		var bad []string
		if !un.UploadsName(remote) {
			bad = append(bad, remote)
		}
		_ = filepath.WalkDir(local, func(p string, _ fs.DirEntry, err error) error {
			if rel, _ := filepath.Rel(local, p); err == nil && rel != "." && !un.UploadsName(filepath.ToSlash(rel)) {
				bad = append(bad, filepath.ToSlash(rel))
			}
			return nil
		})
		if len(bad) > 0 {
			return 0, &UnrepresentableError{Paths: bad}
		}
	}
	if err := MkdirAll(ctx, rt, dirs...); err != nil {
		return 0, err
	}
	n, err := eachFile(ctx, len(files), func(ctx context.Context, i int) error {
		return uploadFile(ctx, rt, filepath.Join(local, files[i]), path.Join(remote, filepath.ToSlash(files[i])), progress)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// transferParallel bounds the per-file copies of a tree in flight: one
// request at a time left the connection idle between files; a few keep it
// busy without flooding the runtime.
const transferParallel = 4

// eachFile runs copyOne for 0..n-1, at most transferParallel at a time. The
// first error stops the rest and is returned, with how many copies
// completed.
func eachFile(ctx context.Context, n int, copyOne func(ctx context.Context, i int) error) (int, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(transferParallel)
	var done atomic.Int64
	for i := 0; i < n && gctx.Err() == nil; i++ {
		g.Go(func() error {
			if err := copyOne(gctx, i); err != nil {
				return err
			}
			done.Add(1)
			return nil
		})
	}
	err := g.Wait()
	return int(done.Load()), err
}

func uploadFile(ctx context.Context, rt Runtime, local, remote string, progress Progress) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose
	return rt.Upload(ctx, remote, progress.Wrap(remote, f))
}

// DownloadFile copies a sandbox file to the local path dst. It writes a
// temporary file beside dst and renames it only once the whole body (and
// the announced length) arrived, so a failed copy never leaves a truncated
// file that looks complete.
func DownloadFile(ctx context.Context, rt Runtime, remote, dst string, progress Progress) error {
	body, size, err := rt.Download(ctx, remote)
	if err != nil {
		return err
	}
	defer body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".partial-")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	// CreateTemp makes the file 0600; a copy gets a plain file's mode.
	var n int64
	if err = tmp.Chmod(0o644); err == nil {
		n, err = CopyBuffered(tmp, progress.Wrap(remote, body))
	}
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
// tree into dirDst, by MethodAuto. It returns the files copied.
func DownloadTree(ctx context.Context, rt Runtime, remote, fileDst, dirDst string, progress Progress) (int, error) {
	return DownloadTreeBy(ctx, rt, remote, fileDst, dirDst, progress, MethodAuto)
}

// DownloadTreeBy copies a sandbox file to fileDst, or a sandbox directory
// tree into dirDst by method. A file is tried first (one request, the
// common case); a path that is no file is listed as a directory.
func DownloadTreeBy(ctx context.Context, rt Runtime, remote, fileDst, dirDst string, progress Progress, method Method) (int, error) {
	byArchive := func() (int, bool, error) {
		if method == MethodFiles {
			return 0, false, nil
		}
		n, err := downloadArchive(ctx, rt, remote, dirDst, progress)
		if errors.Is(err, ErrNoTar) && method == MethodAuto {
			return 0, false, nil
		}
		return n, true, err
	}
	if remote == "" {
		if n, done, err := byArchive(); done {
			return n, err
		}
		return downloadDir(ctx, rt, remote, dirDst, progress)
	}
	fileErr := DownloadFile(ctx, rt, remote, fileDst, progress)
	switch {
	case fileErr == nil:
		return 1, nil
	case !errors.Is(fileErr, ErrNotFound):
		return 0, fileErr
	}
	entries, err := rt.List(ctx, remote)
	if errors.Is(err, ErrNotFound) {
		return 0, fileErr // neither a file nor a directory: "no such file"
	}
	if err != nil {
		return 0, err
	}
	if n, done, err := byArchive(); done {
		return n, err
	}
	return downloadEntries(ctx, rt, entries, remote, dirDst, progress)
}

// downloadDir copies the directory remote into local, recursively.
func downloadDir(ctx context.Context, rt Runtime, remote, local string, progress Progress) (int, error) {
	entries, err := rt.List(ctx, remote)
	if err != nil {
		return 0, err
	}
	return downloadEntries(ctx, rt, entries, remote, local, progress)
}

// downloadEntries copies the listed entries of remote into local: the
// directories are listed (and made here) first, then the files are copied,
// a few at a time.
func downloadEntries(ctx context.Context, rt Runtime, entries []Entry, remote, local string, progress Progress) (int, error) {
	var files [][2]string // remote, local
	if err := listFiles(ctx, rt, entries, remote, local, &files); err != nil {
		return 0, err
	}
	return eachFile(ctx, len(files), func(ctx context.Context, i int) error {
		return DownloadFile(ctx, rt, files[i][0], files[i][1], progress)
	})
}

// listFiles makes local and adds the files under the listed entries of
// remote to files, listing subdirectories in turn.
func listFiles(ctx context.Context, rt Runtime, entries []Entry, remote, local string, files *[][2]string) error {
	if err := os.MkdirAll(local, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if !SafeName(e.Name) {
			return fmt.Errorf("the sandbox listed an unsafe name %q in %s", e.Name, remote)
		}
		r, l := path.Join(remote, e.Name), filepath.Join(local, e.Name)
		if !e.IsDir() {
			*files = append(*files, [2]string{r, l})
			continue
		}
		sub, err := rt.List(ctx, r)
		if err != nil {
			return err
		}
		if err := listFiles(ctx, rt, sub, r, l, files); err != nil {
			return err
		}
	}
	return nil
}
