package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/claims"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/client"
	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/describe"
)

// DescribeOptions shows one claim with its Sandbox, Pod and events.
type DescribeOptions struct {
	name, namespace string

	Clients client.Factory
	Now     func() time.Time
	genericiooptions.IOStreams
}

// NewCmdDescribe returns `kubectl sandbox describe`.
func NewCmdDescribe(f client.Factory, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DescribeOptions{Clients: f, Now: clock, IOStreams: streams}
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a claim, its sandbox, its pod, their conditions and recent events",
		Example: `  # Show why a claim is not ready
  kubectl sandbox describe my-sandbox`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeNames(f, listClaimNames),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateName("claim", args[0]); err != nil {
				return err
			}
			ns, err := f.Namespace()
			if err != nil {
				return err
			}
			o.name, o.namespace = args[0], ns
			return o.Run(cmd.Context())
		},
	}
}

// Run gathers the view and prints it.
func (o *DescribeOptions) Run(ctx context.Context) error {
	ext, err := o.Clients.Extensions()
	if err != nil {
		return err
	}
	claim, err := ext.ExtensionsV1beta1().SandboxClaims(o.namespace).Get(ctx, o.name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("getting sandboxclaim %q: %w", o.name, err)
	}
	v := describe.View{Claim: claim}
	if pool, err := ext.ExtensionsV1beta1().SandboxWarmPools(o.namespace).Get(ctx, claim.Spec.WarmPoolRef.Name, metav1.GetOptions{}); err == nil {
		v.Template = pool.Spec.TemplateRef.Name
	}
	involved := []types.UID{claim.UID}
	if name := claims.SandboxName(claim); name != "" {
		if v.Sandbox, err = o.getSandbox(ctx, name); err != nil {
			return err
		}
	}
	core, err := o.Clients.Core()
	if err != nil {
		return err
	}
	if s := v.Sandbox; s != nil {
		involved = append(involved, s.UID)
		podName := s.Annotations[claims.PodNameAnnotation]
		if podName == "" {
			podName = s.Name
		}
		pod, err := core.Pods(o.namespace).Get(ctx, podName, metav1.GetOptions{})
		switch {
		case err == nil:
			v.Pod = pod
			involved = append(involved, pod.UID)
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("getting pod %q: %w", podName, err)
		}
	}
	if v.Events, err = o.events(ctx, core, involved); err != nil {
		return err
	}
	return describe.Print(o.Out, v, o.Now())
}

func (o *DescribeOptions) getSandbox(ctx context.Context, name string) (*sandboxv1beta1.Sandbox, error) {
	agents, err := o.Clients.Agents()
	if err != nil {
		return nil, err
	}
	s, err := agents.AgentsV1beta1().Sandboxes(o.namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting sandbox %q: %w", name, err)
	}
	return s, nil
}

// events lists the recent events of the involved objects.
func (o *DescribeOptions) events(ctx context.Context, core corev1client.CoreV1Interface, uids []types.UID) ([]corev1.Event, error) {
	var out []corev1.Event
	for _, uid := range uids {
		sel := fields.OneTermEqualSelector("involvedObject.uid", string(uid)).String()
		list, err := core.Events(o.namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return nil, fmt.Errorf("listing events: %w", err)
		}
		out = append(out, list.Items...)
	}
	return out, nil
}
