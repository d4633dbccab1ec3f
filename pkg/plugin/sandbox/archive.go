package sandbox

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Method is how a directory tree is copied.
type Method string

// Methods of copying a tree.
const (
	// MethodAuto copies through an archive when the sandbox has tar,
	// else file by file.
	MethodAuto Method = "auto"
	// MethodArchive sends one tar archive and unpacks it in the sandbox
	// (or the reverse): one request for the whole tree.
	MethodArchive Method = "archive"
	// MethodFiles copies file by file, one request each.
	MethodFiles Method = "files"
)

// ErrNoTar is a sandbox without a usable tar (sh and tar) to copy a tree
// as one archive.
var ErrNoTar = errors.New("the sandbox has no tar to copy the tree as one archive")

// ProbeScript says (exit 0) whether the sandbox can pack and unpack.
const ProbeScript = `command -v tar >/dev/null 2>&1`

// UnpackScript unpacks archive $0 into directory $1 and removes the
// archive, whatever tar did.
const UnpackScript = `mkdir -p -- "$1" && tar -x --no-same-owner -f "$0" -C "$1"; rc=$?; rm -f -- "$0"; exit $rc`

// packScript archives directory $1 into $0/archive.tar; the directory $0
// is made first (so that the tree does not change while tar reads it) and
// left out. Exit 127: no tar.
const PackScript = `command -v tar >/dev/null 2>&1 || exit 127
mkdir -p -- "$0" && tar -c -f "$0/archive.tar" --exclude="./$0" -C "$1" .`

// item is one file or directory of a local tree, by its slash-separated
// path under the tree.
type item struct {
	rel  string
	info fs.FileInfo
}

