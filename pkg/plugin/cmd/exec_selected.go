package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/sandbox"
)

// selectedResult is one sandbox's outcome in exec -l -o json.
type selectedResult struct {
	Claim string `json:"claim"`
	sandbox.Result
	Error string `json:"error,omitempty"`
}

// runSelected runs the command on every Ready claim matching the selector,
// at most MaxParallel at a time, over one shared router connection. Output
// lines carry a [claim] prefix; the exit code is the first non-zero one in
// claim-name order.
func (o *ExecOptions) runSelected(ctx context.Context) error {
	ext, err := o.Clients.Extensions()
	if err != nil {
		return err
	}
	list, err := ext.ExtensionsV1beta1().SandboxClaims(o.namespace).List(ctx, metav1.ListOptions{LabelSelector: o.Selector})
	if err != nil {
		return fmt.Errorf("listing sandboxclaims: %w", err)
	}
	var ready []*extv1beta1.SandboxClaim
	for i := range list.Items {
		c := &list.Items[i]
		if claims.IsReady(c) {
			ready = append(ready, c)
		} else {
			fmt.Fprintf(o.ErrOut, "Warning: skipping sandboxclaim %q: it is not Ready\n", c.Name)
		}
	}
	if len(ready) == 0 {
		return fmt.Errorf("no Ready sandboxclaim in namespace %q matches -l %s", o.namespace, o.Selector)
	}
	sort.Slice(ready, func(i, j int) bool { return ready[i].Name < ready[j].Name })
	s, err := openRouter(ctx, o.Clients, o.router, o.Router.ServerPort, o.namespace)
	if err != nil {
		return err
	}
	defer s.Close()

	results := make([]selectedResult, len(ready))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.MaxParallel)
	for i, c := range ready {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			res, err := o.execute(ctx, s.client(c))
			<-sem
			r := selectedResult{Claim: c.Name}
			if err != nil {
				r.Error, r.ExitCode = err.Error(), 1
			} else {
				r.Result = *res
			}
			results[i] = r
			if o.Output != "json" {
				mu.Lock()
				o.printPrefixed(r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
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
