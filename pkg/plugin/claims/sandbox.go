package claims

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	sandboxv1beta1 "sigs.k8s.io/agent-sandbox/api/v1beta1"
	agentsclient "sigs.k8s.io/agent-sandbox/clients/k8s/clientset/versioned"
	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"

	"github.com/kubectl-sandbox/kubectl-sandbox/pkg/plugin/kube"
)

// Sandbox conditions and operating modes (agents.x-k8s.io/v1beta1).
const (
	ConditionSuspended = "Suspended"
	ModeRunning        = "Running"
	ModeSuspended      = "Suspended"
	// ReasonSandboxSuspended is the Ready=False reason of a suspended
	// Sandbox, which its claim forwards.
	ReasonSandboxSuspended = "SandboxSuspended"
)

// NoSandboxError is a claim that has no sandbox bound yet.
type NoSandboxError struct{ Name string }

func (e *NoSandboxError) Error() string {
	return fmt.Sprintf("sandboxclaim %q has no sandbox yet", e.Name)
}

// NoPodError is a sandbox without a pod: suspended, or not started yet.
type NoPodError struct {
	Claim, Sandbox string
	Suspended      bool
}

func (e *NoPodError) Error() string {
	if e.Suspended {
		return fmt.Sprintf("sandbox %s of sandboxclaim %q is suspended: it has no pod", e.Sandbox, e.Claim)
	}
	return fmt.Sprintf("sandbox %s of sandboxclaim %q has no pod", e.Sandbox, e.Claim)
}

// SandboxOf reads a claim and its bound Sandbox.
func SandboxOf(ctx context.Context, c *kube.Clients, ns, name string) (*extv1beta1.SandboxClaim, *sandboxv1beta1.Sandbox, error) {
	claim, err := Get(ctx, c.Ext, ns, name)
	if err != nil {
		return nil, nil, err
	}
	sb := SandboxName(claim)
	if sb == "" {
		return claim, nil, &NoSandboxError{Name: name}
	}
	s, err := c.Agents.AgentsV1beta1().Sandboxes(ns).Get(ctx, sb, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return claim, nil, &NoSandboxError{Name: name}
	}
	if err != nil {
		return claim, nil, fmt.Errorf("getting sandbox %q: %w", sb, err)
	}
	return claim, s, nil
}

// IsSuspended says whether a Sandbox is asked to be suspended.
func IsSuspended(s *sandboxv1beta1.Sandbox) bool {
	return string(s.Spec.OperatingMode) == ModeSuspended
}

// PodOf reads a claim's pod: claim -> Sandbox -> pod.
func PodOf(ctx context.Context, c *kube.Clients, ns, name string) (*corev1.Pod, error) {
	_, s, err := SandboxOf(ctx, c, ns, name)
	if err != nil {
		return nil, err
	}
	pod, err := c.Core.Pods(ns).Get(ctx, PodName(s), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, &NoPodError{Claim: name, Sandbox: s.Name, Suspended: IsSuspended(s)}
	}
	if err != nil {
		return nil, fmt.Errorf("getting pod %q: %w", PodName(s), err)
	}
	return pod, nil
}

// SetOperatingMode asks a claim's Sandbox to run or to be suspended (a
// merge patch of spec.operatingMode) and returns the Sandbox as patched
// (its generation is the one WaitResumed waits for).
func SetOperatingMode(ctx context.Context, c *kube.Clients, ns, claim, mode string) (*sandboxv1beta1.Sandbox, error) {
	_, s, err := SandboxOf(ctx, c, ns, claim)
	if err != nil {
		return nil, err
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"operatingMode": mode}})
	patched, err := c.Agents.AgentsV1beta1().Sandboxes(ns).Patch(ctx, s.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return nil, fmt.Errorf("setting sandbox %q to %s: %w", s.Name, mode, err)
	}
	return patched, nil
}