// uploadArchive copies the local tree under local to remote through tar
// archives, streamed as they are written.
func uploadArchive(ctx context.Context, rt Runtime, local, remote string, progress Progress) (int, error) {
	// Walk first: refuse what cannot be copied before anything is sent.
	var items []item
	err := filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(local, p)
		if rel == "." {
			return nil
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return fmt.Errorf("%s: only regular files and directories can be copied", p)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		items = append(items, item{filepath.ToSlash(rel), info})
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(items) == 0 && remote == "" {
		return 0, nil // nothing to create, nothing to send
	}
	// One cheap command first: a sandbox without tar gets file by file
	// copies, not an archive it cannot unpack.
	probe, err := rt.Execute(ctx, Command{Argv: []string{"sh", "-c", ProbeScript}})
	if err != nil && !noShell(probe, err) {
		return 0, err
	}
	if noShell(probe, err) || probe.ExitCode != 0 {
		return 0, ErrNoTar
	}
	// The archive goes in parts, each unpacked while the next one uploads:
	// the sandbox's unpack no longer waits for the whole upload.
	base := ".kubectl-sandbox-upload-" + randomHex()
	uctx, stopUploads := context.WithCancel(ctx)
	defer stopUploads()
	queue := make(chan string, 1) // one part waits while one unpacks
	unpacked := make(chan error, 1)
	go func() {
		var err error
		for tmp := range queue {
			if err != nil {
				removeQuietly(ctx, rt, tmp, false) // after a failed part: only clean up
				continue
			}
			if err = unpackPart(ctx, rt, tmp, remote); err != nil {
				stopUploads()
			}
		}
		unpacked <- err
	}()
	files := 0
	var upErr error
	for i, part := range splitParts(items) {
		tmp := fmt.Sprintf("%s-%d.tar", base, i)
		n, err := uploadPart(uctx, rt, local, remote, tmp, part, progress)
		if err != nil {
			upErr = err
			break
		}
		files += n
		queue <- tmp
	}
	close(queue)
	if err := <-unpacked; err != nil {
		return 0, err // an unpack failed, and the uploads stopped
	}
	if upErr != nil {
		return 0, upErr
	}
	return files, nil
}

// archivePartBytes is the size of the file data in one part of an archive
// upload (a variable for tests): small enough that the sandbox unpacks one
// part while the next uploads, large enough that a part's unpack command is
// cheap beside it. A part also ends after archivePartFiles files.
var (
	archivePartBytes int64 = 16 << 20
	archivePartFiles       = 512
)

// splitParts cuts items, in order, into parts of about archivePartBytes
// or archivePartFiles files each; directories count as nothing. A
// directory comes before its contents in the walk, so in the same part or
// an earlier one, and the parts unpack in order.
func splitParts(items []item) [][]item {
	var parts [][]item
	var cur []item
	var bytes int64
	files := 0
	for _, it := range items {
		cur = append(cur, it)
		if it.info.IsDir() {
			continue
		}
		bytes += it.info.Size()
		files++
		if bytes >= archivePartBytes || files >= archivePartFiles {
			parts = append(parts, cur)
			cur, bytes, files = nil, 0, 0
		}
	}
	if len(cur) > 0 || len(parts) == 0 {
		parts = append(parts, cur)
	}
	return parts
}

// uploadPart streams one part of the tree as a tar archive to tmp; on
// failure it removes tmp. It returns the files sent.
func uploadPart(ctx context.Context, rt Runtime, local, remote, tmp string, part []item, progress Progress) (int, error) {
	pr, pw := io.Pipe()
	files := 0
	writeErr := make(chan error, 1)
	go func() {
		tw := tar.NewWriter(pw)
		var err error
		for _, it := range part {
			if err = ctx.Err(); err != nil {
				break
			}
			h := &tar.Header{Name: it.rel, Mode: int64(it.info.Mode().Perm()), ModTime: it.info.ModTime(), Format: tar.FormatPAX}
			if it.info.IsDir() {
				h.Typeflag, h.Name = tar.TypeDir, it.rel+"/"
				err = tw.WriteHeader(h)
			} else {
				h.Typeflag, h.Size = tar.TypeReg, it.info.Size()
				err = writeFile(tw, h, filepath.Join(local, filepath.FromSlash(it.rel)), path.Join(remote, it.rel), progress)
				files++
			}
			if err != nil {
				break
			}
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
		writeErr <- err
	}()
	uerr := rt.Upload(ctx, tmp, pr)
	pr.CloseWithError(errors.New("upload ended"))
	if werr := <-writeErr; werr != nil {
		removeQuietly(ctx, rt, tmp, false)
		return 0, fmt.Errorf("reading what to send: %w", werr)
	}
	if uerr != nil {
		removeQuietly(ctx, rt, tmp, false)
		return 0, uerr
	}
	return files, nil
}

// unpackPart unpacks the uploaded archive tmp into remote; the script
// removes tmp whatever tar did, and on an error of the command itself it is
// removed here.
func unpackPart(ctx context.Context, rt Runtime, tmp, remote string) error {
	res, err := rt.Execute(ctx, Command{Argv: []string{"sh", "-c", UnpackScript, tmp, nonEmpty(remote)}})
	switch {
	case err != nil:
		removeQuietly(ctx, rt, tmp, false)
		return err
	case res.ExitCode != 0:
		return fmt.Errorf("unpacking in the sandbox: exit code %d: %s", res.ExitCode, firstLine(res.Stderr))
	}
	return nil
}

// writeFile adds one local file to the archive; it must be the size the
// header says.
func writeFile(tw *tar.Writer, h *tar.Header, local, name string, progress Progress) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }() // read only
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	n, err := CopyBuffered(tw, progress.Wrap(name, f))
	if err == nil && n != h.Size {
		err = fmt.Errorf("%s changed size while it was copied", local)
	}
	return err
}

