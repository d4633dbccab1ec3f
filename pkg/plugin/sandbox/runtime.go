// Package sandbox is the data plane, whatever the runtime: the contract
// that every runtime backend implements (Runtime, and Streamer for those
// that stream), one way to run a command under an output budget (Run),
// tree and archive copies over the contract, and the guards of paths and
// file operations. The backends are packages of their own (python,
// sandboxd), and none of them is known here.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"
)

// Runtime is the data plane of one sandbox, which every runtime backend
// implements. Paths are runtime paths (see Roots.RemotePath).
type Runtime interface {
	// Execute runs a command to its end and returns what it printed. It is
	// never retried: a command must not run twice.
	Execute(ctx context.Context, cmd Command) (*Result, error)
	// Upload writes content to path; the parent directory must exist.
	Upload(ctx context.Context, path string, content io.Reader) error
	// Download opens a file; size is -1 when unknown. The caller closes it.
	Download(ctx context.Context, path string) (body io.ReadCloser, size int64, err error)
	// List lists a directory ("" is the root).
	List(ctx context.Context, path string) ([]Entry, error)
	// Exists says whether path exists.
	Exists(ctx context.Context, path string) (bool, error)
	// Remove removes a file, or with recursive a directory tree; path is
	// never the root (see Remove).
	Remove(ctx context.Context, path string, recursive bool) error
}

// UploadNames is a runtime whose Upload cannot carry every file name: a
// tree copied file by file is refused, before anything is sent, when it
// holds a name that UploadsName refuses.
type UploadNames interface {
	UploadsName(p string) bool
}

// Command is one command to run in a sandbox.
type Command struct {
	// Argv reaches the process exactly as given; no shell is involved.
	Argv []string
	// Env is added to the runtime's environment for this command only.
	Env map[string]string
	// Workdir is the command's working directory, a runtime path (see
	// Roots.RemotePath); "" is the runtime's root.
	Workdir string
}

// TermSize is a terminal's size in characters.
type TermSize struct{ Cols, Rows uint16 }

// Streams connect a streaming command to the caller.
type Streams struct {
	// Stdin is sent to the command as it is read; nil gives the command
	// end of input at once (with a terminal: no input).
	Stdin io.Reader
	// Stdout and Stderr get the output as it is produced. With a terminal
	// everything arrives on Stdout.
	Stdout, Stderr io.Writer
	// TTY, when set, runs the command on a terminal of this size, and
	// Resize carries later sizes.
	TTY    *TermSize
	Resize <-chan TermSize
	// Signals are delivered to the command's process group (SIGINT,
	// SIGTERM and SIGKILL).
	Signals <-chan syscall.Signal
}

// Streamer is a runtime that runs commands while streaming their input
// and output. The exit code is the command's; a command ended
// by a signal that was sent through Streams.Signals reports 128+signal.
// When ctx ends first, the command is killed.
type Streamer interface {
	Stream(ctx context.Context, cmd Command, s Streams) (exitCode int, err error)
}

// ErrSignalled is a command that a signal ended that the caller did not
// send: the runtime does not say which one.
var ErrSignalled = errors.New("the command was ended by a signal (the runtime does not say which)")

// Result is what a command printed and how it exited.
type Result struct {
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	ExitCode int    `json:"exitCode"`
	// Truncated says an output budget left bytes out (see Trim).
	Truncated bool `json:"truncated,omitempty"`
}

// Trim keeps at most max bytes of each stream (head and tail, see Trim);
// max <= 0 keeps everything.
func (r *Result) Trim(max int) *Result {
	out := *r
	var a, b bool
	out.Stdout, a = Trim(r.Stdout, max)
	out.Stderr, b = Trim(r.Stderr, max)
	out.Truncated = r.Truncated || a || b
	return &out
}

// Entry is one directory entry.
type Entry struct {
	Name string
	Size int64
	// Type is "file" or "directory".
	Type    string
	ModTime time.Time
}

// IsDir reports whether the entry is a directory.
func (e Entry) IsDir() bool { return e.Type == "directory" }

// CommandTimeoutError reports a command that did not finish in time.
type CommandTimeoutError struct {
	After time.Duration
	// Stopped says the runtime stopped the command.
	Stopped bool
}

func (e *CommandTimeoutError) Error() string {
	if e.Stopped {
		return fmt.Sprintf("the command did not finish within %s and was killed", e.After)
	}
	return fmt.Sprintf("the command did not finish within %s; it may still be running in the sandbox", e.After)
}

// Check runs cmd and turns a non-zero exit into an error naming what.
func Check(ctx context.Context, rt Runtime, what string, argv ...string) error {
	res, err := rt.Execute(ctx, Command{Argv: argv})
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("%s in the sandbox: exit code %d: %s", what, res.ExitCode, firstLine(res.Stderr))
	}
	return nil
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
