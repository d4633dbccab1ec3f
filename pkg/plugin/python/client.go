// Package python is the data-plane backend of agent-sandbox's python
// runtime (execute, upload, download, list, exists), reached through the
// sandbox router: a sandbox.Runtime over HTTP.
package python

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// Root is the python runtime's base directory (hard-coded in the v0.5.6
// runtime): runtime paths are relative to it, and commands run in it.
const Root = "/app"

// The bounds of the runtime's JSON answers (variables for tests).
var (
	// maxAnswer bounds what is read of an answer (a listing, a command's
	// output): a broken or hostile peer cannot make the client buffer more.
	maxAnswer int64 = 64 << 20
	// maxEntries bounds the entries of one listing: an entry takes far
	// more memory than its JSON, so the byte bound is not enough.
	maxEntries = 1 << 20
)

// DefaultHeaderTimeout is the HeaderTimeout of a new Client.
const DefaultHeaderTimeout = 30 * time.Second

// Target names the sandbox that the router forwards a request to.
type Target struct {
	// SandboxID is the Sandbox's name (not the claim's).
	SandboxID string
	Namespace string
	Port      int
	// PodIP is sent as X-Sandbox-Pod-IP when known.
	PodIP string
}

// Client calls one sandbox's python runtime through the router at base.
// It implements sandbox.Runtime.
type Client struct {
	base   *url.URL
	http   *http.Client
	token  string
	target Target
	// Retries and Backoff apply to idempotent GETs only.
	Retries int
	Backoff time.Duration
	// Explain, when set, turns a non-2xx answer (resp, whose Request is
	// the request as sent) and the error made of it into the error
	// returned: the router's refusal, explained.
	Explain func(resp *http.Response, err *sandbox.HTTPError) error
	// HeaderTimeout bounds the wait for the headers of the answer to an
	// idempotent GET (list, download, exists), so that a router that never
	// answers does not hang the caller; the body may then take as long as
	// it takes. Commands (POST /execute) have no such limit: they may run
	// for minutes, bounded by the caller's context. 0 means no limit.
	HeaderTimeout time.Duration
}

// NewClient returns a client that sends requests for target to the router at
// base over transport. It never follows redirects. A non-empty token is sent
// as a bearer token.
func NewClient(base *url.URL, transport http.RoundTripper, token string, target Target) *Client {
	return &Client{
		base:  base,
		token: token,
		http: &http.Client{
			Transport:     transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		target:        target,
		Retries:       3,
		Backoff:       200 * time.Millisecond,
		HeaderTimeout: DefaultHeaderTimeout,
	}
}

func (c *Client) newRequest(ctx context.Context, method, endpoint string, body io.Reader) (*http.Request, error) {
	full := strings.TrimSuffix(c.base.String(), "/") + "/" + endpoint
	req, err := http.NewRequestWithContext(ctx, method, full, body)
	if err != nil {
		return nil, err
	}
	c.target.SetHeaders(req.Header, c.token)
	if dl, ok := ctx.Deadline(); ok {
		req.Header.Set("X-Sandbox-Timeout", strconv.FormatFloat(time.Until(dl).Seconds(), 'f', 3, 64))
	}
	return req, nil
}

// SetHeaders sets the router's X-Sandbox-* headers for t, and a non-empty
// token as a bearer token.
func (t Target) SetHeaders(h http.Header, token string) {
	h.Set("X-Sandbox-ID", t.SandboxID)
	h.Set("X-Sandbox-Namespace", t.Namespace)
	h.Set("X-Sandbox-Port", strconv.Itoa(t.Port))
	if t.PodIP != "" {
		h.Set("X-Sandbox-Pod-IP", t.PodIP)
	}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
}

// send performs one request and turns a non-2xx answer into a
// *sandbox.HTTPError.
// A request that failed after it was sent is a *SentError (it may have
// been carried out), one that never left a *ConnError.
func (c *Client) send(req *http.Request, op string) (*http.Response, error) {
	var sent atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteHeaders: func() { sent.Store(true) },
	}))
	resp, err := c.http.Do(req)
	if err != nil {
		if sent.Load() && req.Method != http.MethodGet {
			return nil, &SentError{Op: op, Err: err}
		}
		return nil, &ConnError{Op: op, Err: err, wrote: sent.Load()}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	e := newHTTPError(op, c.target, resp)
	if c.Explain != nil {
		return nil, c.Explain(resp, e)
	}
	return nil, e
}

