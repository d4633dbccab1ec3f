package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/session"
)

// selectedResult is one sandbox's outcome in exec -l -o json.
type selectedResult struct {
	Claim string `json:"claim"`
	sandbox.Result
	Error string `json:"error,omitempty"`
}

// runSelected runs the command on every Ready claim matching the selector,
// at most MaxParallel at a time, over the session's one router connection.
// Output lines carry a [claim] prefix (with -o json: one JSON object per
// sandbox per line, as each finishes); the exit code is the first non-zero
// one in claim-name order.
func (o *ExecOptions) runSelected(ctx context.Context, clients *kube.Clients, s *session.Session) error {
	list, err := claims.List(ctx, clients.Ext, o.namespace, o.Selector)
	if err != nil {
		return err
	}
	var ready []*extv1beta1.SandboxClaim
	for i := range list {
		if c := &list[i]; claims.IsReady(c) {
			ready = append(ready, c)
		} else {
			fmt.Fprintf(o.ErrOut, "Warning: skipping sandboxclaim %q: it is not Ready\n", c.Name)
		}
	}
	if len(ready) == 0 {
		return fmt.Errorf("no Ready sandboxclaim in namespace %q matches -l %s", o.namespace, o.Selector)
	}
	results := make([]selectedResult, len(ready))
	index := map[string]int{}
	for i, c := range ready {
		index[c.Name] = i
	}
	var mu, out sync.Mutex
	cmd := sandbox.Command{Argv: o.argv, Env: o.env, Workdir: o.workdir}
	err = s.Each(ctx, ready, o.MaxParallel, func(ctx context.Context, c *extv1beta1.SandboxClaim, rt sandbox.Runtime) error {
		r := selectedResult{Claim: c.Name}
		run := sandbox.IO{Budget: o.MaxOutput, Timeout: o.Timeout}
		var lineOut, lineErr *prefixWriter
		if o.Output != "json" {
			// Lines appear as the command prints them, on a runtime that
			// streams.
			prefix := "[" + c.Name + "] "
			lineOut = &prefixWriter{w: o.Out, prefix: prefix, mu: &out}
			lineErr = &prefixWriter{w: o.ErrOut, prefix: prefix, mu: &out}
			run.Stdout, run.Stderr = lineOut, lineErr
		}
		res, err := sandbox.Run(ctx, rt, cmd, run)
		if err != nil {
			r.Error, r.ExitCode = describeError(err, "exec"), exitCodeFor(err)
		} else {
			r.Result = *res
		}
		if o.Output == "json" {
			// One JSON object per line, as each sandbox finishes.
			out.Lock()
			err = json.NewEncoder(o.Out).Encode(r)
			out.Unlock()
		} else {
			lineOut.Flush()
			lineErr.Flush()
			if r.Error != "" {
				_, _ = io.WriteString(lineErr, "error: "+r.Error+"\n")
			}
		}
		mu.Lock()
		defer mu.Unlock()
		results[index[c.Name]] = r
		// One sandbox's failure is its own: the others go on.
		if o.Output == "json" {
			return err // the output could not be written
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range results {
		if r.ExitCode != 0 {
			return exitCode(r.ExitCode)
		}
	}
	return nil
}

// prefixWriter writes whole lines, each with prefix, under mu (shared by
// the writers of every sandbox, so that lines do not interleave). Flush
// ends a last partial line.
type prefixWriter struct {
	w       io.Writer
	prefix  string
	mu      *sync.Mutex
	partial []byte
}

// maxPartialLine is the longest line kept back waiting for its end.
const maxPartialLine = 64 << 10

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.partial = append(p.partial, b...)
	end := bytes.LastIndexByte(p.partial, '\n') + 1
	if end == 0 && len(p.partial) < maxPartialLine {
		return len(b), nil
	}
	if end == 0 {
		end = len(p.partial)
	}
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(p.partial[:end], []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		out.WriteString(p.prefix)
		out.Write(line)
		if line[len(line)-1] != '\n' {
			out.WriteByte('\n')
		}
	}
	p.partial = append(p.partial[:0], p.partial[end:]...)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Flush writes a last line that has no newline, with one.
func (p *prefixWriter) Flush() {
	if len(p.partial) > 0 {
		p.partial = append(p.partial, '\n')
		_, _ = p.Write(nil)
	}
}
