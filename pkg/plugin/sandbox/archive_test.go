package sandbox

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func tarOf(t *testing.T, entries ...*tar.Header) *tar.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
		}
	}
	_ = tw.Close()
	return tar.NewReader(&buf)
}

func TestUnpack(t *testing.T) {
	dir := t.TempDir()
	n, err := unpack(tarOf(t,
		&tar.Header{Name: "./", Typeflag: tar.TypeDir},
		&tar.Header{Name: "./a/", Typeflag: tar.TypeDir},
		&tar.Header{Name: "./a/f", Typeflag: tar.TypeReg, Size: 3},
		&tar.Header{Name: "./new\nline/back\\sl", Typeflag: tar.TypeReg, Size: 1},
	), dir, "r", nil)
	if err != nil || n != 2 {
		t.Fatalf("unpack = %d, %v", n, err)
	}
	if got := tree(t, dir); !reflect.DeepEqual(got, map[string]string{"a/": "", "a/f": "xxx", "new\nline/": "", "new\nline/back\\sl": "x"}) {
		t.Errorf("tree %q", got)
	}
	for _, h := range []*tar.Header{
		{Name: "../escape", Typeflag: tar.TypeReg},
		{Name: "/abs", Typeflag: tar.TypeReg},
		{Name: "a/../../x", Typeflag: tar.TypeReg},
		{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
	} {
		if _, err := unpack(tarOf(t, h), t.TempDir(), "r", nil); err == nil {
			t.Errorf("%q (type %c) was unpacked", h.Name, h.Typeflag)
		}
	}
}

func TestMoveInto(t *testing.T) {
	root := t.TempDir()
	stage, local := filepath.Join(root, "stage"), filepath.Join(root, "local")
	writeTree(t, stage, map[string]string{"a/f": "new", "b": "b"})
	if err := moveInto(stage, local); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, local); !reflect.DeepEqual(got, map[string]string{"a/": "", "a/f": "new", "b": "b"}) {
		t.Errorf("into a new directory: %q", got)
	}
	// Into an existing one: files replace their namesakes, directories merge.
	stage2 := filepath.Join(root, "stage2")
	writeTree(t, stage2, map[string]string{"a/g": "g", "b": "b2"})
	writeTree(t, local, map[string]string{"keep": "k"})
	if err := moveInto(stage2, local); err != nil {
		t.Fatal(err)
	}
	if got := tree(t, local); !reflect.DeepEqual(got, map[string]string{"a/": "", "a/f": "new", "a/g": "g", "b": "b2", "keep": "k"}) {
		t.Errorf("into an existing directory: %q", got)
	}
}

// dirRuntime is a runtime on a local directory that runs commands with the
// real sh and tar: the archive scripts as a sandbox runs them. failUnpack,
// if set, makes the unpack of a matching archive exit 2.
type dirRuntime struct {
	Runtime
	root       string
	mu         sync.Mutex
	uploads    []string
	unpacks    []string
	failUnpack func(archive string) bool
}

func (d *dirRuntime) Execute(ctx context.Context, cmd Command) (*Result, error) {
	if len(cmd.Argv) > 3 && cmd.Argv[2] == UnpackScript {
		d.mu.Lock()
		d.unpacks = append(d.unpacks, cmd.Argv[3])
		d.mu.Unlock()
		if d.failUnpack != nil && d.failUnpack(cmd.Argv[3]) {
			_ = os.Remove(filepath.Join(d.root, cmd.Argv[3]))
			return &Result{ExitCode: 2, Stderr: "tar: broken\n"}, nil
		}
	}
	c := exec.CommandContext(ctx, cmd.Argv[0], cmd.Argv[1:]...)
	c.Dir = d.root
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &Result{Stdout: out.String(), Stderr: errOut.String(), ExitCode: ee.ExitCode()}, nil
	}
	return &Result{Stdout: out.String(), Stderr: errOut.String()}, err
}

func (d *dirRuntime) Upload(ctx context.Context, p string, content io.Reader) error {
	d.mu.Lock()
	d.uploads = append(d.uploads, p)
	d.mu.Unlock()
	b, err := io.ReadAll(content)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d.root, p), b, 0o644)
}

func (d *dirRuntime) Remove(ctx context.Context, p string, recursive bool) error {
	return os.RemoveAll(filepath.Join(d.root, p))
}

// leftovers lists the upload archives left in the runtime's root.
func (d *dirRuntime) leftovers(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(d.root, ".kubectl-sandbox-upload-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestUploadArchiveInParts: a tree larger than a part goes as several
// archives, each unpacked in order while the next uploads; the tree arrives
// whole and no archive is left behind.
func TestUploadArchiveInParts(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("no tar on this machine")
	}
	defer func(b int64, f int) { archivePartBytes, archivePartFiles = b, f }(archivePartBytes, archivePartFiles)
	archivePartBytes, archivePartFiles = 10, 3
	local := t.TempDir()
	want := map[string]string{"a/": "", "a/1": "0123456789ab", "a/2": "x", "a/3": "y", "b/": "", "b/c/": "", "b/c/4": "z", "5": "0123456789", "6": ""}
	writeTree(t, local, want)
	rt := &dirRuntime{root: t.TempDir()}
	n, err := UploadTreeBy(context.Background(), rt, local, "dst", nil, MethodArchive)
	if err != nil || n != 6 {
		t.Fatalf("upload = %d, %v", n, err)
	}
	if got := tree(t, filepath.Join(rt.root, "dst")); !reflect.DeepEqual(got, want) {
		t.Errorf("tree %q, want %q", got, want)
	}
	if len(rt.uploads) < 3 || !reflect.DeepEqual(rt.uploads, rt.unpacks) {
		t.Errorf("uploads %q, unpacks %q: want several parts, unpacked in order", rt.uploads, rt.unpacks)
	}
	if left := rt.leftovers(t); len(left) != 0 {
		t.Errorf("left behind: %q", left)
	}
}

// TestUploadArchiveStopsAtAFailedPart: when a part fails to unpack, the
// error says so, no later part is unpacked, and no archive is left behind.
func TestUploadArchiveStopsAtAFailedPart(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("no tar on this machine")
	}
	defer func(b int64, f int) { archivePartBytes, archivePartFiles = b, f }(archivePartBytes, archivePartFiles)
	archivePartBytes, archivePartFiles = 1, 1
	local := t.TempDir()
	files := map[string]string{}
	for i := range 20 {
		files[fmt.Sprintf("f%02d", i)] = "data"
	}
	writeTree(t, local, files)
	rt := &dirRuntime{root: t.TempDir(), failUnpack: func(a string) bool { return strings.HasSuffix(a, "-1.tar") }}
	_, err := UploadTreeBy(context.Background(), rt, local, "dst", nil, MethodArchive)
	if err == nil || !strings.Contains(err.Error(), "unpacking in the sandbox: exit code 2: tar: broken") {
		t.Fatalf("error %v", err)
	}
	if len(rt.unpacks) != 2 || len(rt.uploads) >= 20 {
		t.Errorf("uploads %d, unpacks %q: want the uploads stopped and nothing unpacked after the failed part", len(rt.uploads), rt.unpacks)
	}
	if left := rt.leftovers(t); len(left) != 0 {
		t.Errorf("left behind: %q", left)
	}
}
