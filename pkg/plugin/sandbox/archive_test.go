package sandbox

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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

// TestUploadFileByFileRefusesNamesItCannotCarry: nothing is sent.
func TestUploadFileByFileRefusesNamesItCannotCarry(t *testing.T) {
	rt, c := newRuntime(t)
	local := t.TempDir()
	writeTree(t, local, map[string]string{"ok": "1", "new\nline/f": "2"})
	_, err := UploadTreeBy(context.Background(), c, local, "dst", nil, MethodFiles)
	var ue *UnrepresentableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `"new\nline", "new\nline/f"`) {
		t.Fatalf("error %v", err)
	}
	if got := rt.requests(); len(got) != 0 {
		t.Errorf("requests %q", got)
	}
}

// TestArchiveNeedsTar: --method archive on a sandbox without tar (the fake
// runtime has no sh) is an error; auto falls back to file by file.
func TestArchiveNeedsTar(t *testing.T) {
	_, c := newRuntime(t)
	local := t.TempDir()
	writeTree(t, local, map[string]string{"f": "1"})
	if _, err := UploadTreeBy(context.Background(), c, local, "dst", nil, MethodArchive); !errors.Is(err, ErrNoTar) {
		t.Errorf("archive up: %v", err)
	}
	if _, err := DownloadTreeBy(context.Background(), c, "", filepath.Join(t.TempDir(), "x"), filepath.Join(t.TempDir(), "x"), nil, MethodArchive); !errors.Is(err, ErrNoTar) {
		t.Errorf("archive down: %v", err)
	}
	if n, err := UploadTreeBy(context.Background(), c, local, "dst", nil, MethodAuto); err != nil || n != 1 {
		t.Errorf("auto up: %d, %v", n, err)
	}
	_ = os.Remove(local)
}
