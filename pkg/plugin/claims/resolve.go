package claims

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	extclient "sigs.k8s.io/agent-sandbox/clients/k8s/extensions/clientset/versioned"
	extv1beta1 "sigs.k8s.io/agent-sandbox/extensions/api/v1beta1"
)

// NotReadyError reports a claim whose sandbox cannot take requests yet.
type NotReadyError struct {
	Name string
	// Reason is the Ready condition's reason and message, if any.
	Reason string
	// Waited is how long it was waited for (GetReadyWithin), if at all.
	Waited time.Duration
}

func (e *NotReadyError) Error() string {
	msg := fmt.Sprintf("sandboxclaim %q is not Ready", e.Name)
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	if e.Waited > 0 {
		msg += fmt.Sprintf(" after %s", e.Waited)
	}
	return msg
}

// notReady is the NotReadyError of claim c (named name).
func notReady(name string, c *extv1beta1.SandboxClaim) *NotReadyError {
	return &NotReadyError{Name: name, Reason: reason(ReadyCondition(c))}
}

// reason words a Ready condition for NotReadyError: "REASON: MESSAGE".
func reason(cond *metav1.Condition) string {
	switch {
	case cond == nil:
		return ""
	case cond.Message == "":
		return cond.Reason
	}
	return cond.Reason + ": " + cond.Message
}

// Get reads one claim; a claim that does not exist is a *NotFoundError.
func Get(ctx context.Context, client extclient.Interface, ns, name string) (*extv1beta1.SandboxClaim, error) {
	c, err := client.ExtensionsV1beta1().SandboxClaims(ns).Get(ctx, name, metav1.GetOptions{})
	if IsObjectNotFound(err) {
		return nil, &NotFoundError{Namespace: ns, Name: name}
	}
	if err != nil {
		return nil, fmt.Errorf("getting sandboxclaim %q: %w", name, err)
	}
	return c, nil
}

// GetReady reads a claim with one GET and checks that its sandbox is usable.
func GetReady(ctx context.Context, client extclient.Interface, ns, name string) (*extv1beta1.SandboxClaim, error) {
	c, err := Get(ctx, client, ns, name)
	if err != nil {
		return nil, err
	}
	if !IsReady(c) {
		return nil, notReady(name, c)
	}
	return c, nil
}

// ReasonDependenciesNotReady is the Ready=False reason of a claim whose
// sandbox's pod is not ready: starting, or failing its readiness probe
// for a while (a busy node).
const ReasonDependenciesNotReady = "DependenciesNotReady"

// PodNotReady says whether claim c is bound to its sandbox but not Ready
// because the sandbox's pod is not (ReasonDependenciesNotReady): it is
// starting, or failing its readiness probe for a while.
func PodNotReady(c *extv1beta1.SandboxClaim) bool {
	cond := ReadyCondition(c)
	return cond != nil && cond.Status != metav1.ConditionTrue && cond.Reason == ReasonDependenciesNotReady && SandboxName(c) != ""
}

// GetReadyWithin is GetReady, except that a claim bound to its sandbox
// whose pod is not ready (ReasonDependenciesNotReady) is waited for, up to
// grace, from the version read (no list). Other states fail at once, as
// GetReady's do; so does the end of the wait, with the claim's last reason.
func GetReadyWithin(ctx context.Context, client extclient.Interface, ns, name string, grace time.Duration) (*extv1beta1.SandboxClaim, error) {
	c, err := Get(ctx, client, ns, name)
	if err != nil {
		return nil, err
	}
	if IsReady(c) {
		return c, nil
	}
	if grace <= 0 || !PodNotReady(c) {
		return nil, notReady(name, c)
	}
	ready, err := waiter{client: client, ns: ns, name: name, cond: Ready, from: c.ResourceVersion, at: c}.wait(ctx, grace)
	var timeout *TimeoutError
	if errors.As(err, &timeout) {
		e := notReady(name, c)
		if timeout.Last != nil {
			e.Reason = reason(timeout.Last)
		}
		e.Waited = grace
		return nil, e
	}
	return ready, err
}

// List lists the claims of a namespace that match a label selector, sorted
// by name.
func List(ctx context.Context, client extclient.Interface, ns, selector string) ([]extv1beta1.SandboxClaim, error) {
	list, err := client.ExtensionsV1beta1().SandboxClaims(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("listing sandboxclaims: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items, nil
}

// PreferredIP returns the first IPv4 address (unmapping IPv4-mapped IPv6),
// else the first address.
func PreferredIP(ips []string) string {
	for _, ip := range ips {
		if p := net.ParseIP(ip); p != nil && p.To4() != nil {
			return p.To4().String()
		}
	}
	if len(ips) > 0 {
		return ips[0]
	}
	return ""
}