// WaitResumed waits until a resumed Sandbox (at generation or later) is
// Ready for that generation with pod IPs, then until its claim is Ready
// with those pod IPs: right after a suspension the claim may still say
// Ready from before, or name the old pod's IPs, while the new pod starts.
func WaitResumed(ctx context.Context, c *kube.Clients, ns string, sandbox *sandboxv1beta1.Sandbox, claim string, timeout time.Duration, observe Observer) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sandboxes := c.Agents.AgentsV1beta1().Sandboxes(ns)
	var last *metav1.Condition
	var ips []string
	w := kube.Watch{LW: kube.ByName(sandbox.Name, sandboxes.List, sandboxes.Watch), Name: sandbox.Name, What: "sandbox " + sandbox.Name, Retry: true}
	err := w.Until(wctx, func(ev watch.Event) (bool, error) {
		s, ok := ev.Object.(*sandboxv1beta1.Sandbox)
		if !ok {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			return false, &DeletedError{Name: claim, For: "become Ready"}
		}
		last, ips = meta.FindStatusCondition(s.Status.Conditions, ConditionReady), s.Status.PodIPs
		return last != nil && last.Status == metav1.ConditionTrue && last.ObservedGeneration >= sandbox.Generation && len(ips) > 0, nil
	})
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return &InterruptedError{Name: claim, For: "become Ready"}
	case wctx.Err() != nil:
		return &TimeoutError{Name: claim, For: "become Ready", After: timeout, Last: last}
	default:
		return err
	}
	claimsClient := c.Ext.ExtensionsV1beta1().SandboxClaims(ns)
	cw := kube.Watch{LW: kube.ByName(claim, claimsClient.List, claimsClient.Watch), Name: claim, What: "sandboxclaim " + claim, Retry: true}
	err = cw.Until(wctx, func(ev watch.Event) (bool, error) {
		cl, ok := ev.Object.(*extv1beta1.SandboxClaim)
		if !ok {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			return false, &DeletedError{Name: claim, For: "become Ready"}
		}
		if observe != nil {
			observe(cl)
		}
		last = ReadyCondition(cl)
		return IsReady(cl) && slices.Equal(cl.Status.SandboxStatus.PodIPs, ips), nil
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return &InterruptedError{Name: claim, For: "become Ready"}
	case wctx.Err() != nil:
		return &TimeoutError{Name: claim, For: "become Ready", After: timeout, Last: last}
	}
	return err
}

// WaitSuspended waits until a Sandbox reports Suspended=True (its pod is
// gone), with a watch that survives dropped connections (see kube.Watch).
func WaitSuspended(ctx context.Context, agents agentsclient.Interface, ns, name, claim string, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sandboxes := agents.AgentsV1beta1().Sandboxes(ns)
	var last *metav1.Condition
	w := kube.Watch{LW: kube.ByName(name, sandboxes.List, sandboxes.Watch), Name: name, What: "sandbox " + name, Retry: true}
	err := w.Until(wctx, func(ev watch.Event) (bool, error) {
		s, ok := ev.Object.(*sandboxv1beta1.Sandbox)
		if !ok {
			return false, nil
		}
		if ev.Type == watch.Deleted {
			return false, &DeletedError{Name: claim, For: "be suspended"}
		}
		// Suspended=True can linger from an earlier suspension: the pod
		// must also be gone (no IPs) with Ready=False/SandboxSuspended.
		got := meta.FindStatusCondition(s.Status.Conditions, ConditionSuspended)
		last = meta.FindStatusCondition(s.Status.Conditions, ConditionReady)
		return IsSuspended(s) && got != nil && got.Status == metav1.ConditionTrue &&
			last != nil && last.Reason == ReasonSandboxSuspended && len(s.Status.PodIPs) == 0, nil
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return &InterruptedError{Name: claim, For: "be suspended"}
	case wctx.Err() != nil:
		return &TimeoutError{Name: claim, For: "be suspended", After: timeout, Last: last}
	}
	return err
}

// Extend moves a claim's expiry (spec.lifecycle.shutdownTime) to until. It
// refuses a time not after now.
func Extend(ctx context.Context, client extclient.Interface, ns, name string, until, now time.Time) error {
	if !until.After(now) {
		return fmt.Errorf("refusing to set the expiry of sandboxclaim %q to %s, which is not in the future", name, until.UTC().Format(time.RFC3339))
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"lifecycle": map[string]any{
		"shutdownTime": until.UTC().Format(time.RFC3339),
	}}})
	_, err := client.ExtensionsV1beta1().SandboxClaims(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return &NotFoundError{Namespace: ns, Name: name}
	}
	return err
}

// SandboxReady is a Usable for a claim that is used at once and then
// deleted (run): it reads the claim's Sandbox and counts the claim usable
// once that Sandbox is Ready, as the upstream SDKs wait. The claim
// controller copies the Sandbox's Ready onto the claim one reconcile later
// (a warm sandbox is Ready already when it is adopted); create keeps the
// claim's own Ready, the state that kubectl and other tools see. The claim
// returned carries the Sandbox's pod IPs when its status has none yet. A
// Sandbox that cannot be read counts as not usable: the claim's Ready ends
// the wait then.
func SandboxReady(agents agentsclient.Interface) Usable {
	return func(ctx context.Context, c *extv1beta1.SandboxClaim) (*extv1beta1.SandboxClaim, bool) {
		name := SandboxName(c)
		if name == "" {
			return c, false
		}
		s, err := agents.AgentsV1beta1().Sandboxes(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil || !meta.IsStatusConditionTrue(s.Status.Conditions, ConditionReady) || len(s.Status.PodIPs) == 0 {
			return c, false
		}
		if len(c.Status.SandboxStatus.PodIPs) == 0 {
			c = c.DeepCopy()
			c.Status.SandboxStatus.PodIPs = s.Status.PodIPs
		}
		return c, true
	}
}
