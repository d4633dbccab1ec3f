package claims

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

// Details is everything known about one claim: the claim, its pool's
// template, its Sandbox and Pod (nil while they do not exist) and the
// events of all three.
type Details struct {
	Claim    *extv1beta1.SandboxClaim
	Template string
	Sandbox  *sandboxv1beta1.Sandbox
	Pod      *corev1.Pod
	Events   []corev1.Event
}

// Describe gathers the Details of a claim: claim -> pool -> Sandbox -> Pod
// -> events.
func Describe(ctx context.Context, c *kube.Clients, ns, name string) (*Details, error) {
	claim, err := Get(ctx, c.Ext, ns, name)
	if err != nil {
		return nil, err
	}
	d := &Details{Claim: claim}
	if pool, err := c.Ext.ExtensionsV1beta1().SandboxWarmPools(ns).Get(ctx, claim.Spec.WarmPoolRef.Name, metav1.GetOptions{}); err == nil {
		d.Template = pool.Spec.TemplateRef.Name
	}
	involved := []types.UID{claim.UID}
	if sb := SandboxName(claim); sb != "" {
		s, err := c.Agents.AgentsV1beta1().Sandboxes(ns).Get(ctx, sb, metav1.GetOptions{})
		switch {
		case err == nil:
			d.Sandbox = s
			involved = append(involved, s.UID)
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("getting sandbox %q: %w", sb, err)
		}
	}
	if s := d.Sandbox; s != nil {
		pod, err := c.Core.Pods(ns).Get(ctx, PodName(s), metav1.GetOptions{})
		switch {
		case err == nil:
			d.Pod = pod
			involved = append(involved, pod.UID)
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("getting pod %q: %w", PodName(s), err)
		}
	}
	for _, uid := range involved {
		sel := fields.OneTermEqualSelector("involvedObject.uid", string(uid)).String()
		list, err := c.Core.Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			return nil, fmt.Errorf("listing events: %w", err)
		}
		d.Events = append(d.Events, list.Items...)
	}
	return d, nil
}

// PodName is the name of a Sandbox's pod: the agents.x-k8s.io/pod-name
// annotation (an adopted warm pod), else the Sandbox's own name.
func PodName(s *sandboxv1beta1.Sandbox) string {
	if n := s.Annotations[PodNameAnnotation]; n != "" {
		return n
	}
	return s.Name
}
