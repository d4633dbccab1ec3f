package python

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// The decoders of the runtime's answers. They read at most maxAnswer bytes
// and turn anything that is not the answer they expect into an error.

// tooLarge is the error of an answer beyond maxAnswer.
func tooLarge() error {
	return fmt.Errorf("the runtime's answer is larger than %d MiB", maxAnswer>>20)
}

// decodeResult decodes the answer to POST /execute.
func decodeResult(r io.Reader) (*sandbox.Result, error) {
	lr := &io.LimitedReader{R: r, N: maxAnswer + 1}
	var out struct {
		Stdout   string `json:"stdout"`
		Stderr   string `json:"stderr"`
		ExitCode *int   `json:"exit_code"`
	}
	if err := json.NewDecoder(lr).Decode(&out); err != nil {
		if lr.N == 0 {
			return nil, tooLarge()
		}
		return nil, fmt.Errorf("decoding the runtime's answer: %w", err)
	}
	if out.ExitCode == nil {
		return nil, errors.New("the runtime's answer has no exit_code")
	}
	return &sandbox.Result{Stdout: out.Stdout, Stderr: out.Stderr, ExitCode: *out.ExitCode}, nil
}

// decodeListing decodes the answer to GET /list: a JSON array of entries,
// each name once. It decodes one entry at a time, so that memory follows
// the entries, which are at most maxEntries.
func decodeListing(r io.Reader) ([]sandbox.Entry, error) {
	lr := &io.LimitedReader{R: r, N: maxAnswer + 1}
	entries, err := decodeEntries(json.NewDecoder(lr))
	if err != nil && lr.N == 0 {
		return nil, tooLarge()
	}
	return entries, err
}

func decodeEntries(dec *json.Decoder) ([]sandbox.Entry, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("decoding the runtime's answer: %w", err)
	}
	if tok != json.Delim('[') {
		return nil, errors.New("decoding the runtime's answer: not a JSON array")
	}
	entries := []sandbox.Entry{}
	seen := map[string]bool{}
	for dec.More() {
		if len(entries) == maxEntries {
			return nil, fmt.Errorf("the runtime listed more than %d entries", maxEntries)
		}
		var e struct {
			Name    string  `json:"name"`
			Size    int64   `json:"size"`
			Type    string  `json:"type"`
			ModTime float64 `json:"mod_time"`
		}
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("decoding the runtime's answer: %w", err)
		}
		if seen[e.Name] {
			return nil, fmt.Errorf("the runtime listed %q twice", e.Name)
		}
		seen[e.Name] = true
		sec := int64(e.ModTime)
		entries = append(entries, sandbox.Entry{Name: e.Name, Size: e.Size, Type: e.Type,
			ModTime: time.Unix(sec, int64((e.ModTime-float64(sec))*1e9)).UTC()})
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return nil, fmt.Errorf("decoding the runtime's answer: %w", err)
	}
	return entries, nil
}