// noShell says whether a command could not start: sh (or what it ran,
// tar) is missing. The python runtime answers exit 1 with its error; sandboxd
// refuses to start it (a *ProcessError wrapping ErrNotFound's gRPC code,
// which callers see as an error whose text names the command); a shell
// answers 127.
func noShell(res *Result, err error) bool {
	if err != nil {
		return strings.Contains(err.Error(), "command or path not found")
	}
	return res != nil && (res.ExitCode == 127 ||
		res.ExitCode == 1 && strings.Contains(res.Stderr, "No such file or directory: 'sh'"))
}

func nonEmpty(p string) string {
	if p == "" {
		return "."
	}
	return p
}

// removeQuietly removes a temporary file or tree of ours on a context of
// its own: an interrupted copy or command still cleans up.
func removeQuietly(ctx context.Context, rt Runtime, p string, recursive bool) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = rt.Remove(rctx, p, recursive)
}

// downloadArchive copies the sandbox directory remote into local through
// one tar archive. The tree is unpacked into a temporary directory beside
// local and moved into place only once all of it arrived: a failure or an
// interruption leaves nothing behind.
func downloadArchive(ctx context.Context, rt Runtime, remote, local string, progress Progress) (int, error) {
	tmp := ".kubectl-sandbox-download-" + randomHex()
	res, err := rt.Execute(ctx, Command{Argv: []string{"sh", "-c", PackScript, tmp, nonEmpty(remote)}})
	if noShell(res, err) {
		return 0, ErrNoTar // nothing was made
	}
	defer removeQuietly(ctx, rt, tmp, true)
	switch {
	case err != nil:
		return 0, err
	case res.ExitCode != 0:
		return 0, fmt.Errorf("archiving %s in the sandbox: exit code %d: %s", nonEmpty(remote), res.ExitCode, firstLine(res.Stderr))
	}
	body, _, err := rt.Download(ctx, tmp+"/archive.tar")
	if err != nil {
		return 0, err
	}
	defer body.Close()
	parent := filepath.Dir(local)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return 0, err
	}
	stage, err := os.MkdirTemp(parent, "."+filepath.Base(local)+".partial-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(stage) // empty once moved into place
	files, err := unpack(tar.NewReader(body), stage, remote, progress)
	if err != nil {
		return 0, err
	}
	// The archive's padding after its end: read, so that the connection
	// ends cleanly rather than being reset.
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 1<<20))
	if err := os.Chmod(stage, 0o755); err != nil {
		return 0, err
	}
	return files, moveInto(stage, local)
}

// unpack writes the archive's directories and regular files under dir. A
// name that is absolute, climbs out with "..", or an entry of another kind
// is an error.
func unpack(tr *tar.Reader, dir, remote string, progress Progress) (int, error) {
	files := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return files, fmt.Errorf("reading the archive: %w", err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		clean := path.Clean(name)
		if name == "" || clean == "." {
			continue // the root itself
		}
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return files, fmt.Errorf("the sandbox's archive holds an unsafe name %q", h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(clean))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return files, err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return files, err
			}
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return files, err
			}
			_, err = CopyBuffered(f, progress.Wrap(path.Join(remote, clean), tr))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return files, fmt.Errorf("downloading %s: %w", path.Join(remote, clean), err)
			}
			files++
		default:
			return files, fmt.Errorf("%s in the sandbox is not a regular file or a directory (only those are copied)", path.Join(remote, clean))
		}
	}
}

// moveInto moves the tree stage into local: a rename when local does not
// exist; else each file replaces its namesake (directories merge).
func moveInto(stage, local string) error {
	if _, err := os.Lstat(local); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(stage, local)
	}
	entries, err := os.ReadDir(stage)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(local, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		src, dst := filepath.Join(stage, e.Name()), filepath.Join(local, e.Name())
		if e.IsDir() {
			if info, err := os.Stat(dst); err == nil && info.IsDir() {
				if err := moveInto(src, dst); err != nil {
					return err
				}
				continue
			}
		}
		if err := os.Rename(src, dst); err != nil {
			return err
		}
	}
	return nil
}
