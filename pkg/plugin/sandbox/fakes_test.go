package sandbox

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeRuntime is an in-memory Runtime for logic that does not depend on
// HTTP; a method without its func fails the test.
type fakeRuntime struct {
	t        *testing.T
	execute  func(ctx context.Context, cmd Command) (*Result, error)
	download func(ctx context.Context, path string) (io.ReadCloser, int64, error)
	list     func(ctx context.Context, path string) ([]Entry, error)
}

var _ Runtime = (*fakeRuntime)(nil)

func (f *fakeRuntime) Execute(ctx context.Context, cmd Command) (*Result, error) {
	if f.execute == nil {
		f.t.Errorf("unexpected Execute(%q)", cmd.Argv)
		return nil, errors.New("unexpected")
	}
	return f.execute(ctx, cmd)
}

func (f *fakeRuntime) Download(ctx context.Context, path string) (io.ReadCloser, int64, error) {
	if f.download == nil {
		f.t.Errorf("unexpected Download(%q)", path)
		return nil, 0, errors.New("unexpected")
	}
	return f.download(ctx, path)
}

func (f *fakeRuntime) List(ctx context.Context, path string) ([]Entry, error) {
	if f.list == nil {
		f.t.Errorf("unexpected List(%q)", path)
		return nil, errors.New("unexpected")
	}
	return f.list(ctx, path)
}

func (f *fakeRuntime) Upload(_ context.Context, path string, _ io.Reader) error {
	f.t.Errorf("unexpected Upload(%q)", path)
	return errors.New("unexpected")
}

func (f *fakeRuntime) Exists(_ context.Context, path string) (bool, error) {
	f.t.Errorf("unexpected Exists(%q)", path)
	return false, errors.New("unexpected")
}

func (f *fakeRuntime) Remove(_ context.Context, path string, _ bool) error {
	f.t.Errorf("unexpected Remove(%q)", path)
	return errors.New("unexpected")
}

// tree returns the files under dir as path -> content, and directories as
// path/ -> "".
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeTree creates files (path -> content; a path ending in "/" is an
// empty directory) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
