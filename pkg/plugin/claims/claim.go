// Package claims holds the SandboxClaim lifecycle: building and creating a
// claim, resolving a template to a warm pool, waiting on conditions with
// watches, deleting, and gathering what describe shows. It speaks
// agent-sandbox v1beta1 only, takes client-go clientsets, returns typed
// errors and never prints.
package claims

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// Labels and annotations the plugin reads or stamps (upstream spec §1.7).
const (
	CreatedByLabel             = "agents.x-k8s.io/created-by"
	CreatedByValue             = "kubectl-sandbox"
	FirstRequestedAtAnnotation = "agents.x-k8s.io/client-first-requested-at"
	SandboxNameAnnotation      = "agents.x-k8s.io/sandbox-name"
	PodNameAnnotation          = "agents.x-k8s.io/pod-name"
	LaunchTypeLabel            = "agents.x-k8s.io/launch-type"

	// GenerateNamePrefix names claims the way the Go SDK does.
	GenerateNamePrefix = "sandbox-claim-"
)

// GroupVersion and resource names of the kinds the plugin prints.
var (
	ClaimGVK    = extv1beta1.GroupVersion.WithKind(extv1beta1.SandboxClaimKind)
	TemplateGVK = extv1beta1.GroupVersion.WithKind(extv1beta1.SandboxTemplateKind)
	PoolGVK     = extv1beta1.GroupVersion.WithKind(extv1beta1.SandboxWarmPoolKind)
)

// Spec is what a user asks of a new claim.
type Spec struct {
	Namespace string
	// Name is the claim name; empty means generate one.
	Name string
	// Pool is the warm pool to claim from; Template, when Pool is empty,
	// names the template whose pool ResolvePool finds.
	Pool, Template string
	Labels         map[string]string
	TTL            time.Duration
	ShutdownPolicy extv1beta1.ShutdownPolicy
	Env            []extv1beta1.EnvVar
}

// NewClaim builds the SandboxClaim for spec, stamped as created by the plugin
// at now.
func NewClaim(spec Spec, now time.Time) *extv1beta1.SandboxClaim {
	labels := map[string]string{}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	labels[CreatedByLabel] = CreatedByValue
	c := &extv1beta1.SandboxClaim{
		TypeMeta: metav1.TypeMeta{APIVersion: ClaimGVK.GroupVersion().String(), Kind: ClaimGVK.Kind},
		ObjectMeta: metav1.ObjectMeta{
			Name:        spec.Name,
			Namespace:   spec.Namespace,
			Labels:      labels,
			Annotations: map[string]string{FirstRequestedAtAnnotation: now.UTC().Format(time.RFC3339Nano)},
		},
		Spec: extv1beta1.SandboxClaimSpec{
			WarmPoolRef: extv1beta1.SandboxWarmPoolRef{Name: spec.Pool},
			Env:         spec.Env,
		},
	}
	if spec.Name == "" {
		c.GenerateName = GenerateNamePrefix
	}
	if spec.TTL > 0 {
		policy := spec.ShutdownPolicy
		if policy == "" {
			policy = extv1beta1.ShutdownPolicyDelete
		}
		at := metav1.NewTime(now.Add(spec.TTL).UTC().Truncate(time.Second))
		c.Spec.Lifecycle = &extv1beta1.Lifecycle{ShutdownTime: &at, ShutdownPolicy: policy}
	}
	return c
}

// ConditionReady is the claim condition that says its sandbox is usable.
const ConditionReady = "Ready"

// ReadyCondition returns the claim's Ready condition, or nil.
func ReadyCondition(c *extv1beta1.SandboxClaim) *metav1.Condition {
	return meta.FindStatusCondition(c.Status.Conditions, ConditionReady)
}

// IsReady reports whether the claim's sandbox is usable: Ready=True and a
// bound sandbox name.
func IsReady(c *extv1beta1.SandboxClaim) bool {
	cond := ReadyCondition(c)
	return cond != nil && cond.Status == metav1.ConditionTrue && SandboxName(c) != ""
}

// SandboxName is the bound Sandbox's name: status.sandbox.name, else the
// agents.x-k8s.io/sandbox-name annotation (upstream spec §1.6).
func SandboxName(c *extv1beta1.SandboxClaim) string {
	if n := c.Status.SandboxStatus.Name; n != "" {
		return n
	}
	return c.Annotations[SandboxNameAnnotation]
}

// terminalReasons are the Ready=False reasons that will not heal on their
// own (the Python SDK's TERMINAL_CLAIM_READY_REASONS).
var terminalReasons = map[string]bool{
	"TemplateNotFound": true, "WarmPoolNotFound": true, "InvalidMetadata": true,
	"EnvVarsInjectionRejected": true, "VolumeClaimTemplatesError": true,
	"ClaimExpired": true, "SandboxExpired": true,
}

// Failure returns a FailedError when the claim is in a terminal state.
func Failure(c *extv1beta1.SandboxClaim) error {
	cond := ReadyCondition(c)
	if cond != nil && cond.Status == metav1.ConditionFalse && terminalReasons[cond.Reason] {
		return &FailedError{Name: c.Name, Reason: cond.Reason, Message: cond.Message}
	}
	return nil
}
