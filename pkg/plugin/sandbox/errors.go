package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// ErrNotFound is what a runtime says of a path that is not there (for a
// download: not a file; for a listing: not a directory). errors.Is finds it
// in a backend's own error.
var ErrNotFound = errors.New("not found")

// ConnError is a failure to reach the router at all.
type ConnError struct {
	Op  string
	Err error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("%s: cannot reach the sandbox router: %v", e.Op, e.Err)
}

func (e *ConnError) Unwrap() error { return e.Err }

// SentError is a failure after a request that changes something (a
// command, an upload) was sent: the sandbox may have carried it out. Such
// requests are never retried.
type SentError struct {
	Op  string
	Err error
}

func (e *SentError) Error() string {
	what := "the request may have reached the sandbox"
	if e.Op == "execute" {
		what = "the command may have run"
	}
	return fmt.Sprintf("%s: the connection to the sandbox router failed after the request was sent: %v: %s; it was not retried", e.Op, e.Err, what)
}

func (e *SentError) Unwrap() error { return e.Err }

// HTTPError is a non-2xx answer from the router or the runtime.
type HTTPError struct {
	Op     string
	Status int
	// Detail is the router's {"detail"} or the runtime's {"message"}, or the
	// start of the body.
	Detail  string
	Sandbox string
	// FromRuntime is true when the body was the runtime's {"message"} form.
	FromRuntime bool
}

func newHTTPError(op string, t Target, resp *http.Response) *HTTPError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	e := &HTTPError{Op: op, Status: resp.StatusCode, Sandbox: t.SandboxID}
	var parsed struct {
		Detail  any    `json:"detail"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &parsed) == nil && (parsed.Detail != nil || parsed.Message != "") {
		if parsed.Message != "" {
			e.Detail, e.FromRuntime = parsed.Message, true
		} else if s, ok := parsed.Detail.(string); ok {
			e.Detail = s
		} else {
			b, _ := json.Marshal(parsed.Detail)
			e.Detail = string(b)
		}
	} else {
		e.Detail = strings.Join(strings.Fields(string(body)), " ")
		if len(e.Detail) > 200 {
			e.Detail = e.Detail[:200] + "..."
		}
	}
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		e.Detail = "redirected to " + loc + " (redirects are not followed)"
	}
	return e
}

func (e *HTTPError) Error() string {
	what := fmt.Sprintf("%s: HTTP %d", e.Op, e.Status)
	if e.Detail != "" {
		what += ": " + e.Detail
	}
	return what
}

// Is makes errors.Is(err, ErrNotFound) hold for the runtime's 404.
func (e *HTTPError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound && e.FromRuntime
}
