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
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/client"
)

// WaitOptions waits for claims the way kubectl wait does.
type WaitOptions struct {
	For     string
	Timeout time.Duration

	names      []string
	namespace  string
	forDelete  bool
	condType   string
	condStatus metav1.ConditionStatus

	Clients client.Factory
	genericiooptions.IOStreams
}

// NewCmdWait returns `kubectl sandbox wait`.
func NewCmdWait(f client.Factory, streams genericiooptions.IOStreams) *cobra.Command {
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
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.For, "for", "", "The condition to wait on: condition=NAME[=STATUS] or delete")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 30*time.Second, "How long to wait in all")
	_ = cmd.MarkFlagRequired("for")
	return cmd
}

// Complete parses --for and the names; it makes no API calls.
func (o *WaitOptions) Complete(args []string) error {
	for _, n := range args {
		if err := validateName("claim", n); err != nil {
			return err
		}
	}
	o.names = args
	switch {
	case o.For == "delete":
		o.forDelete = true
	case strings.HasPrefix(o.For, "condition="):
		typ, status, hasStatus := strings.Cut(strings.TrimPrefix(o.For, "condition="), "=")
		o.condType, o.condStatus = typ, metav1.ConditionTrue
		if hasStatus {
			o.condStatus = metav1.ConditionStatus(status)
		}
		if typ == "" || (o.condStatus != metav1.ConditionTrue && o.condStatus != metav1.ConditionFalse && o.condStatus != metav1.ConditionUnknown) {
			return o.forError()
		}
	default:
		return o.forError()
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	ns, err := o.Clients.Namespace()
	o.namespace = ns
	return err
}

func (o *WaitOptions) forError() error {
	return fmt.Errorf("invalid --for %q: use --for=condition=Ready, --for=condition=Ready=False or --for=delete", o.For)
}

// Run waits for each claim in turn, within one overall timeout.
func (o *WaitOptions) Run(ctx context.Context) error {
	ext, err := o.Clients.Extensions()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	for _, name := range o.names {
		switch {
		case o.forDelete:
			err = claims.WaitDeleted(ctx, ext, o.namespace, name, o.Timeout)
		case o.condType == "Ready" && o.condStatus == metav1.ConditionTrue:
			_, err = claims.WaitReady(ctx, ext, o.namespace, name, o.Timeout, nil)
		default:
			_, err = claims.WaitCondition(ctx, ext, o.namespace, name, o.condType, o.condStatus, o.Timeout)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "%s/%s condition met\n", claimResource, name)
	}
	return nil
}
