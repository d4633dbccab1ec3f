// Command archive writes a release archive that is the same, byte for byte,
// whenever it is given the same files: entries in name order, each with the
// given modification time, owner root, mode 0755 or 0644 (from the file's
// executable bits), and no timestamp or name in the gzip header.
//
// Usage: archive -mtime RFC3339 -o OUT.tar.gz|OUT.zip FILE [FILE ...]
//
// Each FILE is stored under its base name.
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/flate"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	out := flag.String("o", "", "the archive to write: NAME.tar.gz or NAME.zip")
	mtime := flag.String("mtime", "", "the modification time of every entry (RFC 3339)")
	flag.Parse()
	if err := run(*out, *mtime, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "archive:", err)
		os.Exit(1)
	}
}

// entry is one file of an archive.
type entry struct {
	name string
	path string
	mode fs.FileMode
	size int64
}

func run(out, mtime string, files []string) error {
	if out == "" || len(files) == 0 {
		return errors.New("usage: archive -mtime RFC3339 -o OUT.tar.gz|OUT.zip FILE [FILE ...]")
	}
	at, err := time.Parse(time.RFC3339, mtime)
	if err != nil {
		return fmt.Errorf("-mtime: %w", err)
	}
	entries, err := collect(files)
	if err != nil {
		return err
	}
	var write func(io.Writer, []entry, time.Time) error
	switch {
	case strings.HasSuffix(out, ".tar.gz"):
		write = writeTarGz
	case strings.HasSuffix(out, ".zip"):
		write = writeZip
	default:
		return fmt.Errorf("%s: the name must end in .tar.gz or .zip", out)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := write(f, entries, at.UTC().Truncate(time.Second)); err != nil {
		_ = f.Close()
		os.Remove(out)
		return fmt.Errorf("%s: %w", out, err)
	}
	return f.Close()
}

// collect stats the files and sorts them by base name, which must be
// unique.
func collect(files []string) ([]entry, error) {
	entries := make([]entry, 0, len(files))
	seen := map[string]bool{}
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: not a regular file", p)
		}
		name := filepath.Base(p)
		if seen[name] {
			return nil, fmt.Errorf("%s: a second file named %s", p, name)
		}
		seen[name] = true
		mode := fs.FileMode(0o644)
		if fi.Mode()&0o111 != 0 {
			mode = 0o755
		}
		entries = append(entries, entry{name: name, path: p, mode: mode, size: fi.Size()})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	return entries, nil
}

// writeTarGz writes a gzip-compressed ustar archive.
func writeTarGz(w io.Writer, entries []entry, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.name,
			Mode:     int64(e.mode),
			Size:     e.size,
			ModTime:  mtime,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if err := copyFile(tw, e); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// writeZip writes a deflated zip archive.
func writeZip(w io.Writer, entries []entry, mtime time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(e.mode)
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if err := copyFile(fw, e); err != nil {
			return err
		}
	}
	return zw.Close()
}

// copyFile copies the file of e, which must still have the size it had.
func copyFile(w io.Writer, e entry) error {
	f, err := os.Open(e.path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	n, err := io.Copy(w, f)
	if err == nil && n != e.size {
		err = fmt.Errorf("%s changed while it was archived", e.path)
	}
	return err
}
