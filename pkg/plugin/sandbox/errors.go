package sandbox

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrNotFound is what a runtime says of a path that is not there (for a
// download: not a file; for a listing: not a directory). errors.Is finds it
// in a backend's own error.
var ErrNotFound = errors.New("not found")

// HTTPError is an error answer of a runtime's HTTP API, or of a proxy in
// front of it (the sandbox router).
type HTTPError struct {
	Op     string
	Status int
	// Code is the runtime's error code, when it gives one.
	Code string
	// Detail is what the answer says, on one line.
	Detail  string
	Sandbox string
	// Server names the runtime that answered, in the message; "" words the
	// answer by its status alone.
	Server string
	// FromRuntime says the runtime answered, not a proxy in front of it:
	// its 404 is ErrNotFound.
	FromRuntime bool
}

func (e *HTTPError) Error() string {
	if e.Server != "" {
		detail := e.Detail
		if detail == "" {
			detail = http.StatusText(e.Status)
		}
		return fmt.Sprintf("%s: %s answered %d %s: %s", e.Op, e.Server, e.Status, e.Code, detail)
	}
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
