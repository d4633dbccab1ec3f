package sandbox

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestCheckArgv(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"echo", "", "ü", "a b"}, ""},
		{nil, "no command given"},
		{[]string{"echo", "a\x00b"}, "an argument contains a NUL byte, which no process can receive"},
		{[]string{"cat", "caf\xe9"}, `argument "caf\xe9" is not valid UTF-8, which the sandbox runtime cannot receive exactly`},
	} {
		if err := CheckArgv(tc.argv); tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
			t.Errorf("CheckArgv(%q) = %v, want %q", tc.argv, err, tc.want)
		}
	}
}

func TestCheckEnv(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"A": "x=y", "b c": "", "ü": "\n"}, ""},
		{map[string]string{"OK": "1", "": "x"}, `invalid environment variable name ""`},
		{map[string]string{"A=B": "1"}, `invalid environment variable name "A=B"`},
		{map[string]string{"A\x00": "1"}, `invalid environment variable name "A\x00"`},
		{map[string]string{"A": "1\x002"}, `invalid value of environment variable "A": it holds a NUL byte`},
	} {
		if err := CheckEnv(tc.env); tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
			t.Errorf("CheckEnv(%q) = %v, want %q", tc.env, err, tc.want)
		}
	}
}

// TestHTTPError: an answer through a proxy is worded by its status, a
// runtime's own by the runtime's name and code; only a runtime's 404 is
// ErrNotFound.
func TestHTTPError(t *testing.T) {
	for _, tc := range []struct {
		err      *HTTPError
		want     string
		notFound bool
	}{
		{&HTTPError{Op: "list d", Status: 502}, "list d: HTTP 502", false},
		{&HTTPError{Op: "list d", Status: 404, Detail: "Not Found"}, "list d: HTTP 404: Not Found", false},
		{&HTTPError{Op: "download f", Status: 404, Detail: "File not found", FromRuntime: true}, "download f: HTTP 404: File not found", true},
		{&HTTPError{Op: "remove d", Status: 409, Code: "CONFLICT", Detail: "not empty", Server: "sandboxd", FromRuntime: true}, "remove d: sandboxd answered 409 CONFLICT: not empty", false},
		{&HTTPError{Op: "list d", Status: http.StatusNotFound, Code: "NOT_FOUND", Server: "sandboxd", FromRuntime: true}, "list d: sandboxd answered 404 NOT_FOUND: Not Found", true},
	} {
		if got := tc.err.Error(); got != tc.want || errors.Is(tc.err, ErrNotFound) != tc.notFound {
			t.Errorf("%+v: %q, ErrNotFound %t; want %q, %t", tc.err, got, errors.Is(tc.err, ErrNotFound), tc.want, tc.notFound)
		}
	}
}

func TestCommandTimeoutError(t *testing.T) {
	if got := (&CommandTimeoutError{After: time.Minute, Stopped: true}).Error(); got != "the command did not finish within 1m0s and was killed" {
		t.Errorf("stopped: %q", got)
	}
	if got := (&CommandTimeoutError{After: time.Minute}).Error(); got != "the command did not finish within 1m0s; it may still be running in the sandbox" {
		t.Errorf("not stopped: %q", got)
	}
}
