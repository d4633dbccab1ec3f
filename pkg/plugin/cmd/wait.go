package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
)

// WaitOptions waits for claims the way kubectl wait does.
type WaitOptions struct {
	For     string
	Timeout time.Duration

	names     []string
	namespace string
	cond      claims.Condition

	Clients Factory
	genericiooptions.IOStreams
}

// NewCmdWait returns `kubectl sandbox wait`.
func NewCmdWait(f Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &WaitOptions{Clients: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "wait NAME... --for=condition=Ready|--for=delete",
		Short: "Wait for sandbox claims to become ready or to be deleted",
		Example: `  # Wait until a claim's sandbox is ready
  kubectl sandbox wait my-sandbox --for=condition=Ready --timeout=2m

  # Wait until two claims are gone
  kubectl sandbox wait a b --for=delete`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeNames(f, listClaimNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.For, "for", "", "The condition to wait on: condition=NAME[=STATUS] or delete")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 30*time.Second, "How long to wait in all")
	_ = cmd.MarkFlagRequired("for")
	return cmd
}

// Complete takes the names and the namespace.
func (o *WaitOptions) Complete(args []string) error {
	o.names = args
	var err error
	if o.namespace, err = o.Clients.Namespace(); err != nil {
		return err
	}
	o.cond, err = o.parseFor()
	return err
}

// parseFor parses --for: delete, or condition=TYPE[=STATUS].
func (o *WaitOptions) parseFor() (claims.Condition, error) {
	if o.For == "delete" {
		return claims.Deleted, nil
	}
	spec, ok := strings.CutPrefix(o.For, "condition=")
	typ, status, hasStatus := strings.Cut(spec, "=")
	cond := claims.Condition{Type: typ, Status: metav1.ConditionTrue}
	if hasStatus {
		cond.Status = metav1.ConditionStatus(status)
	}
	if !ok || typ == "" || (cond.Status != metav1.ConditionTrue && cond.Status != metav1.ConditionFalse && cond.Status != metav1.ConditionUnknown) {
		return cond, o.forError()
	}
	return cond, nil
}

// Validate parses --for and checks the names; it makes no API calls.
func (o *WaitOptions) Validate() error {
	if err := validateNames("claim", o.names); err != nil {
		return err
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	return nil
}

func (o *WaitOptions) forError() error {
	return fmt.Errorf("invalid --for %q: use --for=condition=Ready, --for=condition=Ready=False or --for=delete", o.For)
}

// Run waits for each claim in turn, within one overall timeout.
func (o *WaitOptions) Run(ctx context.Context) error {
	clients, err := o.Clients.Clients()
	if err != nil {
		return err
	}
	return claims.WaitForAll(ctx, clients.Ext, o.namespace, o.names, o.cond, o.Timeout, func(name string) {
		fmt.Fprintf(o.Out, "%s/%s condition met\n", claimResource, name)
	})
}
