package cmd

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
)

// dryRunMode is the parsed --dry-run flag.
type dryRunMode int

const (
	dryRunNone dryRunMode = iota
	dryRunClient
	dryRunServer
)

// addDryRunFlag adds kubectl's --dry-run=none|client|server flag; a bare
// --dry-run means client.
func addDryRunFlag(cmd *cobra.Command, target *string) {
	cmd.Flags().StringVar(target, "dry-run", "none", `Must be "none", "server", or "client". If client strategy, only print the object that would be sent, without sending it. If server strategy, submit a server-side request without persisting the resource.`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
}

func parseDryRun(s string) (dryRunMode, error) {
	switch s {
	case "", "none":
		return dryRunNone, nil
	case "client":
		return dryRunClient, nil
	case "server":
		return dryRunServer, nil
	}
	return dryRunNone, fmt.Errorf(`invalid --dry-run %q: must be "none", "server", or "client"`, s)
}

// suffix is what kubectl appends to a mutation's output line.
func (m dryRunMode) suffix() string {
	switch m {
	case dryRunClient:
		return " (dry run)"
	case dryRunServer:
		return " (server dry run)"
	}
	return ""
}

// validateName checks a claim, pool or template name before any API call
// (claims.ValidateName).
func validateName(what, name string) error { return claims.ValidateName(what, name) }

// validateNames checks names of one kind, the first bad one failing.
func validateNames(what string, names []string) error {
	for _, n := range names {
		if err := validateName(what, n); err != nil {
			return err
		}
	}
	return nil
}

// parseLabels parses "k=v,k2=v2" and validates keys and values.
func parseLabels(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("invalid --labels %q: use key=value,key2=value2", s)
		}
		if err := claims.ValidateLabel(k, v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}

// parseSelector parses a -l label selector.
func parseSelector(s string) (labels.Selector, error) {
	sel, err := labels.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid --selector %q: %w", s, err)
	}
	return sel, nil
}

// claimResource is how kubectl names the claim kind in output lines.
const claimResource = "sandboxclaim.extensions.agents.x-k8s.io"

// clock is the time source of new commands; tests pin it.
var clock = time.Now
