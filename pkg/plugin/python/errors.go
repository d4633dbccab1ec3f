package python

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// ConnError is a failure to reach the router at all (or, for a GET, a
// failure after it was sent: GETs are sent again).
type ConnError struct {
	Op  string
	Err error
	// wrote says the request's headers were written (for a GET).
	wrote bool
}

// NotSent says whether the request never left (see sandbox.NotSent).
func (e *ConnError) NotSent() bool { return !e.wrote }

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

// NoAnswerError is a GET whose answer did not arrive within the client's
// HeaderTimeout. It is not retried.
type NoAnswerError struct {
	Op    string
	After time.Duration
}

func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("%s: the sandbox router did not answer within %s", e.Op, e.After)
}

// maxErrorBody bounds what is read of an error's body.
const maxErrorBody = 4096

// newHTTPError is a non-2xx answer from the router or the runtime: Detail
// is the router's {"detail"} or the runtime's {"message"} (FromRuntime), or
// the start of the body.
func newHTTPError(op string, t Target, resp *http.Response) *sandbox.HTTPError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &sandbox.HTTPError{Op: op, Status: resp.StatusCode, Sandbox: t.SandboxID}
	e.Detail, e.FromRuntime = errorDetail(body)
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		e.Detail = "redirected to " + oneLine(loc, 200) + " (redirects are not followed)"
	}
	return e
}

// errorDetail is what an error's body says: the runtime's {"message"}
// (fromRuntime), the router's {"detail"}, or else the start of the body; on
// one line in any case.
func errorDetail(body []byte) (detail string, fromRuntime bool) {
	var parsed struct {
		Detail  any    `json:"detail"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &parsed) == nil && (parsed.Detail != nil || parsed.Message != "") {
		if parsed.Message != "" {
			return oneLine(parsed.Message, maxErrorBody), true
		}
		if s, ok := parsed.Detail.(string); ok {
			return oneLine(s, maxErrorBody), false
		}
		b, _ := json.Marshal(parsed.Detail)
		return oneLine(string(b), maxErrorBody), false
	}
	return oneLine(string(body), 200), false
}

// oneLine makes s fit on one line: runs of white space (line breaks too)
// become one space, other control characters U+FFFD, and what goes beyond
// max bytes is cut (at a character's start) and replaced by "...".
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, strings.Join(strings.Fields(s), " "))
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