// get performs an idempotent GET, retrying connection errors and 502, 503
// and 504 answers with exponential backoff. A router that does not answer
// within HeaderTimeout is not asked again.
func (c *Client) get(ctx context.Context, endpoint, op string) (*http.Response, error) {
	backoff := c.Backoff
	for attempt := 0; ; attempt++ {
		resp, err := c.getOnce(ctx, endpoint, op)
		if err == nil || attempt >= c.Retries || !retryable(err) || ctx.Err() != nil {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// getOnce sends one GET and waits at most HeaderTimeout for the answer's
// headers (and an error's body); the body of a success is read under ctx
// alone.
func (c *Client) getOnce(ctx context.Context, endpoint, op string) (*http.Response, error) {
	reqCtx, cancel := context.WithCancel(ctx)
	req, err := c.newRequest(reqCtx, http.MethodGet, endpoint, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	stop := func() bool { return true }
	if c.HeaderTimeout > 0 {
		stop = time.AfterFunc(c.HeaderTimeout, cancel).Stop
	}
	resp, err := c.send(req, op)
	if !stop() { // the timer fired: the answer came too late, if at all
		if err == nil {
			_ = resp.Body.Close()
		}
		cancel()
		return nil, &NoAnswerError{Op: op, After: c.HeaderTimeout}
	}
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

// cancelOnClose releases a request's context with its body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func retryable(err error) bool {
	var ce *ConnError
	var he *sandbox.HTTPError
	switch {
	case errors.As(err, &ce):
		return true
	case errors.As(err, &he):
		return he.Status == http.StatusBadGateway || he.Status == http.StatusServiceUnavailable || he.Status == http.StatusGatewayTimeout
	}
	return false
}

var (
	_ sandbox.Runtime     = (*Client)(nil)
	_ sandbox.UploadNames = (*Client)(nil)
)

// Execute runs a command in the sandbox. The runtime splits its command
// string with shlex, so argv is quoted to come out exact. It is sent
// exactly once: a command must never run twice.
func (c *Client) Execute(ctx context.Context, cmd sandbox.Command) (*sandbox.Result, error) {
	argv, err := sandbox.EnvArgv(cmd)
	if err != nil {
		return nil, err
	}
	command, err := JoinArgv(argv)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]string{"command": command})
	req, err := c.newRequest(ctx, http.MethodPost, "execute", strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.send(req, "execute")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	res, err := decodeResult(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("execute: %w", err)
	}
	return res, nil
}

// UploadsName says whether Upload carries the name: the runtime takes the
// name from the multipart part's filename, whose parser loses CR and LF.
func (c *Client) UploadsName(p string) bool {
	return !strings.ContainsAny(p, "\r\n")
}

// Upload streams content to path (relative to the runtime's root) as a
// multipart body through a pipe: nothing is buffered whole.
func (c *Client) Upload(ctx context.Context, path string, content io.Reader) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	src := &sourceReader{r: content}
	readErr := make(chan error, 1)
	go func() {
		part, err := mw.CreateFormFile("file", path)
		if err == nil {
			_, err = sandbox.CopyBuffered(part, src)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
		readErr <- src.err
	}()
	req, err := c.newRequest(ctx, http.MethodPost, "upload", pr)
	if err != nil {
		pr.CloseWithError(err)
		if rerr := <-readErr; rerr != nil {
			return fmt.Errorf("upload %s: reading what to send: %w", path, rerr)
		}
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.send(req, "upload "+path)
	pr.CloseWithError(errors.New("request finished"))
	if rerr := <-readErr; err != nil && rerr != nil {
		return fmt.Errorf("upload %s: reading what to send: %w", path, rerr)
	}
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// sourceReader keeps the error of the local data an upload sends, to tell
// it from a failure of the connection.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// Reach asks the runtime's health check (GET /) until an answer comes
// that the get does not retry (a router that cannot yet find the sandbox
// answers 502), and returns the error of the last attempt.
func (c *Client) Reach(ctx context.Context) error {
	resp, err := c.get(ctx, "", "health check")
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// Download opens path for reading; the caller closes the body. size is -1
// when the runtime does not say.
func (c *Client) Download(ctx context.Context, path string) (body io.ReadCloser, size int64, err error) {
	resp, err := c.get(ctx, "download/"+EncodePath(path), "download "+path)
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

// List lists a directory ("" is the root).
func (c *Client) List(ctx context.Context, path string) ([]sandbox.Entry, error) {
	resp, err := c.get(ctx, "list/"+EncodePath(path), "list "+path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	entries, err := decodeListing(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", path, err)
	}
	return entries, nil
}

// Remove removes path with an exact-argv rm (the runtime has no delete). A
// missing path is sandbox.ErrNotFound.
func (c *Client) Remove(ctx context.Context, path string, recursive bool) error {
	argv := []string{"rm", "--", path}
	if recursive {
		argv = []string{"rm", "-r", "--", path}
	}
	err := sandbox.Check(ctx, c, "removing "+path, argv...)
	if err == nil {
		return nil
	}
	if ok, xerr := c.Exists(ctx, path); xerr == nil && !ok {
		return fmt.Errorf("removing %s: %w", path, sandbox.ErrNotFound)
	}
	return err
}

// Exists reports whether path exists.
func (c *Client) Exists(ctx context.Context, path string) (bool, error) {
	resp, err := c.get(ctx, "exists/"+EncodePath(path), "exists "+path)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var out struct {
		Exists bool `json:"exists"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return false, fmt.Errorf("exists %s: decoding the runtime's answer: %w", path, err)
	}
	return out.Exists, nil
}

// EncodePath percent-encodes a runtime path for a URL. The runtime decodes
// the path parameter once more after the HTTP layer has (and the Go router
// re-encodes what it decoded), so the path is encoded twice: every byte but
// A-Z a-z 0-9 - _ . ~ each time.
func EncodePath(p string) string {
	return escapeAll(escapeAll(p))
}

func escapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == '~' {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}
