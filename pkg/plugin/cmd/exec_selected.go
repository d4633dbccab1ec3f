package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
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
// Output lines carry a [claim] prefix; the exit code is the first non-zero
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
	var mu sync.Mutex
	err = s.Each(ctx, ready, o.MaxParallel, func(ctx context.Context, c *extv1beta1.SandboxClaim, rt sandbox.Runtime) error {
		r := selectedResult{Claim: c.Name}
		res, err := sandbox.Exec(ctx, rt, sandbox.Command{Argv: o.argv}, o.Timeout)
		if err != nil {
			r.Error, r.ExitCode = describeError(err, "exec"), 1
		} else {
			r.Result = *res
		}
		mu.Lock()
		defer mu.Unlock()
		results[index[c.Name]] = r
		if o.Output != "json" {
			o.printPrefixed(r)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if o.Output == "json" {
		if err := json.NewEncoder(o.Out).Encode(results); err != nil {
			return err
		}
	}
	for _, r := range results {
		if r.ExitCode != 0 {
			return exitCode(r.ExitCode)
		}
	}
	return nil
}

func (o *ExecOptions) printPrefixed(r selectedResult) {
	prefix := "[" + r.Claim + "] "
	writePrefixed(o.Out, prefix, r.Stdout)
	writePrefixed(o.ErrOut, prefix, r.Stderr)
	if r.Error != "" {
		writePrefixed(o.ErrOut, prefix, "error: "+r.Error+"\n")
	}
}

// writePrefixed writes text line by line with prefix, ending a last
// partial line.
func writePrefixed(w io.Writer, prefix, text string) {
	if text == "" {
		return
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		if line == "" {
			continue
		}
		b.WriteString(prefix)
		b.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			b.WriteByte('\n')
		}
	}
	_, _ = io.WriteString(w, b.String())
}
