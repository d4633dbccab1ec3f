package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// files writes the release's three files into a new folder, with the
// given modification time and permission bits, and returns their paths.
func files(t *testing.T, mtime time.Time, perm os.FileMode) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, f := range []struct {
		name, body string
		exec       bool
	}{
		{"kubectl_complete-sandbox", "#!/bin/sh\n", true},
		{"LICENSE", "license text\n", false},
		{"kubectl-sandbox", "binary", true},
	} {
		p := filepath.Join(dir, f.name)
		mode := perm &^ 0o111
		if f.exec {
			mode = perm
		}
		if err := os.WriteFile(p, []byte(f.body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// TestArchivesAreReproducible: the same contents give the same bytes,
// whatever the files' own times and permissions (a clean clone's umask),
// in both formats.
func TestArchivesAreReproducible(t *testing.T) {
	const stamp = "2026-05-04T03:02:01+02:00"
	for _, ext := range []string{".tar.gz", ".zip"} {
		a := filepath.Join(t.TempDir(), "a"+ext)
		b := filepath.Join(t.TempDir(), "b"+ext)
		if err := run(a, stamp, files(t, time.Unix(1e9, 0), 0o755)); err != nil {
			t.Fatal(err)
		}
		if err := run(b, stamp, files(t, time.Now(), 0o775)); err != nil {
			t.Fatal(err)
		}
		ab, _ := os.ReadFile(a)
		bb, _ := os.ReadFile(b)
		if len(ab) == 0 || !bytes.Equal(ab, bb) {
			t.Errorf("%s: two archives of the same contents differ (%d and %d bytes)", ext, len(ab), len(bb))
		}
	}
}

// TestTarGzEntries: name order, the given time, root, normalised modes; a
// gzip header without time or name.
func TestTarGzEntries(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.tar.gz")
	if err := run(out, "2026-05-04T01:02:03Z", files(t, time.Now(), 0o700)); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if !gz.ModTime.IsZero() || gz.Name != "" {
		t.Errorf("gzip header: time %v, name %q", gz.ModTime, gz.Name)
	}
	tr := tar.NewReader(gz)
	var got []string
	want := time.Date(2026, 5, 4, 1, 2, 3, 0, time.UTC)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got = append(got, h.Name+" "+os.FileMode(h.Mode).String()+" "+string(body))
		if !h.ModTime.Equal(want) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" {
			t.Errorf("%s: time %v, owner %d:%d %q", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname)
		}
	}
	if s := strings.Join(got, "|"); s != "LICENSE -rw-r--r-- license text\n|kubectl-sandbox -rwxr-xr-x binary|kubectl_complete-sandbox -rwxr-xr-x #!/bin/sh\n" {
		t.Errorf("entries %q", s)
	}
}

// TestZipEntries: name order, the given time, normalised modes.
func TestZipEntries(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.zip")
	if err := run(out, "2026-05-04T01:02:03Z", files(t, time.Now(), 0o700)); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var got []string
	for _, f := range zr.File {
		got = append(got, f.Name+" "+f.Mode().String())
		if !f.Modified.Equal(time.Date(2026, 5, 4, 1, 2, 3, 0, time.UTC)) {
			t.Errorf("%s: time %v", f.Name, f.Modified)
		}
	}
	if s := strings.Join(got, "|"); s != "LICENSE -rw-r--r--|kubectl-sandbox -rwxr-xr-x|kubectl_complete-sandbox -rwxr-xr-x" {
		t.Errorf("entries %q", s)
	}
}

func TestArchiveRefusals(t *testing.T) {
	dir := t.TempDir()
	fs := files(t, time.Now(), 0o755)
	for _, tc := range []struct {
		out, mtime string
		files      []string
		want       string
	}{
		{filepath.Join(dir, "x.tar.gz"), "2026-05-04T01:02:03Z", nil, "usage: archive -mtime RFC3339 -o OUT.tar.gz|OUT.zip FILE [FILE ...]"},
		{filepath.Join(dir, "x.tar.gz"), "yesterday", fs, `-mtime: parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`},
		{filepath.Join(dir, "x.rar"), "2026-05-04T01:02:03Z", fs, filepath.Join(dir, "x.rar") + ": the name must end in .tar.gz or .zip"},
		{filepath.Join(dir, "x.zip"), "2026-05-04T01:02:03Z", append(fs, fs[0]), fs[0] + ": a second file named kubectl_complete-sandbox"},
		{filepath.Join(dir, "x.zip"), "2026-05-04T01:02:03Z", []string{dir}, dir + ": not a regular file"},
	} {
		err := run(tc.out, tc.mtime, tc.files)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: %v, want %q", tc.files, err, tc.want)
		}
	}
}
