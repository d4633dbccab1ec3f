package sandboxd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// maxListing bounds a directory listing's JSON.
const maxListing = 64 << 20

// fileURL is the file API's URL of a runtime path: each segment is escaped
// whole (a "/" inside a name cannot occur; "%", "?" and "#" can).
func (c *Client) fileURL(path, rawQuery string) *url.URL {
	u := *c.rest
	segs := strings.Split(path, "/")
	esc := make([]string, len(segs))
	for i, s := range segs {
		esc[i] = url.PathEscape(s)
	}
	u.Path = "/v1/files/" + path
	u.RawPath = "/v1/files/" + strings.Join(esc, "/")
	u.RawQuery = rawQuery
	return &u
}

// Upload writes content to path atomically (sandboxd writes a temporary
// file and renames it); parent directories are created.
func (c *Client) Upload(ctx context.Context, path string, content io.Reader) error {
	return c.put(ctx, path, content, "0644")
}

func (c *Client) put(ctx context.Context, path string, content io.Reader, mode string) error {
	resp, err := c.doURL(ctx, http.MethodPut, c.fileURL(path, "mode="+mode), io.NopCloser(content), "upload "+path)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// Download opens a file. A directory is sandbox.ErrNotFound, as for the
// other runtimes (not a file).
func (c *Client) Download(ctx context.Context, path string) (io.ReadCloser, int64, error) {
	resp, err := c.doURL(ctx, http.MethodGet, c.fileURL(path, ""), nil, "download "+path)
	if err != nil {
		return nil, 0, err
	}
	if isJSON(resp) {
		discard(resp)
		return nil, 0, fmt.Errorf("download %s: it is a directory: %w", path, sandbox.ErrNotFound)
	}
	return resp.Body, resp.ContentLength, nil
}

// discard reads (a bounded part of) an answer not wanted before closing
// it: closing a connection with unread data resets it, which the
// port-forward reports as an error.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
}

func isJSON(resp *http.Response) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return mt == "application/json"
}

// List lists a directory. A file is sandbox.ErrNotFound (not a directory).
func (c *Client) List(ctx context.Context, path string) ([]sandbox.Entry, error) {
	resp, err := c.doURL(ctx, http.MethodGet, c.fileURL(path, ""), nil, "list "+path)
	if err != nil {
		return nil, err
	}
	if !isJSON(resp) {
		discard(resp)
		return nil, fmt.Errorf("list %s: it is a file: %w", path, sandbox.ErrNotFound)
	}
	defer discard(resp) // the JSON's trailing newline too
	var listing struct {
		Entries []struct {
			Name       string `json:"name"`
			Size       int64  `json:"size"`
			Type       string `json:"type"`
			ModifiedAt string `json:"modified_at"`
		} `json:"entries"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxListing)).Decode(&listing); err != nil {
		return nil, fmt.Errorf("list %s: decoding sandboxd's answer: %w", path, err)
	}
	entries := make([]sandbox.Entry, 0, len(listing.Entries))
	for _, e := range listing.Entries {
		if !sandbox.SafeName(e.Name) {
			return nil, fmt.Errorf("list %s: sandboxd named an entry %q", path, e.Name)
		}
		if e.Type != "file" && e.Type != "directory" {
			return nil, fmt.Errorf("list %s: entry %q has unknown type %q", path, e.Name, e.Type)
		}
		mod, _ := time.Parse(time.RFC3339, e.ModifiedAt)
		entries = append(entries, sandbox.Entry{Name: e.Name, Size: e.Size, Type: e.Type, ModTime: mod})
	}
	return entries, nil
}

// Exists reports whether path exists (HEAD).
func (c *Client) Exists(ctx context.Context, path string) (bool, error) {
	resp, err := c.doURL(ctx, http.MethodHead, c.fileURL(path, ""), nil, "exists "+path)
	if err == nil {
		resp.Body.Close()
		return true, nil
	}
	if errors.Is(err, sandbox.ErrNotFound) {
		return false, nil
	}
	return false, err
}

// Remove deletes a file or an empty directory, or with recursive a tree.
// A missing path is sandbox.ErrNotFound; a directory that is not empty,
// without recursive, is a *sandbox.HTTPError with status 409.
func (c *Client) Remove(ctx context.Context, path string, recursive bool) error {
	resp, err := c.doURL(ctx, http.MethodDelete, c.fileURL(path, "recursive="+strconv.FormatBool(recursive)), nil, "remove "+path)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
